"""The margin and embedding losses: one value per row of scores or embeddings.

Every function takes array_like arguments and returns NumPy results, with the common
keywords ``reduction``, ``return_grad``, ``grad_output`` and ``grad_out`` (see the
package docs).  The losses work on rows: ``(N, C)`` class scores or ``(N, D)``
embeddings, or one unbatched row ``(C,)``/``(D,)`` as PyTorch accepts it.  One fused
pass per row gives the row's loss and writes its gradient; per-row losses are summed
in row order in float64, so results are bitwise identical for any number of threads.
"""

import numpy as np
from numba.core.registry import CPUDispatcher

from .._core import outputs, parallel
from .._core.driver import Operands
from .._core.registry import public
from .._core.validation import (
    HOST,
    as_array,
    check_bool,
    compute_dtype,
    native,
    result_dtype,
)
from . import cpu, plans, points

# --- argument handling ---------------------------------------------------------------------


def _row_matrix(arr, n_rows, width, cdtype):
    """``arr`` as a C-contiguous ``(n_rows, width)`` array in the compute dtype."""
    return np.ascontiguousarray(native(arr, cdtype)).reshape(n_rows, width)


def _first_bad_index(target, n_classes, lowest):
    t = np.asarray(target).reshape(-1)
    bad = (t < lowest) | (t >= n_classes)
    return t[np.flatnonzero(bad)[0]]


def _per_class_weight(weight, n_classes, cdtype):
    """A plan's ``weight`` (an array checked by :func:`.plans.class_weight`) as ``(C,)``
    in the compute dtype; ones when ``None``."""
    if weight is None:
        return np.ones(n_classes, dtype=cdtype)
    return np.ascontiguousarray(native(weight, cdtype))


class _RowCall:
    """The outputs of one call of a row kernel.

    ``preds`` are ``(name, array)`` pairs of the predictions (C-contiguous, in the
    compute dtype, of the caller's shapes) that get gradients, all with ``n_rows *
    width`` elements; ``loss_shape`` is PyTorch's unreduced shape.
    """

    def __init__(
        self,
        preds,
        dtype_from,
        loss_shape,
        n_rows,
        width,
        *,
        reduction,
        return_grad,
        grad_output,
        grad_out,
    ):
        self.ops = Operands(preds[0][1], dtype_from)
        self.cdtype = cdtype = self.ops.cdtype
        self.reduction = reduction
        self.loss_shape = tuple(loss_shape)
        self.n_rows = n_rows
        self.return_grad = check_bool(return_grad, "return_grad")
        self.loss_rows = np.zeros(n_rows, dtype=np.float64)
        if reduction == "none":
            if grad_output is None:
                self.gout = np.ones(n_rows, dtype=cdtype)
            else:
                self.gout = outputs.upstream_rows(grad_output, self.loss_shape, cdtype)
        else:
            g = outputs.upstream_scalar(grad_output)
            if reduction == "mean" and n_rows:
                g = g / n_rows
            self.gout = np.full(n_rows, g, dtype=cdtype)
        self.targets = []
        if self.return_grad:
            names = [name for name, _ in preds]
            readers = [arr for _, arr in preds]
            self.targets = outputs.grad_slots(names, self.ops, grad_out, readers)
            self.buffers = [t.buffer.reshape(n_rows, width) for t in self.targets]
        else:
            empty = np.empty((0, width), dtype=cdtype)
            self.buffers = [empty] * len(preds)

    def finish(self):
        """The loss as the caller gets it, and the gradients with ``return_grad``."""
        dtype = self.ops.dtype
        if self.reduction == "none":
            loss = outputs.loss_array(self.loss_rows, self.loss_shape, dtype)
        else:
            loss = outputs.reduced_loss(self.loss_rows.sum(), self.reduction, self.n_rows, dtype)
        return outputs.results(loss, self.targets if self.return_grad else None)


