"""The softmax family: losses over a class axis, and the stable softmax primitives."""

from .._core.registry import export
from . import losses

#: The public functions of the family, as the registry declares them.
__all__ = export("softmax", losses, globals())
