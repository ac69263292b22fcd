"""numbaloss: Numba-accelerated loss functions with fused gradients.

Every loss of ``torch.nn.functional`` (plus focal losses) for NumPy arrays on the
CPU, with value and gradient from one fused pass::

    >>> import numpy as np, numbaloss as nl
    >>> loss, grad = nl.mse_loss(np.array([1.0, 2.0]), np.array([0.0, 4.0]), return_grad=True)
    >>> float(loss), grad.tolist()
    (2.5, [1.0, -2.0])
"""

from . import functional
from ._core.parallel import get_num_threads, set_num_threads
from .functional import *  # noqa: F403
from .functional import __all__ as _functional_all
from .modules import *  # noqa: F403
from .modules import __all__ as _modules_all

__version__ = "0.1.0"

__all__ = ["functional", "get_num_threads", "set_num_threads", *_functional_all, *_modules_all]