def _row_weights(weight, shape, n_rows, n_classes, cdtype):
    """A weight broadcastable to scores of ``shape`` as a C-contiguous ``(R, C)`` array in
    the compute dtype: ``R = 1`` when it is the same for every row (ones when ``None``),
    else ``R = n_rows``."""
    if weight is None:
        return np.ones((1, n_classes), dtype=cdtype)
    w = native(weight, cdtype)
    if not plans.weight_per_row(w):
        row = w.reshape(w.shape[-1:] if w.ndim else ())
        return np.ascontiguousarray(np.broadcast_to(row, (n_classes,))).reshape(1, n_classes)
    return np.ascontiguousarray(np.broadcast_to(w, shape)).reshape(n_rows, n_classes)


def _compute_dtype_of(arrays):
    return compute_dtype(result_dtype(*arrays))


# --- multi_margin_loss ---------------------------------------------------------------------


@public
def multi_margin_loss(
    input,
    target,
    p=1,
    margin=1.0,
    weight=None,
    reduction="mean",
    *,
    return_grad=False,
    grad_output=None,
    grad_out=None,
):
    r"""Multi-class hinge loss (PyTorch's ``multi_margin_loss``).

    For a row :math:`x` of ``C`` scores with class :math:`y`:

    .. math:: \ell = \frac{1}{C} \sum_{j \ne y} w_y \max(0, m - x_y + x_j)^p

    Gradient: for each :math:`j \ne y` with :math:`z_j = m - x_y + x_j > 0`,
    :math:`\partial \ell / \partial x_j = w_y p z_j^{p-1} / C` and
    :math:`\partial \ell / \partial x_y = -\sum_j \partial \ell / \partial x_j`.
    At :math:`z_j = 0` the term counts as inactive (PyTorch's subgradient).

    Parameters
    ----------
    input : array_like
        Scores ``(N, C)``, or one unbatched row ``(C,)``, or a 0-d score (one
        class: the loss and its gradient are 0, as in PyTorch).
    target : array_like of int
        Class indices in ``[0, C)``: ``(N,)``, or ``()``/``(1,)`` for an unbatched row
        (the unreduced loss has the target's shape).
    p : {1, 2}, optional
        Power of the hinge.
    margin : float, optional
    weight : array_like, optional
        Per-class weights ``(C,)``; a row is weighted by the weight of its class.
    reduction : {'mean', 'sum', 'none'}, optional
        ``'mean'`` divides by ``N`` (not by the summed weights, as in PyTorch).
    {grad_doc}
    Notes
    -----
    Differences from PyTorch: with ``N = 0``, ``'mean'`` is NaN (PyTorch returns
    an uninitialised value); a class index outside ``[0, C)`` is a ``ValueError``
    naming it.

    Examples
    --------
    >>> import numbaloss as nl
    >>> loss, grad = nl.multi_margin_loss([[0.1, 0.2, 0.4, 0.8]], [3], return_grad=True)
    >>> round(float(loss), 6)
    0.325
    """
    plan = plans.multi_margin_loss(HOST, input, target, p, margin, weight, reduction)
    x, t, w = plan.x, plan.target, plan.weight
    n_rows, n_classes, loss_shape = plan.n_rows, plan.width, plan.loss_shape
    dtype_from = plan.dtype_from
    cdtype = _compute_dtype_of(dtype_from)
    rows = _row_matrix(x, n_rows, n_classes, cdtype)
    call = _RowCall(
        [("input", rows.reshape(x.shape))],
        dtype_from,
        loss_shape,
        n_rows,
        n_classes,
        reduction=reduction,
        return_grad=return_grad,
        grad_output=grad_output,
        grad_out=grad_out,
    )
    weights = _per_class_weight(w, n_classes, cdtype)
    labels = np.ascontiguousarray(t, dtype=np.int64).reshape(n_rows)
    bad = np.zeros(1, dtype=np.int64)
    parallel.run_ranges(
        cpu.multi_margin_rows,
        n_rows,
        n_classes,
        rows,
        labels,
        weights,
        plan.squared,
        cdtype.type(plan.margin),
        call.gout,
        call.loss_rows,
        call.buffers[0],
        call.return_grad,
        bad,
    )
    if bad[0]:
        value = _first_bad_index(t, n_classes, 0)
        raise ValueError(
            f"target holds class index {value}, outside [0, {n_classes}) for input of shape "
            f"{tuple(x.shape)}"
        )
    return call.finish()


