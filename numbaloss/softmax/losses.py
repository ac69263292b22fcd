"""The softmax family: cross entropy, NLL, focal loss, 0-1 loss, stable softmax, and
``linear_cross_entropy`` (a linear layer and cross entropy, chunked: :mod:`.linear`).

The class axis of the logits (axis 1, or axis 0 of a 1-D input) is moved last as a
view and the logits are handed to the kernels as a ``(rows, C)`` matrix, copied
only when that view is not C-contiguous (e.g. a ``(N, C, d1, ...)`` input, or
Fortran order).  Value and gradient come out of one pass over each row (see
:mod:`numbaloss.softmax.cpu`).  Arguments are validated by :mod:`.plans`, which the
CUDA back end (:mod:`.cuda`, taken for device arrays) shares.
"""

import numpy as np

from .._core import outputs, parallel
from .._core.registry import public
from .._core.validation import (
    HOST,
    as_array,
    compute_dtype,
    native,
    result_dtype,
)
from . import cpu, linear, plans, points

# --- layout --------------------------------------------------------------------


class _Logits:
    """The logits of one call as a ``(rows, C)`` matrix in compute dtype."""

    def __init__(self, x, name="input"):
        self.name = name
        self.shape = x.shape
        self.dtype = result_dtype(x)
        self.cdtype = compute_dtype(self.dtype)
        self.n_classes, self.loss_shape, self.rows = plans.class_axis(x, name)
        self.x = x
        self.matrix = self.as_rows(x, self.cdtype)

    def class_last(self, arr):
        """``arr`` (of the input's shape) with the class axis last, as a view."""
        return np.moveaxis(arr, 1, -1) if arr.ndim >= 3 else arr

    def as_rows(self, arr, dtype):
        arr = native(arr, dtype)
        return np.ascontiguousarray(self.class_last(arr)).reshape(self.rows, self.n_classes)

    def from_rows(self, matrix):
        """A ``(rows, C)`` matrix back in the input's shape (a view)."""
        moved = matrix.reshape(_moved_shape(self.shape))
        return np.moveaxis(moved, -1, 1) if len(self.shape) >= 3 else moved

    # The layout of :mod:`numbaloss._core.outputs`: gradients as ``(rows, C)`` matrices.
    @property
    def kernel_shape(self):
        return (self.rows, self.n_classes)

    def to_kernel(self, arr):
        return self.class_last(arr)

    def to_caller(self, buffer):
        return self.from_rows(buffer)


def _moved_shape(shape):
    return (shape[0], *shape[2:], shape[1]) if len(shape) >= 3 else shape


def _upstream(logits, reduction, grad_output):
    """``grad_output`` per row (an array) for ``'none'``, else a float."""
    if reduction == "none":
        if grad_output is None:
            return logits.cdtype.type(1)
        return outputs.upstream_rows(grad_output, logits.loss_shape, logits.cdtype)
    return outputs.upstream_scalar(grad_output)


def _class_targets(t):
    """Validated class-index targets as flat int64."""
    return np.ascontiguousarray(native(t, np.dtype(np.int64))).reshape(-1)


def _class_weight(w, logits):
    """Validated class weights (``None``: all 1) as a contiguous array of the compute dtype."""
    if w is None:
        return np.ones(logits.n_classes, dtype=logits.cdtype)
    return np.ascontiguousarray(native(w, logits.cdtype))


def _run_rows(
    kernel,
    logits,
    args,
    n_partials,
    reduction,
    return_grad,
    grad_out,
    readers,
    return_hess=False,
    hess_out=None,
):
    """Run a row kernel: ``kernel(*args, loss_out, grad, hess, block_rows, partials, start,
    stop)``.

    Returns ``(partial sums, per-row losses or None, gradient slot or None, Hessian
    slot or None)``.
    """
    block_rows = cpu.rows_per_block(logits.n_classes)
    nblocks = parallel.n_blocks(logits.rows, block_rows)
    partials = np.zeros((nblocks, n_partials), dtype=np.float64)
    loss_rows = np.empty(logits.rows if reduction == "none" else 0, dtype=logits.cdtype)
    slot = None
    if return_grad:
        (slot,) = outputs.grad_slots([logits.name], logits, grad_out, readers)
    hslot = None
    if return_hess:
        (hslot,) = outputs.hess_slots([logits.name], logits, hess_out, readers, grad_out)
    parallel.run_ranges(
        kernel,
        nblocks,
        block_rows * max(logits.n_classes, 1),
        *args,
        loss_rows,
        None if slot is None else slot.buffer,
        None if hslot is None else hslot.buffer,
        block_rows,
        partials,
    )
    totals = partials.sum(axis=0)
    return totals, loss_rows, slot, hslot


