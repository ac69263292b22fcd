"""Helpers shared by the benchmark modules."""

import numpy as np


def torch_or_skip(threads=None):
    """Import PyTorch for a baseline; asv skips a benchmark whose setup raises NotImplementedError."""
    try:
        import torch
    except ImportError as exc:
        raise NotImplementedError("PyTorch is not installed") from exc
    import numbaloss

    torch.set_num_threads(threads or numbaloss.get_num_threads())
    return torch


def cuda_or_skip():
    """``numba.cuda`` for a GPU benchmark; asv skips it (NotImplementedError in setup) without one."""
    try:
        from numba import cuda
    except ImportError as exc:
        raise NotImplementedError("numba's CUDA support is not installed") from exc
    if not cuda.is_available():
        raise NotImplementedError("no usable CUDA GPU")
    return cuda


def as_tuple(g):
    return g if isinstance(g, tuple) else (g,)


def rng():
    return np.random.default_rng(2026)