# --- multilabel_margin_loss ----------------------------------------------------------------


@public
def multilabel_margin_loss(
    input, target, reduction="mean", *, return_grad=False, grad_output=None, grad_out=None
):
    r"""Multi-label hinge loss (PyTorch's ``multilabel_margin_loss``).

    A row of ``target`` lists the row's classes first, then ``-1``: only the
    leading non-negative entries count.  With :math:`Y` those classes,

    .. math:: \ell = \frac{1}{C} \sum_{y \in Y} \sum_{j \notin Y} \max(0, 1 - x_y + x_j)

    (a class listed twice counts twice).  Gradient: each active term
    (:math:`1 - x_y + x_j > 0`) adds :math:`1/C` to :math:`x_j` and :math:`-1/C`
    to :math:`x_y`; a term exactly at 0 is inactive, as in PyTorch.

    Parameters
    ----------
    input : array_like
        Scores ``(N, C)`` or ``(C,)``, or a 0-d score (one class: the loss and
        its gradient are 0, as in PyTorch).
    target : array_like of int
        Same shape as ``input`` (for an unbatched row also 0-d or ``(1,)`` when
        ``C = 1``, as PyTorch accepts); every entry in ``[-1, C)`` (PyTorch
        checks all of them, also those after the first ``-1``).
    reduction : {'mean', 'sum', 'none'}, optional
    {grad_doc}
    Notes
    -----
    Differences from PyTorch: any integer dtype is accepted for ``target``
    (PyTorch wants int64); with ``N = 0``, ``'mean'`` is NaN (PyTorch gives 0).

    Examples
    --------
    >>> import numbaloss as nl
    >>> loss = nl.multilabel_margin_loss([[0.1, 0.2, 0.4, 0.8]], [[3, 0, -1, 1]])
    >>> round(float(loss), 6)
    0.85
    """
    plan = plans.multilabel_margin_loss(HOST, input, target, reduction)
    x, t, n_rows, n_classes = plan.x, plan.target, plan.n_rows, plan.width
    cdtype = _compute_dtype_of([x])
    rows = _row_matrix(x, n_rows, n_classes, cdtype)
    loss_shape = (n_rows,) if x.ndim == 2 else ()
    call = _RowCall(
        [("input", rows.reshape(x.shape))],
        [x],
        loss_shape,
        n_rows,
        n_classes,
        reduction=reduction,
        return_grad=return_grad,
        grad_output=grad_output,
        grad_out=grad_out,
    )
    labels = np.ascontiguousarray(t, dtype=np.int64).reshape(n_rows, n_classes)
    bad = np.zeros(1, dtype=np.int64)
    parallel.run_ranges(
        cpu.multilabel_margin_rows,
        n_rows,
        4 * n_classes,
        rows,
        labels,
        call.gout,
        call.loss_rows,
        call.buffers[0],
        call.return_grad,
        bad,
    )
    if bad[0]:
        value = _first_bad_index(t, n_classes, -1)
        raise ValueError(
            f"target holds {value}, outside [-1, {n_classes}) for input of shape {tuple(x.shape)} "
            "(class indices, padded with -1)"
        )
    return call.finish()


# --- multilabel_soft_margin_loss -----------------------------------------------------------


