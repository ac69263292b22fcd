"""The softmax losses at one row, for users' own ``@njit`` code (:mod:`numbaloss.jit`).

One function per loss of the family with a Hessian's diagonal, named as the loss:
its arguments are one row of logits (1-D), the row's target (a class index, or for
``cross_entropy`` a row of class probabilities), the loss's options as in its
public signature (``weight`` a 1-D array of class weights or ``None``) and two
optional 1-D outputs, ``grad_out`` and ``hess_out``, into which the gradient and the
Hessian's diagonal with respect to the logits are written.  Each returns the row's
loss, in the logits' dtype.

The row is computed as one row of the CPU kernels (:mod:`.cpu`): the maximum,
``e_t`` and ``s_rest``, then the per-row math of :mod:`.points`
(:func:`~.points.row_terms`, :func:`~.points.row_hess_terms`, ...), so that nothing
here repeats a formula.  ``exp(x_c - m)`` is kept in an output row between the
passes (as the kernels keep it in a scratch row), so ``grad_out`` or ``hess_out``
may be the logits themselves; not each other.  A class index outside ``[0, C)``
that is not ``ignore_index`` raises ``IndexError``.  These are :func:`kernel_jit`
functions, called (not inlined) from a caller's ``@njit`` code.
"""

import numpy as np
from numba import types

from .._core.vecmath import exp
from .._jit import jit_overload, kernel_jit
from .points import (
    CrossEntropy,
    Focal,
    log_sum,
    prob_loss,
    prob_weight,
    row_hess,
    row_hess_terms,
    row_terms,
    target_grad,
    target_hess,
)


def _class_weight(weight, c, x):
    """``weight[c]`` in the logits' dtype, 1 where ``weight`` is ``None``."""
    return x.dtype.type(1 if weight is None else weight[c])


@jit_overload(_class_weight)
def _ov_class_weight(weight, c, x):
    if weight is None or isinstance(weight, (types.NoneType, types.Omitted)):
        return lambda weight, c, x: x.dtype.type(1)
    return lambda weight, c, x: x.dtype.type(weight[c])


@kernel_jit
def _check_row(x, grad, hess):
    """Refuse outputs of another length than the row (``ValueError``)."""
    n = x.shape[0]
    if grad is not None and grad.shape[0] != n:
        raise ValueError("grad_out must have the length of the row of logits")
    if hess is not None and hess.shape[0] != n:
        raise ValueError("hess_out must have the length of the row of logits")


@kernel_jit
def _row_max(x):
    m = x[0]
    for c in range(1, x.shape[0]):
        v = x[c]
        m = v if v > m else m
    return m


@kernel_jit
def _index_row(params, x, t, weight, grad, hess):
    """Cross entropy or focal loss (``params``) of the row ``x`` with class index ``t``.

    One row of :func:`numbaloss.softmax.cpu.index_rows` with ``grad_output`` 1.
    """
    _check_row(x, grad, hess)
    n = x.shape[0]
    zero = x.dtype.type(0)
    one = x.dtype.type(1)
    if t == params.ignore_index:
        if grad is not None:
            for c in range(n):
                grad[c] = zero
        if hess is not None:
            for c in range(n):
                hess[c] = zero
        return zero
    if t < 0 or t >= n:
        raise IndexError("target is out of bounds: class indices must be in [0, C) or ignore_index")
    smoothing = params.smoothing != 0
    m = _row_max(x)
    x_t = x[t]
    w_t = _class_weight(weight, t, x)
    e_t = exp(x_t - m)
    w_sum = 0.0
    sd = zero
    for c in range(n):
        w_c = _class_weight(weight, c, x)
        w_sum += np.float64(w_c)
        if smoothing:
            sd += w_c * (m - x[c])
    # exp(x_c - m) (0 at the target) into an output row, read again below
    s_rest = zero
    if grad is not None:
        for c in range(n):
            e = exp(x[c] - m)
            e = zero if c == t else e
            grad[c] = e
            s_rest += e
    elif hess is not None:
        for c in range(n):
            e = exp(x[c] - m)
            e = zero if c == t else e
            hess[c] = e
            s_rest += e
    else:
        for c in range(n):
            e = exp(x[c] - m)
            s_rest += zero if c == t else e
    log_s = log_sum(e_t, s_rest)
    nll = (m - x_t) + log_s
    part0, part1, big_a, big_b, big_d = row_terms(
        params, n, log_s, nll, e_t, s_rest, sd, w_t, w_sum, one, one
    )
    if hess is not None:
        k = row_hess_terms(params, n, log_s, nll, e_t, s_rest, sd, w_t, w_sum, one, one)
        s = e_t + s_rest
        a_s2 = big_a / (s * s)
        inv_rest = one / s_rest if s_rest > 0 else zero
        if grad is not None:
            for c in range(n):
                hess[c] = row_hess(grad[c], s, a_s2, k, inv_rest)
        else:
            for c in range(n):
                hess[c] = row_hess(hess[c], s, a_s2, k, inv_rest)
        hess[t] = target_hess(e_t, s_rest, a_s2, k)
    if grad is not None:
        scale = big_a / (e_t + s_rest)
        if smoothing:
            for c in range(n):
                grad[c] = grad[c] * scale - big_d * _class_weight(weight, c, x)
        else:
            for c in range(n):
                grad[c] = grad[c] * scale
        grad[t] = target_grad(e_t, s_rest, big_a, big_b, big_d * w_t)
    return x.dtype.type(part0 + part1)