def _result(logits, reduction, value, loss_rows, slot, hslot=None):
    if reduction == "none":
        loss = outputs.loss_array(loss_rows, logits.loss_shape, logits.dtype)
    else:
        loss = outputs.scalar_loss(value, reduction, logits.dtype)
    return outputs.results(
        loss, None if slot is None else [slot], None if hslot is None else [hslot]
    )


def _index_loss(
    params,
    logits,
    target,
    weight,
    reduction,
    return_grad,
    grad_output,
    grad_out,
    return_hess=False,
    hess_out=None,
):
    """Cross entropy or focal loss with class-index targets (one fused pass)."""
    t = _class_targets(target)
    w = _class_weight(weight, logits)
    bad, w_total, _ = cpu.check_targets(t, w, params.ignore_index, logits.n_classes)
    if bad >= 0:
        raise ValueError(
            f"target {int(t[bad])} is out of bounds: class indices must be in "
            f"[0, {logits.n_classes}) or equal ignore_index={params.ignore_index}"
        )
    g = _upstream(logits, reduction, grad_output)
    if reduction == "mean":
        g = logits.cdtype.type(outputs.divide(g, w_total))
    elif reduction == "sum":
        g = logits.cdtype.type(g)
    kernel = cpu.index_tiles if logits.n_classes <= cpu.SMALL_C else cpu.index_rows
    w_sum = float(np.sum(w, dtype=np.float64))
    args = (params, logits.matrix, t, w, w_sum, g, g)
    totals, loss_rows, slot, hslot = _run_rows(
        kernel,
        logits,
        args,
        2,
        reduction,
        return_grad,
        grad_out,
        [logits.matrix],
        return_hess,
        hess_out,
    )
    value = totals[0] + totals[1]
    if reduction == "mean":
        value = outputs.divide(totals[0], w_total) + outputs.divide(totals[1], w_total)
    return _result(logits, reduction, value, loss_rows, slot, hslot)


def _prob_loss(
    logits,
    target,
    weight,
    label_smoothing,
    reduction,
    return_grad,
    grad_output,
    grad_out,
    return_hess=False,
    hess_out=None,
):
    """Cross entropy with class-probability targets."""
    prob = logits.as_rows(target, logits.cdtype)
    w = _class_weight(weight, logits)
    g = _upstream(logits, reduction, grad_output)
    if reduction == "mean":
        g = logits.cdtype.type(outputs.divide(g, logits.rows))
    elif reduction == "sum":
        g = logits.cdtype.type(g)
    args = (logits.matrix, prob, w, label_smoothing, g)
    totals, loss_rows, slot, hslot = _run_rows(
        cpu.prob_rows,
        logits,
        args,
        1,
        reduction,
        return_grad,
        grad_out,
        [logits.matrix, prob],
        return_hess,
        hess_out,
    )
    value = outputs.divide(totals[0], logits.rows) if reduction == "mean" else totals[0]
    return _result(logits, reduction, value, loss_rows, slot, hslot)


# --- public functions ---------------------------------------------------------------