@public
def multilabel_soft_margin_loss(
    input,
    target,
    weight=None,
    reduction="mean",
    *,
    return_grad=False,
    grad_output=None,
    grad_out=None,
):
    r"""Multi-label one-versus-all logistic loss (PyTorch's ``multilabel_soft_margin_loss``).

    For a row of ``C`` scores :math:`x` and targets :math:`y \in [0, 1]`:

    .. math:: \ell = \frac{1}{C} \sum_j w_j \bigl(y_j \log(1 + e^{-x_j})
              + (1 - y_j) \log(1 + e^{x_j})\bigr), \qquad
              \frac{\partial \ell}{\partial x_j} = \frac{w_j}{C} (\sigma(x_j) - y_j)

    i.e. the mean over classes, then ``reduction`` over the rows.

    Parameters
    ----------
    input : array_like
        Scores ``(N, C)``, ``(C,)`` or any ``(..., C)``: the classes are the last axis.
    target : array_like
        Targets of the shape of ``input``.
    weight : array_like, optional
        Weights of the elementwise losses, broadcastable to the input's shape:
        per class ``(C,)``, or e.g. ``(N, C)`` or ``(N, 1)`` per element or per row.
    reduction : {'mean', 'sum', 'none'}, optional
    {grad_doc}
    Notes
    -----
    Differences from PyTorch: ``target`` must have the shape of ``input`` (PyTorch
    broadcasts it silently), and ``weight`` must broadcast to the input's shape
    without enlarging it.

    Examples
    --------
    >>> import numbaloss as nl
    >>> round(float(nl.multilabel_soft_margin_loss([[0.0, 2.0]], [[1.0, 0.0]])), 6)
    1.410038
    """
    plan = plans.multilabel_soft_margin_loss(HOST, input, target, weight, reduction)
    x, y, w = plan.x, plan.target, plan.weight
    dtype_from = plan.dtype_from
    cdtype = _compute_dtype_of(dtype_from)
    n_classes, loss_shape, n_rows = plan.width, plan.loss_shape, plan.n_rows
    rows = _row_matrix(x, n_rows, n_classes, cdtype)
    labels = _row_matrix(y, n_rows, n_classes, cdtype)
    weights = _row_weights(w, x.shape, n_rows, n_classes, cdtype)
    call = _RowCall(
        [("input", rows.reshape(x.shape))],
        dtype_from,
        loss_shape,
        n_rows,
        n_classes,
        reduction=reduction,
        return_grad=return_grad,
        grad_output=grad_output,
        grad_out=grad_out,
    )
    parallel.run_ranges(
        cpu.multilabel_soft_margin_rows,
        n_rows,
        n_classes,
        rows,
        labels,
        weights,
        call.gout,
        call.loss_rows,
        call.buffers[0],
        call.return_grad,
    )
    return call.finish()


# --- cosine_embedding_loss -----------------------------------------------------------------


