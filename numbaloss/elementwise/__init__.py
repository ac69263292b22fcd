"""Elementwise losses: one loss value per element of the input."""

from .._core.registry import export
from . import losses

#: The public functions of the family, as the registry declares them.
__all__ = export("elementwise", losses, globals())