@kernel_jit
def _prob_row(x, prob, weight, smoothing, grad, hess):
    """Cross entropy of the row ``x`` with class probabilities ``prob``.

    One row of :func:`numbaloss.softmax.cpu.prob_rows` with ``grad_output`` 1.
    """
    _check_row(x, grad, hess)
    n = x.shape[0]
    if prob.shape[0] != n:
        raise ValueError("a row of class probabilities must have the length of the row of logits")
    keep = 1 - smoothing
    spread = smoothing / max(n, 1)
    if n == 0:
        return x.dtype.type(0)
    m = _row_max(x)
    s = x.dtype.type(0)
    big_s = x.dtype.type(0)
    dot = x.dtype.type(0)
    for c in range(n):
        xc = x[c]
        wq = prob_weight(_class_weight(weight, c, x), prob[c], keep, spread)
        big_s += wq
        dot += wq * (m - xc)
        s += exp(xc - m)
    loss = prob_loss(dot, big_s, s)
    if hess is not None:
        a_s2 = big_s / (s * s)
        for c in range(n):
            e = exp(x[c] - m)
            hess[c] = e * (a_s2 * (s - e))
    if grad is not None:
        scale = big_s / s
        for c in range(n):
            wq = prob_weight(_class_weight(weight, c, x), prob[c], keep, spread)
            grad[c] = exp(x[c] - m) * scale - wq
    return x.dtype.type(loss)


def _cross_entropy_row(x, target, weight, ignore_index, label_smoothing, grad, hess):
    """Cross entropy of one row: class index (an integer) or class probabilities (an array)."""
    if np.ndim(target):
        return _prob_row(x, target, weight, float(label_smoothing), grad, hess)
    params = CrossEntropy(ignore_index, float(label_smoothing))
    return _index_row(params, x, target, weight, grad, hess)


@jit_overload(_cross_entropy_row, inline=False)
def _ov_cross_entropy_row(x, target, weight, ignore_index, label_smoothing, grad, hess):
    if isinstance(target, types.Array):

        def prob(x, target, weight, ignore_index, label_smoothing, grad, hess):
            return _prob_row(x, target, weight, float(label_smoothing), grad, hess)

        return prob
    if isinstance(target, types.Integer):

        def index(x, target, weight, ignore_index, label_smoothing, grad, hess):
            params = CrossEntropy(ignore_index, float(label_smoothing))
            return _index_row(params, x, target, weight, grad, hess)

        return index
    return None


# --- the losses ------------------------------------------------------------------------


@kernel_jit
def cross_entropy(
    input, target, weight=None, ignore_index=-100, label_smoothing=0.0, grad_out=None, hess_out=None
):
    return _cross_entropy_row(
        input, target, weight, ignore_index, label_smoothing, grad_out, hess_out
    )


@kernel_jit
def focal_loss(
    input, target, gamma=2.0, weight=None, ignore_index=-100, grad_out=None, hess_out=None
):
    # the parameter tuples of focal_loss's plan: cross entropy at gamma 0
    if gamma == 0:
        return _index_row(
            CrossEntropy(ignore_index, 0.0), input, target, weight, grad_out, hess_out
        )
    params = Focal(ignore_index, 0.0, float(gamma))
    return _index_row(params, input, target, weight, grad_out, hess_out)


@kernel_jit
def nll_loss(input, target, weight=None, ignore_index=-100, grad_out=None, hess_out=None):
    """One row of :func:`numbaloss.softmax.cpu.nll_rows` (its Hessian's diagonal is 0)."""
    _check_row(input, grad_out, hess_out)
    n = input.shape[0]
    zero = input.dtype.type(0)
    ignored = target == ignore_index
    if not ignored and (target < 0 or target >= n):
        raise IndexError("target is out of bounds: class indices must be in [0, C) or ignore_index")
    w_t = zero if ignored else _class_weight(weight, target, input)
    loss = zero if ignored else -w_t * input[target]
    if grad_out is not None:
        for c in range(n):
            grad_out[c] = zero
        if not ignored:
            grad_out[target] = -w_t
    if hess_out is not None:
        for c in range(n):
            hess_out[c] = zero
    return loss