@public
def cosine_embedding_loss(
    input1,
    input2,
    target,
    margin=0.0,
    reduction="mean",
    *,
    return_grad=False,
    grad_output=None,
    grad_out=None,
):
    r"""Cosine embedding loss (PyTorch's ``cosine_embedding_loss``).

    With :math:`\cos = \langle x_1, x_2 \rangle /
    \sqrt{(\lVert x_1 \rVert^2 + \epsilon)(\lVert x_2 \rVert^2 + \epsilon)}` and
    PyTorch's :math:`\epsilon` (``1e-12`` as a float32; zero vectors give ``cos = 0``):

    .. math:: \ell = \begin{cases} 1 - \cos & y = 1 \\
              \max(0, \cos - m) & y = -1 \\ 0 & \text{otherwise} \end{cases}

    Gradient: :math:`\partial \cos / \partial x_1 = x_2 / \sqrt{\cdots} - \cos\, x_1 /
    (\lVert x_1 \rVert^2 + \epsilon)` (and symmetrically for :math:`x_2`), times
    :math:`-1` for :math:`y = 1` and :math:`1` for an active :math:`y = -1` row; at
    :math:`\cos = m` the row counts as active (PyTorch's ``clamp_min``).

    Parameters
    ----------
    input1, input2 : array_like
        Embeddings ``(N, D)`` (with ``target`` ``(N,)``) or ``(D,)`` (with a 0-d
        ``target``), of one shape.
    target : array_like
        ``1`` for similar pairs, ``-1`` for dissimilar ones; other values give 0
        (as in PyTorch).  It does not take part in the result dtype.
    margin : float, optional
    reduction : {'mean', 'sum', 'none'}, optional
    {grad_doc}
    Notes
    -----
    Difference from PyTorch: ``input1`` and ``input2`` must have one shape (PyTorch
    broadcasts them).

    Examples
    --------
    >>> import numbaloss as nl
    >>> float(nl.cosine_embedding_loss([[1.0, 0.0]], [[0.0, 1.0]], [1]))
    1.0
    """
    plan = plans.cosine_embedding_loss(HOST, input1, input2, target, margin, reduction)
    x1, x2, t, margin = plan.x1, plan.x2, plan.target, plan.margin
    n_rows = plan.n_rows
    width = x1.shape[-1]
    cdtype = _compute_dtype_of([x1, x2])
    a = _row_matrix(x1, n_rows, width, cdtype)
    b = _row_matrix(x2, n_rows, width, cdtype)
    call = _RowCall(
        [("input1", a.reshape(x1.shape)), ("input2", b.reshape(x2.shape))],
        [x1, x2],
        t.shape,
        n_rows,
        width,
        reduction=reduction,
        return_grad=return_grad,
        grad_output=grad_output,
        grad_out=grad_out,
    )
    labels = np.ascontiguousarray(native(t, cdtype)).reshape(n_rows)
    parallel.run_ranges(
        cpu.cosine_embedding_rows,
        n_rows,
        2 * width,
        a,
        b,
        labels,
        margin,
        call.gout,
        call.loss_rows,
        call.buffers[0],
        call.buffers[1],
        call.return_grad,
    )
    return call.finish()


# --- triplet losses ------------------------------------------------------------------------

_TRIPLET = ("anchor", "positive", "negative")


def _triplet_arrays(anchor, positive, negative, margin, swap, reduction, return_grad):
    plan = plans.triplet(HOST, anchor, positive, negative, margin, swap, reduction, return_grad)
    return plan.arrays, plan.margin, plan.swap


def _triplet_call(arrays, reduction, return_grad, grad_output, grad_out):
    """The ``(rows, D)`` matrices of the three inputs and the call's outputs."""
    shape = arrays[0].shape
    cdtype = _compute_dtype_of(arrays)
    width = shape[-1]
    loss_shape = shape[:-1]
    n_rows = int(np.prod(loss_shape, dtype=np.int64))
    rows = [_row_matrix(a, n_rows, width, cdtype) for a in arrays]
    call = _RowCall(
        [(n, r.reshape(shape)) for n, r in zip(_TRIPLET, rows)],
        arrays,
        loss_shape,
        n_rows,
        width,
        reduction=reduction,
        return_grad=return_grad,
        grad_output=grad_output,
        grad_out=grad_out,
    )
    return rows, call


def _run_triplet(metric, arrays, margin, swap, reduction, return_grad, grad_output, grad_out):
    """The fused triplet kernel with a built-in metric."""
    rows, call = _triplet_call(arrays, reduction, return_grad, grad_output, grad_out)
    parallel.run_ranges(
        cpu.triplet_rows,
        call.n_rows,
        3 * rows[0].shape[1],
        metric,
        *rows,
        margin,
        swap,
        call.gout,
        call.loss_rows,
        *call.buffers,
        call.return_grad,
    )
    return call.finish()


def _pnorm_metric(p, eps):
    if p == 2:
        return points.Euclidean(eps)
    if p == 1:
        return points.Manhattan(eps)
    if p == np.inf:
        return points.Chebyshev(eps)
    return points.PNorm(p, eps)