@public
def cross_entropy(
    input,
    target,
    weight=None,
    ignore_index=-100,
    reduction="mean",
    label_smoothing=0.0,
    *,
    return_grad=False,
    grad_output=None,
    grad_out=None,
    return_hess=False,
    hess_out=None,
):
    r"""Cross entropy between softmax(``input``) and class indices or class probabilities.

    With class indices :math:`t_i`, weights :math:`w` and smoothing :math:`\varepsilon`:

    .. math:: \ell_i = (1 - \varepsilon)\, w_{t_i} (\mathrm{lse}(x_i) - x_{i t_i})
              + \frac{\varepsilon}{C} \sum_c w_c (\mathrm{lse}(x_i) - x_{ic})

    (0 where :math:`t_i` is ``ignore_index``).  ``'mean'`` divides the sum by
    :math:`\sum_{i \text{ not ignored}} w_{t_i}` (PyTorch's weighted mean; both terms,
    as in PyTorch 2.13), which is NaN when every target is ignored.  The gradient is

    .. math:: \partial \ell_i / \partial x_{ic} = p_{ic} \bigl((1-\varepsilon) w_{t_i}
              + \tfrac{\varepsilon}{C} \textstyle\sum_k w_k\bigr)
              - (1-\varepsilon) w_{t_i} [c = t_i] - \tfrac{\varepsilon}{C} w_c,

    with :math:`p_i = \operatorname{softmax}(x_i)`, and 0 for ignored rows.  With
    class probabilities :math:`y` (same shape as ``input``, floating) and
    :math:`q = (1-\varepsilon) y + \varepsilon / C`:
    :math:`\ell_i = \sum_c w_c q_{ic} (\mathrm{lse}(x_i) - x_{ic})`, gradient
    :math:`p_{ic} \sum_k w_k q_{ik} - w_c q_{ic}`; ``'mean'`` divides by the
    number of rows, and ``ignore_index`` does not apply (as in PyTorch).

    The diagonal of the Hessian with respect to the logits (``return_hess=True``) is
    :math:`p_{ic}(1 - p_{ic}) \bigl((1-\varepsilon) w_{t_i} + \tfrac{\varepsilon}{C}
    \sum_k w_k\bigr)` (0 for ignored rows), and with class probabilities
    :math:`p_{ic}(1 - p_{ic}) \sum_k w_k q_{ik}`: the terms linear in the logits
    drop out, and :math:`\partial^2 \mathrm{lse} / \partial x_c^2 = p_c (1 - p_c)`.

    Differences from PyTorch: class indices may be any integer dtype; an index out
    of range raises ``ValueError`` before anything is written (also into an
    in-place ``grad_out``); ``-log p_t`` is evaluated as ``log1p`` of the other
    classes' share, so confident rows keep their tiny loss instead of rounding to 0.

    Parameters
    ----------
    input : array_like
        Logits of shape ``(C)``, ``(N, C)`` or ``(N, C, d1, ..., dk)``.
    target : array_like
        Class indices of shape ``()``, ``(N)`` or ``(N, d1, ..., dk)`` (integers),
        or class probabilities of the input's shape (floating).
    weight : array_like, optional
        One weight per class, shape ``(C)``.
    ignore_index : int, optional
        Class-index target value that contributes nothing (and is not counted by
        ``'mean'``).
    reduction : {'mean', 'sum', 'none'}, optional
    label_smoothing : float, optional
        In [0, 1]; mixes the target with the uniform distribution.
    {grad_doc}
    Examples
    --------
    >>> import numbaloss as nl
    >>> loss, grad = nl.cross_entropy([[2.0, 0.0, 0.0]], [0], return_grad=True)
    >>> round(float(loss), 6), grad.round(4).tolist()
    (0.239545, [[-0.213, 0.1065, 0.1065]])
    """
    plan = plans.cross_entropy(
        HOST, input, target, weight, ignore_index, reduction, label_smoothing
    )
    return _class_loss(plan, return_grad, grad_output, grad_out, return_hess, hess_out)


def _class_loss(plan, return_grad, grad_output, grad_out, return_hess=False, hess_out=None):
    """Run a validated :class:`~.plans.ClassPlan` on the CPU."""
    logits = _Logits(plan.x)
    outs = (return_grad, grad_output, grad_out, return_hess, hess_out)
    if plan.kind == "prob":
        return _prob_loss(
            logits, plan.target, plan.weight, plan.label_smoothing, plan.reduction, *outs
        )
    if plan.kind == "nll":
        return _nll_loss(logits, plan, *outs)
    return _index_loss(plan.params, logits, plan.target, plan.weight, plan.reduction, *outs)


