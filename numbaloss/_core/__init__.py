"""Shared core: argument validation, the block scheduler, vectorizable math, dispatch."""