@public
def triplet_margin_loss(
    anchor,
    positive,
    negative,
    margin=1.0,
    p=2,
    eps=1e-6,
    swap=False,
    reduction="mean",
    *,
    return_grad=False,
    grad_output=None,
    grad_out=None,
):
    r"""Triplet margin loss (PyTorch's ``triplet_margin_loss``).

    With PyTorch's ``pairwise_distance`` :math:`d(u, v) = \lVert u - v + \epsilon
    \rVert_p` (``eps`` added to the difference):

    .. math:: \ell = \max\bigl(0,\ m + d(a, p) - d'\bigr), \quad
              d' = \begin{cases} \min(d(a, n), d(p, n)) & \text{swap} \\
              d(a, n) & \text{otherwise} \end{cases}

    Gradient: :math:`\partial d(u, v) / \partial u_k = \operatorname{sign}(r_k)
    \lvert r_k \rvert^{p-1} / d^{p-1}` with :math:`r = u - v + \epsilon` (0 where
    ``d = 0``; for ``p = inf`` the tied maxima share it), and
    :math:`\partial d / \partial v = -\partial d / \partial u`.  At the hinge
    (:math:`\ell = 0` exactly) the gradient is passed, and a tie of
    :math:`d(a, n)` and :math:`d(p, n)` splits it in halves, as in PyTorch.

    Parameters
    ----------
    anchor, positive, negative : array_like
        Embeddings of one shape: ``(N, D)``, ``(D,)`` or any ``(..., D)``.
    margin : float, optional
        Must be positive (``ValueError`` otherwise).
    p : float, optional
        Norm degree, ``p > 0`` (``inf`` allowed).
    eps : float, optional
    swap : bool, optional
        Use the distance swap of Balntas et al.
    reduction : {'mean', 'sum', 'none'}, optional
    {grad_doc}
    Notes
    -----
    Differences from PyTorch: ``p <= 0`` is a ``ValueError`` (PyTorch computes a
    quantity that is not a distance); the three inputs must have one shape (PyTorch
    broadcasts); with ``p = inf``, entries within 8 units of roundoff of the
    maximum count as tied maxima (PyTorch: exactly equal ones).

    On CUDA device arrays only ``p=2`` (the default) is supported; other norms are a
    ``ValueError`` (call with host arrays for them).

    Examples
    --------
    >>> import numbaloss as nl
    >>> loss = nl.triplet_margin_loss([[0.0, 0.0]], [[3.0, 4.0]], [[0.0, 1.0]], eps=0.0)
    >>> float(loss)
    5.0
    """
    arrays, margin, swap = _triplet_arrays(
        anchor, positive, negative, margin, swap, reduction, return_grad
    )
    p, eps = plans.pnorm(p, eps)
    return _run_triplet(
        _pnorm_metric(p, eps), arrays, margin, swap, reduction, return_grad, grad_output, grad_out
    )


#: The distances ``triplet_margin_with_distance_loss`` runs fused, by name.
DISTANCES = {
    "euclidean": points.Euclidean(1e-6),
    "manhattan": points.Manhattan(1e-6),
    "chebyshev": points.Chebyshev(1e-6),
    "cosine": points.Cosine(1e-8),
}