@public
def linear_cross_entropy(
    input,
    linear_weight,
    target,
    *,
    linear_bias=None,
    weight=None,
    reduction="mean",
    ignore_index=None,
    label_smoothing=0.0,
    chunk_size=None,
    return_grad=False,
    grad_output=None,
    grad_out=None,
):
    r"""Cross entropy of a linear layer's output, without ever forming the logits.

    The value is ``cross_entropy(input @ linear_weight.T + linear_bias, target, ...)``
    (PyTorch 2.13's ``torch.nn.functional.linear_cross_entropy``): with logits
    :math:`z_i = W x_i + b`, class indices :math:`t_i`, class weights :math:`w` and
    smoothing :math:`\varepsilon`,

    .. math:: \ell_i = (1 - \varepsilon)\, w_{t_i} (\mathrm{lse}(z_i) - z_{i t_i})
              + \frac{\varepsilon}{C} \sum_c w_c (\mathrm{lse}(z_i) - z_{ic}),

    reduced as :func:`cross_entropy` reduces (``'mean'`` divides by the summed weight
    of the targets that are not ignored; NaN when all are ignored).  With
    :math:`G = \partial \ell / \partial z` (:func:`cross_entropy`'s gradient, scaled
    by ``grad_output``) the gradients are

    .. math:: \frac{\partial}{\partial x} = G W, \qquad
              \frac{\partial}{\partial W} = G^\top x, \qquad
              \frac{\partial}{\partial b} = \textstyle\sum_i G_i .

    The rows are processed ``chunk_size`` at a time: each chunk's logits go into one
    reused ``(chunk_size, C)`` buffer (a BLAS product), the cross-entropy kernel of
    :func:`cross_entropy` turns them into their gradient in place, and two more BLAS
    products add the chunk's share of the gradients.  The ``N x C`` logits (and
    their gradient) never exist: the memory beyond the arguments and the gradients
    is the buffer.  See :doc:`/linear_cross_entropy` for the memory picture and the
    choice of ``chunk_size``.

    ``return_grad=True`` returns ``(loss, (grad_input, grad_linear_weight))``, with
    ``grad_linear_bias`` third when ``linear_bias`` is given; ``grad_out`` is a tuple
    in the same order (``grad_out=(input, ...)`` writes the input's gradient over
    the input).  Each gradient has its argument's shape and the result dtype (NumPy's
    ``result_type`` of ``input``, ``linear_weight`` and ``linear_bias``); float16 is
    computed in float32 (the weight copied once, the products in float32) and
    returned as float16.

    Differences from PyTorch: PyTorch's ``options`` (the configuration of its
    chunked path) is replaced by ``chunk_size``: numbaloss always chunks.  Its
    chunked path supports neither class probabilities nor label smoothing nor the
    K-dimensional form (it falls back to the reference path); numbaloss chunks all
    of them.  Class indices may be any integer dtype.  With every target ignored
    and ``'mean'``, the gradients are 0 (PyTorch's reference path; its chunked
    path gives NaN).  Errors are ``ValueError``/``TypeError`` where PyTorch raises
    ``RuntimeError``.

    Parameters
    ----------
    input : array_like
        Features of shape ``(in_features)`` or ``(N, in_features)``.
    linear_weight : array_like
        Shape ``(C, in_features)``, or ``(C, d1, ..., dk, in_features)`` for the
        K-dimensional loss (logits ``(N, C, d1, ..., dk)``, a softmax over ``C`` at
        each position; needs a 2-D ``input``).
    target : array_like
        Class indices (integers) of shape ``()`` (1-D input), ``(N)`` or
        ``(N, d1, ..., dk)``; or class probabilities (floating) of the logits' shape
        ``(C)``, ``(N, C)`` or ``(N, C, d1, ..., dk)``.
    linear_bias : array_like, optional
        Shape ``(C)`` or ``(C, d1, ..., dk)``.
    weight : array_like, optional
        One weight per class, shape ``(C)``.
    reduction : {'mean', 'sum', 'none'}, optional
    ignore_index : int, optional
        Class-index target value that contributes nothing; ``None`` means -100.  Not
        allowed with class probabilities (``ValueError``), as in PyTorch.
    label_smoothing : float, optional
        In [0, 1]; mixes the target with the uniform distribution.
    chunk_size : int, optional
        Rows of ``input`` per chunk.  ``None`` chooses it from the number of logits
        per row and the dtype: a buffer of about 32 MiB, and at least 256 rows.
    {grad_doc}
    Examples
    --------
    >>> import numpy as np, numbaloss as nl
    >>> x = np.array([[1.0, 0.0], [0.0, 2.0]])
    >>> w = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    >>> loss, (gx, gw) = nl.linear_cross_entropy(x, w, np.array([0, 2]), return_grad=True)
    >>> round(float(loss), 6), gx.shape, gw.shape
    (0.810309, (2, 2), (3, 2))
    """
    plan = plans.linear_cross_entropy(
        HOST,
        input,
        linear_weight,
        target,
        linear_bias,
        weight,
        reduction,
        ignore_index,
        label_smoothing,
        chunk_size,
    )
    return linear.run(plan, return_grad, grad_output, grad_out)


