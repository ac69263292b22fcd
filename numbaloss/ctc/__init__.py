"""Sequence losses: Connectionist Temporal Classification."""

from .._core.registry import export
from . import losses

#: The public functions of the family, as the registry declares them.
__all__ = export("ctc", losses, globals())