@public
def triplet_margin_with_distance_loss(
    anchor,
    positive,
    negative,
    *,
    distance_function=None,
    margin=1.0,
    swap=False,
    reduction="mean",
    distance_grad=None,
    return_grad=False,
    grad_output=None,
    grad_out=None,
):
    r"""Triplet margin loss with any distance (PyTorch's ``triplet_margin_with_distance_loss``).

    .. math:: \ell = \max\bigl(0,\ m + d(a, p) - d'\bigr), \quad
              d' = \min(d(a, n), d(p, n)) \text{ with swap, else } d(a, n)

    Gradient as in :func:`triplet_margin_loss`: :math:`\partial d` of each pair,
    passed at the hinge, split in halves at a tie of the swap.

    Parameters
    ----------
    anchor, positive, negative : array_like
        Embeddings of one shape: ``(N, D)``, ``(D,)`` or any ``(..., D)``.
    distance_function : None, str or callable, optional
        The distance :math:`d`:

        * ``None`` or ``"euclidean"``: PyTorch's ``pairwise_distance``
          (``p=2, eps=1e-6``); ``"manhattan"`` and ``"chebyshev"``: the same with
          ``p=1`` and ``p=inf``; ``"cosine"``: ``1 - cosine_similarity(x, y)`` as
          PyTorch computes it (norms clamped at ``1e-8``).  These run fused, with
          gradients.
        * a numba ``@njit`` function ``d(x, y) -> float`` of two rows ``(D,)``:
          compiled into the kernel (fused).
        * any other callable ``d(x, y) -> (N,)`` on whole arrays (NumPy arrays in
          the compute dtype, shaped as the inputs), as in PyTorch.
    margin : float, optional
        Must be positive (``ValueError`` otherwise).
    swap : bool, optional
    reduction : {'mean', 'sum', 'none'}, optional
    distance_grad : callable, optional
        The derivative of a user ``distance_function``, needed for
        ``return_grad=True`` (numbaloss extension; without it ``ValueError``):

        * with an ``@njit`` row distance, an ``@njit`` function
          ``distance_grad(x, y, gx, gy)`` that writes
          :math:`\partial d / \partial x` into the row ``gx`` and
          :math:`\partial d / \partial y` into ``gy`` (fused in the kernel);
        * with an array distance, ``distance_grad(x, y) -> (gx, gy)``, two arrays of
          the shape of ``x`` holding each row's distance gradient.
    {grad_doc}
    Notes
    -----
    Differences from PyTorch: a user ``distance_function`` receives NumPy arrays;
    the three inputs must have one shape.

    On CUDA device arrays only ``distance_function=None`` or ``'euclidean'`` is
    supported (the pairwise L2 distance, fused into the GPU kernel): a Python or
    ``@njit`` callable (and the other names) is a ``TypeError`` naming
    ``distance_function``, as a CPU function cannot run inside a CUDA kernel.

    Examples
    --------
    >>> import numbaloss as nl
    >>> a, p, n = [[1.0, 0.0]], [[1.0, 1.0]], [[-1.0, 0.0]]
    >>> float(nl.triplet_margin_with_distance_loss(a, p, n, distance_function="cosine"))
    0.0
    """
    arrays, margin, swap = _triplet_arrays(
        anchor, positive, negative, margin, swap, reduction, return_grad
    )
    if distance_function is None:
        distance_function = "euclidean"
    if isinstance(distance_function, str):
        if distance_function not in DISTANCES:
            valid = ", ".join(repr(k) for k in DISTANCES)
            raise ValueError(
                f"distance_function must be a callable or one of {valid}; got {distance_function!r}"
            )
        if distance_grad is not None:
            raise ValueError(
                f"distance_grad is only for a user distance_function, not "
                f"{distance_function!r} (whose gradient is built in)"
            )
        return _run_triplet(
            DISTANCES[distance_function],
            arrays,
            margin,
            swap,
            reduction,
            return_grad,
            grad_output,
            grad_out,
        )
    if not callable(distance_function):
        raise TypeError(
            f"distance_function must be None, a name or a callable; "
            f"got {type(distance_function).__name__}"
        )
    if return_grad and distance_grad is None:
        raise ValueError(
            "return_grad=True needs the derivative of a user distance_function: pass "
            "distance_grad (see the docs), or use a built-in distance name such as "
            "'euclidean' or 'cosine'"
        )
    if isinstance(distance_function, CPUDispatcher):
        if distance_grad is not None and not isinstance(distance_grad, CPUDispatcher):
            raise TypeError(
                "with an @njit distance_function, distance_grad must be an @njit "
                "function distance_grad(x, y, gx, gy) too"
            )
        return _run_triplet_njit(
            distance_function,
            distance_grad,
            arrays,
            margin,
            swap,
            reduction,
            return_grad,
            grad_output,
            grad_out,
        )
    return _run_triplet_arrays(
        distance_function,
        distance_grad,
        arrays,
        margin,
        swap,
        reduction,
        return_grad,
        grad_output,
        grad_out,
    )