@public
def focal_loss(
    input,
    target,
    gamma=2.0,
    weight=None,
    ignore_index=-100,
    reduction="mean",
    *,
    return_grad=False,
    grad_output=None,
    grad_out=None,
    return_hess=False,
    hess_out=None,
):
    r"""Softmax (multi-class) focal loss.

    .. math:: \ell_i = -w_{t_i} (1 - p_{i t_i})^{\gamma} \log p_{i t_i}, \qquad
              p_i = \operatorname{softmax}(x_i)

    (0 where :math:`t_i` is ``ignore_index``); ``'mean'`` divides by the summed
    weight of the targets that are not ignored, as :func:`cross_entropy` does.
    ``(1 - p_t)^\gamma`` is computed in log space from the log-sum-exp, with
    :math:`1 - p_t` summed from the other classes, so confident logits and
    :math:`0 < \gamma < 1` give finite values and gradients.  The gradient is

    .. math:: \partial \ell_i / \partial x_{ic} = F_i (p_{ic} - [c = t_i]), \quad
              F_i = w_{t_i} \bigl((1-p_t)^{\gamma}
              - \gamma p_t (1-p_t)^{\gamma-1} \log p_t\bigr).

    The diagonal of the Hessian with respect to the logits (``return_hess=True``),
    with :math:`p = p_{i t_i}` and :math:`q = 1 - p`, is

    .. math:: \partial^2 \ell_i / \partial x_{ic}^2 = F_i\, p_{ic} (1 - p_{ic})
              + K_i r_{ic}^2, \quad
              K_i = w_{t_i} p\, q^{\gamma} \bigl(\gamma (2 + \log p) q
              - \gamma (\gamma - 1) p \log p\bigr),

    with :math:`r_{i t_i} = 1` and :math:`r_{ic} = -p_{ic} / q` for the other
    classes (0 for ignored rows).

    ``gamma=0`` runs :func:`cross_entropy` itself, so the two agree exactly.
    PyTorch has no focal loss; it equals the composite
    ``nll_loss((1 - p)**gamma * log_softmax(x), t, weight, ...)``.

    Parameters
    ----------
    input : array_like
        Logits of shape ``(C)``, ``(N, C)`` or ``(N, C, d1, ..., dk)``.
    target : array_like
        Class indices (integers) of shape ``()``, ``(N)`` or ``(N, d1, ..., dk)``.
    gamma : float, optional
        Focusing parameter, non-negative.
    weight : array_like, optional
        One weight per class (the focal loss paper's alpha), shape ``(C)``.
    ignore_index : int, optional
    reduction : {'mean', 'sum', 'none'}, optional
    {grad_doc}
    Examples
    --------
    >>> import numbaloss as nl
    >>> round(float(nl.focal_loss([[2.0, 0.0, 0.0]], [0])), 6)
    0.010869
    """
    plan = plans.focal_loss(HOST, input, target, gamma, weight, ignore_index, reduction)
    return _class_loss(plan, return_grad, grad_output, grad_out, return_hess, hess_out)


@public
def nll_loss(
    input,
    target,
    weight=None,
    ignore_index=-100,
    reduction="mean",
    *,
    return_grad=False,
    grad_output=None,
    grad_out=None,
    return_hess=False,
    hess_out=None,
):
    r"""Negative log likelihood of class indices under log-probabilities ``input``.

    .. math:: \ell_i = -w_{t_i} x_{i t_i}, \qquad
              \partial \ell_i / \partial x_{ic} = -w_{t_i} [c = t_i]

    (0 where :math:`t_i` is ``ignore_index``); ``'mean'`` divides by the summed
    weight of the targets that are not ignored (NaN when all are ignored), as
    PyTorch does.  Class indices may be any integer dtype.  The loss is linear in
    ``input``: the Hessian's diagonal (``return_hess=True``) is 0.

    Parameters
    ----------
    input : array_like
        Log-probabilities of shape ``(C)``, ``(N, C)`` or ``(N, C, d1, ..., dk)``.
    target : array_like
        Class indices (integers) of shape ``()``, ``(N)`` or ``(N, d1, ..., dk)``.
    weight : array_like, optional
        One weight per class, shape ``(C)``.
    ignore_index : int, optional
    reduction : {'mean', 'sum', 'none'}, optional
    {grad_doc}
    Examples
    --------
    >>> import numbaloss as nl
    >>> float(nl.nll_loss([[-0.5, -1.0], [-2.0, -0.1]], [0, 1]))
    0.3
    """
    plan = plans.nll_loss(HOST, input, target, weight, ignore_index, reduction)
    return _class_loss(plan, return_grad, grad_output, grad_out, return_hess, hess_out)


