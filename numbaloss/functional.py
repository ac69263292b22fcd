"""The functional API, as in ``torch.nn.functional`` (also at the top level)."""

from .elementwise import *  # noqa: F403
from .elementwise import __all__ as _elementwise_all
from .margin import *  # noqa: F403
from .margin import __all__ as _margin_all

__all__ = [*_elementwise_all, *_margin_all]
