"""Margin and embedding losses: multi-class margins and metric learning, row by row."""

from .._core.registry import export
from . import losses

#: The public functions of the family, as the registry declares them.
__all__ = export("margin", losses, globals())