def _nll_loss(logits, plan, return_grad, grad_output, grad_out, return_hess=False, hess_out=None):
    """Negative log likelihood of a validated plan."""
    reduction, ignore_index = plan.reduction, plan.ignore_index
    t = _class_targets(plan.target)
    w = _class_weight(plan.weight, logits)
    bad, w_total, _ = cpu.check_targets(t, w, ignore_index, logits.n_classes)
    if bad >= 0:
        raise ValueError(
            f"target {int(t[bad])} is out of bounds: class indices must be in "
            f"[0, {logits.n_classes}) or equal ignore_index={ignore_index}"
        )
    g = _upstream(logits, reduction, grad_output)
    if reduction == "mean":
        g = logits.cdtype.type(outputs.divide(g, w_total))
    elif reduction == "sum":
        g = logits.cdtype.type(g)
    args = (logits.matrix, t, w, ignore_index, g)
    totals, loss_rows, slot, hslot = _run_rows(
        cpu.nll_rows,
        logits,
        args,
        1,
        reduction,
        return_grad,
        grad_out,
        [logits.matrix],
        return_hess,
        hess_out,
    )
    value = outputs.divide(totals[0], w_total) if reduction == "mean" else totals[0]
    return _result(logits, reduction, value, loss_rows, slot, hslot)


@public
def zero_one_loss(
    input, target, reduction="mean", *, return_grad=False, grad_output=None, grad_out=None
):
    r"""Fraction (or number) of misclassified samples.

    .. math:: \ell_i = [\hat y_i \ne t_i], \qquad
              \hat y_i = \operatorname{argmax}_c x_{ic} \text{ (scores) or } x_i \text{ (labels)}

    Ties in the scores go to the first class (NumPy's ``argmax``; a NaN score
    counts as the largest).  The loss is piecewise constant and has no useful
    gradient: ``return_grad=True`` raises ``ValueError``.  Not in PyTorch (like
    scikit-learn's ``zero_one_loss``).

    Parameters
    ----------
    input : array_like
        Scores of shape ``(N, C)``, or predicted labels of shape ``(N)``.
    target : array_like
        True labels, shape ``(N)``.
    reduction : {'mean', 'sum', 'none'}, optional
        ``'mean'``: the fraction misclassified (NaN for no samples); ``'sum'``:
        their number; ``'none'``: 0/1 per sample.
    return_grad, grad_output, grad_out
        Accepted for uniformity; ``return_grad=True`` raises ``ValueError``.

    Returns
    -------
    loss : ndarray or NumPy scalar
        Of the input's floating dtype (float64 for integer inputs).

    Examples
    --------
    >>> import numbaloss as nl
    >>> float(nl.zero_one_loss([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]], [1, 1, 1]))
    0.3333333333333333
    """
    plan = plans.zero_one_loss(HOST, input, target, reduction, return_grad)
    x, t = plan.x, plan.target
    dtype = result_dtype(x)
    if x.ndim == 2:
        pred = np.argmax(x, axis=1) if x.shape[0] else np.zeros(0, dtype=np.int64)
    else:
        pred = x
    wrong = (pred != t).astype(dtype)
    if reduction == "none":
        return wrong
    total = np.sum(wrong, dtype=np.float64)
    if reduction == "mean":
        total = outputs.divide(total, wrong.size)
    return outputs.scalar_loss(total, reduction, dtype)


# --- stable primitives -----------------------------------------------------------------


def _primitive_rows(x, axis, name):
    """``(rows matrix, moved shape, axes)`` of ``x`` with ``axis`` moved last."""
    arr = as_array(x, name)
    dtype = result_dtype(arr)
    axes, dest = plans.primitive_axes(arr.ndim, axis)
    moved = np.moveaxis(native(arr, compute_dtype(dtype)), axes, dest)
    width = int(np.prod(moved.shape[moved.ndim - len(axes) :], dtype=np.int64))
    rows = int(np.prod(moved.shape[: moved.ndim - len(axes)], dtype=np.int64))
    matrix = np.ascontiguousarray(moved).reshape(rows, width)
    return matrix, moved.shape, axes, dest, dtype


