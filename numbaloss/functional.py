"""The functional API, as in ``torch.nn.functional`` (also at the top level)."""

from .ctc import *  # noqa: F403
from .ctc import __all__ as _ctc_all
from .elementwise import *  # noqa: F403
from .elementwise import __all__ as _elementwise_all
from .margin import *  # noqa: F403
from .margin import __all__ as _margin_all
from .softmax import *  # noqa: F403
from .softmax import __all__ as _softmax_all

__all__ = [*_elementwise_all, *_ctc_all, *_softmax_all, *_margin_all]