def _run_triplet_njit(
    distance, distance_grad, arrays, margin, swap, reduction, return_grad, grad_output, grad_out
):
    """The triplet kernel with a user's ``@njit`` row distance compiled in."""
    rows, call = _triplet_call(arrays, reduction, return_grad, grad_output, grad_out)
    grad_fn = cpu.no_distance_grad if distance_grad is None else distance_grad
    parallel.run_ranges(
        cpu.triplet_custom_rows,
        call.n_rows,
        3 * rows[0].shape[1],
        distance,
        grad_fn,
        *rows,
        margin,
        swap,
        call.gout,
        call.loss_rows,
        *call.buffers,
        call.return_grad,
    )
    return call.finish()


def _user_distances(distance, x, y, n_rows):
    d = as_array(distance(x, y), "the result of distance_function")
    if d.size != n_rows or d.ndim > x.ndim - 1:
        raise ValueError(
            f"distance_function must return one distance per row, shape {x.shape[:-1]}; "
            f"got shape {tuple(d.shape)}"
        )
    return np.ascontiguousarray(d, dtype=np.float64).reshape(n_rows)


def _run_triplet_arrays(
    distance, distance_grad, arrays, margin, swap, reduction, return_grad, grad_output, grad_out
):
    """A user's array distance: distances (and their gradients) from the caller's code.

    The hinge (with its tie rules) runs in :func:`cpu.triplet_hinge_rows`, which gives
    each row's weights of the three distance gradients.
    """
    rows, call = _triplet_call(arrays, reduction, return_grad, grad_output, grad_out)
    n_rows, width = rows[0].shape
    a, p, n = (r.reshape(arrays[0].shape) for r in rows)
    d_pos = _user_distances(distance, a, p, n_rows)
    d_neg = _user_distances(distance, a, n, n_rows)
    d_swap = _user_distances(distance, p, n, n_rows) if swap else d_neg
    weights = np.zeros((n_rows, 3), dtype=rows[0].dtype)
    parallel.run_ranges(
        cpu.triplet_hinge_rows,
        n_rows,
        1,
        d_pos,
        d_neg,
        d_swap,
        margin,
        swap,
        call.gout,
        call.loss_rows,
        weights,
    )
    if call.return_grad:
        # All distance gradients are taken before any gradient (maybe an input) is written.
        pa, pp = _user_grads(distance_grad, a, p, n_rows, width)
        na, nn = _user_grads(distance_grad, a, n, n_rows, width)
        sp, sn = _user_grads(distance_grad, p, n, n_rows, width) if swap else (0, 0)
        g_pos, g_neg, g_swap = (weights[:, k : k + 1] for k in range(3))
        grads = (g_pos * pa - g_neg * na, g_pos * pp - g_swap * sp, -g_neg * nn - g_swap * sn)
        for buffer, grad in zip(call.buffers, grads):
            np.copyto(buffer, grad, casting="unsafe")
    return call.finish()


def _user_grads(distance_grad, x, y, n_rows, width):
    result = distance_grad(x, y)
    if not isinstance(result, tuple) or len(result) != 2:
        raise ValueError("distance_grad(x, y) must return a tuple (grad_x, grad_y)")
    grads = []
    for name, g in zip(("grad_x", "grad_y"), result):
        g = as_array(g, f"distance_grad's {name}")
        if g.shape != x.shape:
            raise ValueError(
                f"distance_grad's {name} must have the shape {tuple(x.shape)} of its "
                f"inputs; got {tuple(g.shape)}"
            )
        grads.append(g.reshape(n_rows, width))
    return grads