def _run_primitive(kind, x, axis, name):
    matrix, moved_shape, axes, dest, dtype = _primitive_rows(x, axis, name)
    width = 1 if kind == points.LOGSUMEXP else matrix.shape[1]
    out = np.empty((matrix.shape[0], width), dtype=matrix.dtype)
    parallel.run_ranges(cpu.softmax_rows, matrix.shape[0], matrix.shape[1], matrix, kind, out)
    return out, moved_shape, axes, dest, dtype


@public
def logsumexp(a, axis=None, *, keepdims=False):
    r"""``log(sum(exp(a)))`` along ``axis``, without overflow (SciPy's convention).

    .. math:: \mathrm{lse}(a) = m + \log \sum_j e^{a_j - m}, \qquad m = \max_j a_j

    A row with ``+inf`` gives ``+inf``, all ``-inf`` gives ``-inf``, NaN gives NaN,
    as ``scipy.special.logsumexp``.  Its gradient is :func:`softmax`.  SciPy's
    ``b`` and ``return_sign`` are not supported.

    Parameters
    ----------
    a : array_like
        Input values; float16 is computed in float32.
    axis : None or int or tuple of ints, optional
        Axes to reduce; ``None`` reduces all.
    keepdims : bool, optional
        Keep the reduced axes with length 1 (keyword-only: SciPy's third
        positional parameter is ``b``).

    Returns
    -------
    ndarray or NumPy scalar

    Examples
    --------
    >>> import numbaloss as nl
    >>> float(nl.logsumexp([1000.0, 1000.0]))
    1000.6931471805599
    """
    out, moved_shape, axes, dest, dtype = _run_primitive(points.LOGSUMEXP, a, axis, "a")
    kept = moved_shape[: len(moved_shape) - len(axes)]
    result = out.reshape(kept)
    if keepdims:
        result = np.expand_dims(result, axes)
    result = result.astype(dtype, copy=False)
    return dtype.type(result[()]) if result.ndim == 0 else result


def _unmove(out, moved_shape, axes, dest, dtype):
    result = np.moveaxis(out.reshape(moved_shape), dest, axes)
    result = result.astype(dtype, copy=False)
    return dtype.type(result[()]) if result.ndim == 0 else result


@public
def log_softmax(x, axis=None):
    r"""Logarithm of :func:`softmax`, accurate where softmax saturates (SciPy's convention).

    .. math:: \log \operatorname{softmax}(x)_j = (x_j - m) - \log \sum_k e^{x_k - m}

    with :math:`m` the maximum along ``axis`` (0 where it is not finite, as in
    SciPy, so ``+inf``/``-inf`` entries give what ``scipy.special.log_softmax``
    gives).

    Parameters
    ----------
    x : array_like
    axis : None or int or tuple of ints, optional
        Axes the softmax runs over; ``None`` (all) as in SciPy.

    Returns
    -------
    ndarray or NumPy scalar
        Of ``x``'s shape.

    Examples
    --------
    >>> import numbaloss as nl
    >>> nl.log_softmax([1000.0, 1.0]).tolist()
    [0.0, -999.0]
    """
    return _unmove(*_run_primitive(points.LOG_SOFTMAX, x, axis, "x"))


@public
def softmax(x, axis=None):
    r"""Softmax along ``axis``, shifted by the maximum (SciPy's convention).

    .. math:: \operatorname{softmax}(x)_j = e^{x_j - m} / \sum_k e^{x_k - m}

    Any finite input is safe; a row with ``+inf`` gives NaN, as in SciPy.

    Parameters
    ----------
    x : array_like
    axis : None or int or tuple of ints, optional
        Axes the softmax runs over; ``None`` (all) as in SciPy.

    Returns
    -------
    ndarray or NumPy scalar
        Of ``x``'s shape; sums to 1 along ``axis``.

    Examples
    --------
    >>> import numbaloss as nl
    >>> nl.softmax([0.0, 0.0]).tolist()
    [0.5, 0.5]
    """
    return _unmove(*_run_primitive(points.SOFTMAX, x, axis, "x"))
