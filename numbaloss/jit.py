"""numbaloss's losses at one element or one row, callable from your own ``@njit`` code.

Every loss of numbaloss with a Hessian's diagonal (``return_hess=True``) is here,
under its own name, as a compiled function usable inside a user's ``@numba.njit``
function (and from Python)::

    >>> import numpy as np
    >>> from numba import njit
    >>> import numbaloss.jit as nlj
    >>> @njit
    ... def huber_objective(pred, y, delta):
    ...     grad = np.empty_like(pred)
    ...     hess = np.empty_like(pred)
    ...     for i in range(pred.size):
    ...         _, grad[i], hess[i] = nlj.huber_loss(pred[i], y[i], delta)
    ...     return grad, hess
    >>> grad, hess = huber_objective(np.array([0.5, 3.0]), np.array([0.0, 0.0]), 1.0)
    >>> grad.tolist(), hess.tolist()
    ([0.5, 1.0], [1.0, 0.0])

* An elementwise loss takes one element of each operand (scalars) and its options,
  and returns ``(loss, grad, hess)``: the value, the derivative and the second
  derivative of that element's loss (pairs for the two predictions of
  ``gaussian_nll_loss`` and ``margin_ranking_loss``).
* A softmax loss (``cross_entropy``, ``focal_loss``, ``nll_loss``) takes one row of
  logits and its target, writes the gradient and the Hessian's diagonal into the
  optional 1-D arrays ``grad_out`` and ``hess_out``, and returns the row's loss.

The arguments are those of the public function without ``reduction`` and the
gradient keywords; the user's guide is ``docs/jit.rst`` ("Calling numbaloss from your
@njit code").  The names are those of the registry
(:func:`numbaloss._core.registry.names` with a Hessian), each implemented by its
family's ``jit`` module (``numbaloss.<family>.jit``).  Importing this module
compiles nothing: each function is compiled for the argument types of its first
call (and cached on disk), or inside the caller's own compilation.
"""

import importlib

from ._core import registry


def _export(namespace):
    exported = []
    for family in registry.FAMILIES:
        names = registry.names(family, with_hessian=True)
        if not names:
            continue
        module = importlib.import_module(f"numbaloss.{family}.jit")
        for name in names:
            if not hasattr(module, name):
                raise AttributeError(
                    f"{module.__name__} does not define {name!r}, a loss with a Hessian "
                    "declared in the registry"
                )
            namespace[name] = getattr(module, name)
        exported += names
    return exported


__all__ = _export(globals())
