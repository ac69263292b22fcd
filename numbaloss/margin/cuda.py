"""CUDA kernels of the margin losses: the functions of :mod:`.losses` on device arrays.

Reached through :func:`numbaloss._core.devices.on_device` when an argument is a
CUDA device array (numba, CuPy, PyTorch).  Each public function has the signature
and docs of its CPU twin and validates its arguments with the same :mod:`.plans`.

These are row losses: a row of ``C`` scores gives one loss value and a gradient
row.  Each kernel maps one block to a row (a grid-stride loop over the rows, so a
block handles rows ``blockIdx.x, blockIdx.x + gridDim.x, ...``) and the block's
threads to the row's entries (thread ``t`` handles entries ``t, t + blockDim.x,
...``).  Row sums (margin sums, counts of active terms) are
:func:`~numbaloss._core.cuda_support.block_sum` reductions, in a fixed tree order;
thread 0 keeps the row's loss, writes it (``reduction='none'``) or adds it to the
block's float64 partial, and the partials are summed by
:func:`~numbaloss._core.cuda_support.reduce_partials` (deterministic, no atomics).
Rows are read in place through their strides; the gradient is written in the same
pass, into ``grad_out`` directly where its dtype is the compute dtype (also in
place: every thread reads the entries it writes, and the target class's score,
which thread 0 overwrites last, is read by every thread before the row's first
block synchronisation).

``multilabel_margin_loss`` marks a row's target classes in a scratch array and
sums the active terms of each target with one block reduction per target.
``triplet_margin_loss`` runs with ``p=2`` (the default) and
``triplet_margin_with_distance_loss`` with its default (``None``/``'euclidean'``)
distance, both on :func:`triplet_euclidean_kernel`; other norms and distances (a
Python or ``@njit`` ``distance_function`` cannot run inside a CUDA kernel) raise
an error naming the argument.

Results stay on the device, a reduced loss as a 0-d device array.  The one
synchronisation: a class index outside ``[0, C)`` is flagged in the kernel, and the
flag (one float per block, summed on the device) is read back to raise the CPU's
``ValueError``.
"""

import math

import numpy as np
from numba import cuda, float64

from .._core import cuda_support as cs
from .._core.traits import at, like
from .._core.validation import check_bool
from . import losses, plans, points


@cuda.jit
def multi_margin_kernel(
    x, target, weight, squared, margin, gout, gmul, gdiv, loss_out, grad, partials, flags
):
    """Rows of ``sum_{j != y} w_y max(0, margin - x_y + x_j)^p / C`` and their gradients.

    ``x`` is ``(N, C)`` (any strides), ``target`` ``(N,)`` class indices, ``weight``
    ``(C,)`` or the scalar 1; ``gout`` the per-row upstream gradient (array or
    scalar), also scaled by ``gmul / gdiv`` (scalars or 1-element device arrays).
    ``loss_out`` (``(N,)`` or None: reduced) and ``grad`` (``(N, C)`` or None).
    """
    n_rows = x.shape[0]
    n_classes = x.shape[1]
    tid = cuda.threadIdx.x
    step = cuda.blockDim.x
    gscale = cs.ratio(gmul, gdiv)
    zero = like(margin, 0)
    one = like(margin, 1)
    block_total = 0.0
    bad = 0.0
    for i in range(cuda.blockIdx.x, n_rows, cuda.gridDim.x):
        y = target[i]
        if y < 0 or y >= n_classes:  # the same for every thread of the block
            if tid == 0:
                bad += 1.0
                if loss_out is not None:
                    loss_out[i] = 0
            if grad is not None:
                for j in range(tid, n_classes, step):
                    grad[i, j] = zero
            continue
        x_y = x[i, y]
        w_y = at(weight, y)
        total = 0.0
        slope_sum = 0.0  # the sum over active classes of dh/dz: 1 (p = 1) or z (p = 2, halved)
        for j in range(tid, n_classes, step):
            z = margin - x_y + x[i, j]
            zc = z if (z > zero) & (j != y) else zero
            if squared:
                total += float64(zc * zc)
                slope_sum += float64(zc)
            elif zc > zero:
                total += float64(zc)
                slope_sum += 1.0
        total = cs.block_sum(total)
        slope_sum = cs.block_sum(slope_sum)
        if tid == 0:
            loss = total * float64(w_y) / n_classes
            if loss_out is not None:
                loss_out[i] = loss
            else:
                block_total += loss
        if grad is not None:
            g = at(gout, i) * like(margin, gscale)
            scale = like(margin, g * w_y / n_classes)
            for j in range(tid, n_classes, step):
                if j != y:
                    z = margin - x_y + x[i, j]
                    if squared:
                        grad[i, j] = (scale + scale) * (z if z > zero else zero)
                    else:
                        grad[i, j] = scale * (one if z > zero else zero)
            if tid == 0:
                if squared:
                    grad[i, y] = -((scale + scale) * like(margin, slope_sum))
                else:
                    grad[i, y] = -(scale * like(margin, slope_sum))
    block_total = cs.block_sum(block_total)
    bad = cs.block_sum(bad)
    if tid == 0:
        partials[cuda.blockIdx.x] = block_total
        flags[cuda.blockIdx.x] = bad


@cuda.jit
def multilabel_soft_margin_kernel(
    x, target, weight, per_row, gout, gmul, gdiv, loss_out, grad, partials
):
    """Rows of ``sum_j w_j (y_j softplus(-x_j) + (1 - y_j) softplus(x_j)) / C``.

    The per-element math is the shared :func:`.points.soft_margin_point`; ``x`` and
    ``target`` are ``(N, C)``, ``weight`` the scalar 1 or ``(R, C)``: ``(N, C)`` when
    ``per_row``, else ``(1, C)``; the other arguments as in :func:`multi_margin_kernel`.
    """
    n_rows = x.shape[0]
    n_classes = x.shape[1]
    tid = cuda.threadIdx.x
    step = cuda.blockDim.x
    gscale = cs.ratio(gmul, gdiv)
    block_total = 0.0
    for i in range(cuda.blockIdx.x, n_rows, cuda.gridDim.x):
        g = at(gout, i)
        g = g * like(g, gscale)
        scale = like(g, g / n_classes)
        total = 0.0
        for j in range(tid, n_classes, step):
            label = target[i, j]
            loss, sig = points.soft_margin_point(x[i, j], label)
            w_j = at(weight, (i if per_row else 0, j))
            total += float64(w_j * loss)
            if grad is not None:
                grad[i, j] = (w_j * scale) * (sig - label)
        total = cs.block_sum(total)
        if tid == 0:
            loss = total / n_classes
            if loss_out is not None:
                loss_out[i] = loss
            else:
                block_total += loss
    block_total = cs.block_sum(block_total)
    if tid == 0:
        partials[cuda.blockIdx.x] = block_total


@cuda.jit(device=True)
def _to_all(value):
    """Thread 0's ``value``, handed to every thread of the block (all must call it)."""
    slot = cuda.shared.array(1, float64)
    cuda.syncthreads()
    if cuda.threadIdx.x == 0:
        slot[0] = value
    cuda.syncthreads()
    return slot[0]


@cuda.jit
def cosine_embedding_kernel(
    x1, x2, target, margin, gout, gmul, gdiv, loss_out, grad1, grad2, partials
):
    """Rows of ``1 - cos`` (target 1), ``max(0, cos - margin)`` (target -1), else 0.

    The row sums ``<x1, x2>``, ``|x1|^2``, ``|x2|^2`` (float64) are block sums,
    handed to every thread; the loss is the shared :func:`.points.cosine_terms`.
    ``target`` is ``(N,)`` in the compute dtype; the rest as in
    :func:`multi_margin_kernel` (``grad1``/``grad2`` both arrays or both None).
    """
    n_rows = x1.shape[0]
    width = x1.shape[1]
    tid = cuda.threadIdx.x
    step = cuda.blockDim.x
    gscale = cs.ratio(gmul, gdiv)
    block_total = 0.0
    for i in range(cuda.blockIdx.x, n_rows, cuda.gridDim.x):
        dot = 0.0
        sq1 = 0.0
        sq2 = 0.0
        for k in range(tid, width, step):
            ak = float64(x1[i, k])
            bk = float64(x2[i, k])
            dot += ak * bk
            sq1 += ak * ak
            sq2 += bk * bk
        dot = _to_all(cs.block_sum(dot))
        sq1 = _to_all(cs.block_sum(sq1))
        sq2 = _to_all(cs.block_sum(sq2))
        loss, slope, cos, denom, sq1, sq2 = points.cosine_terms(dot, sq1, sq2, target[i], margin)
        if tid == 0:
            if loss_out is not None:
                loss_out[i] = loss
            else:
                block_total += loss
        if grad1 is not None:
            g0 = at(gout, i)
            gi = g0 * like(g0, gscale)
            g = slope * gi
            cross = like(gi, g / denom)
            self1 = like(gi, g * cos / sq1)
            self2 = like(gi, g * cos / sq2)
            zero = like(gi, 0)
            for k in range(tid, width, step):
                ak = x1[i, k]
                bk = x2[i, k]
                if slope == 0:
                    grad1[i, k] = zero
                    grad2[i, k] = zero
                else:
                    grad1[i, k] = cross * bk - self1 * ak
                    grad2[i, k] = cross * ak - self2 * bk
    block_total = cs.block_sum(block_total)
    if tid == 0:
        partials[cuda.blockIdx.x] = block_total


@cuda.jit
def multilabel_margin_kernel(
    x, target, one, gout, gmul, gdiv, loss_out, grad, mark, xy, active, partials, flags
):
    """Rows of ``sum_k sum_{j not a target} max(0, 1 - x_{y_k} + x_j) / C``.

    The targets of a row are its leading non-negative entries; every entry must lie
    in ``[-1, C)`` (else the row is flagged).  ``one`` is 1 in the compute dtype.  Scratch ``(N, C)`` arrays: ``mark``
    (1 for the row's target classes), and, for the gradient, ``xy`` (the target
    scores ``x_{y_k}``, read before any gradient is written, so that ``grad`` may be
    ``x``) and ``active`` (the number of active terms of target ``k``).  The
    gradient of a class sums its ``1/C`` steps in target order, as on the CPU.
    """
    n_rows = x.shape[0]
    n_classes = x.shape[1]
    tid = cuda.threadIdx.x
    step = cuda.blockDim.x
    gscale = cs.ratio(gmul, gdiv)
    block_total = 0.0
    bad_rows = 0.0
    for i in range(cuda.blockIdx.x, n_rows, cuda.gridDim.x):
        bad = 0.0
        first = float64(n_classes)
        for k in range(tid, n_classes, step):
            label = target[i, k]
            if label < -1 or label >= n_classes:
                bad = 1.0
            if label < 0 and k < first:
                first = float64(k)
            mark[i, k] = 0
        bad = _to_all(cs.block_sum(bad))
        n_targets = int(-_to_all(cs.block_max(-first)))
        if bad > 0:
            if tid == 0:
                bad_rows += 1.0
                if loss_out is not None:
                    loss_out[i] = 0
            if grad is not None:
                for j in range(tid, n_classes, step):
                    grad[i, j] = 0
            continue
        for k in range(tid, n_targets, step):
            mark[i, target[i, k]] = 1  # (threads marking one class write the same 1)
        cuda.syncthreads()
        zero = one - one
        total = 0.0
        for k in range(n_targets):
            x_y = x[i, target[i, k]]
            count = 0.0
            for j in range(tid, n_classes, step):
                z = one - x_y + x[i, j]
                if z > 0 and mark[i, j] == 0:
                    total += float64(z)
                    count += 1.0
            count = cs.block_sum(count)
            if tid == 0 and grad is not None:
                xy[i, k] = x_y
                active[i, k] = count
        total = cs.block_sum(total)
        if tid == 0:
            loss = total / n_classes
            if loss_out is not None:
                loss_out[i] = loss
            else:
                block_total += loss
        if grad is not None:
            cuda.syncthreads()  # xy and active of the row are written
            g = at(gout, i) * like(zero, gscale)
            scale = like(zero, g / n_classes)
            for j in range(tid, n_classes, step):
                acc = zero
                if mark[i, j] == 0:
                    x_j = x[i, j]
                    for k in range(n_targets):
                        z = one - xy[i, k] + x_j
                        acc += scale * (one if z > 0 else zero)
                else:
                    for k in range(n_targets):
                        if target[i, k] == j:
                            acc -= scale * like(zero, active[i, k])
                grad[i, j] = acc
            cuda.syncthreads()  # the next row's reads come after this row's writes
    block_total = cs.block_sum(block_total)
    bad_rows = cs.block_sum(bad_rows)
    if tid == 0:
        partials[cuda.blockIdx.x] = block_total
        flags[cuda.blockIdx.x] = bad_rows


@cuda.jit
def triplet_euclidean_kernel(
    anchor, positive, negative, eps, margin, swap, gout, gmul, gdiv, loss_out,
    grad_a, grad_p, grad_n, partials,
):  # fmt: skip
    """Rows of ``max(margin + d(a, p) - min(d(a, n), d(p, n) if swap), 0)``, ``d = |x - y + eps|_2``.

    The squared distances are float64 block sums of the shared :func:`.points.shifted`
    entries, handed to every thread; the hinge is the shared :func:`.points.hinge_weights`
    and the gradient :class:`.points.Euclidean`'s ``partial`` formula.  The rest as in
    :func:`multi_margin_kernel` (the three gradients all arrays or all None).
    """
    n_rows = anchor.shape[0]
    width = anchor.shape[1]
    tid = cuda.threadIdx.x
    step = cuda.blockDim.x
    gscale = cs.ratio(gmul, gdiv)
    block_total = 0.0
    for i in range(cuda.blockIdx.x, n_rows, cuda.gridDim.x):
        s_pos = 0.0
        s_neg = 0.0
        s_swap = 0.0
        for k in range(tid, width, step):
            ak = anchor[i, k]
            pk = positive[i, k]
            nk = negative[i, k]
            d = float64(points.shifted(ak, pk, eps))
            s_pos += d * d
            d = float64(points.shifted(ak, nk, eps))
            s_neg += d * d
            if swap:
                d = float64(points.shifted(pk, nk, eps))
                s_swap += d * d
        d_pos = math.sqrt(_to_all(cs.block_sum(s_pos)))
        d_neg = math.sqrt(_to_all(cs.block_sum(s_neg)))
        d_swap = d_neg
        if swap:
            d_swap = math.sqrt(_to_all(cs.block_sum(s_swap)))
        loss, active, w_neg, w_swap = points.hinge_weights(margin, d_pos, d_neg, d_swap, swap)
        if tid == 0:
            if loss_out is not None:
                loss_out[i] = loss
            else:
                block_total += loss
        if grad_a is not None:
            g0 = at(gout, i)
            g = g0 * like(g0, gscale)
            zero = like(g, 0)
            g_neg = g * like(g, w_neg)
            g_swap = g * like(g, w_swap)
            inv_pos = 1 / d_pos if d_pos > 0 else 0.0
            inv_neg = 1 / d_neg if d_neg > 0 else 0.0
            inv_swap = 1 / d_swap if d_swap > 0 else 0.0
            for k in range(tid, width, step):
                ak = anchor[i, k]
                pk = positive[i, k]
                nk = negative[i, k]
                if not active:
                    grad_a[i, k] = zero
                    grad_p[i, k] = zero
                    grad_n[i, k] = zero
                    continue
                pa = points.shifted(ak, pk, eps) * like(ak, inv_pos)
                na = points.shifted(ak, nk, eps) * like(ak, inv_neg)
                if w_swap == 0:
                    grad_a[i, k] = g * pa - g_neg * na
                    grad_p[i, k] = g * -pa
                    grad_n[i, k] = -g_neg * -na
                else:
                    sp = points.shifted(pk, nk, eps) * like(ak, inv_swap)
                    grad_a[i, k] = g * pa - g_neg * na
                    grad_p[i, k] = g * -pa - g_swap * sp
                    grad_n[i, k] = -g_neg * -na - g_swap * -sp
    block_total = cs.block_sum(block_total)
    if tid == 0:
        partials[cuda.blockIdx.x] = block_total


# --- the pieces every row loss shares -----------------------------------------------------


def _rows(arr, n_rows, width, dtype):
    """A device array as ``(n_rows, width)`` of ``dtype``: a view where it can be one."""
    if arr.ndim == 2 and arr.dtype == dtype:
        return arr
    if arr.ndim == 1 and arr.dtype == dtype and arr.is_c_contiguous():
        return arr.reshape(n_rows, width)
    return cs.gather(arr, tuple(arr.shape), False, dtype).reshape(n_rows, width)


def _vector(args, value, n, dtype, name):
    """A per-class option (host or device) as a ``(n,)`` device array of ``dtype``."""
    if isinstance(value, np.ndarray):
        return cuda.to_device(np.ascontiguousarray(value, dtype=dtype).reshape(n))
    if value.ndim == 1 and value.dtype == dtype:
        return value
    return cs.gather(value, (n,), False, dtype)


def _row_weights(value, shape, per_row, n_rows, dtype):
    """A weight (host or device) broadcastable to scores of ``shape`` as a ``(R, C)``
    device array of ``dtype``: ``R = n_rows`` when ``per_row``, else 1."""
    n_classes = shape[-1]
    if isinstance(value, np.ndarray):
        value = cuda.to_device(np.ascontiguousarray(value, dtype=dtype))
    if per_row:
        return cs.gather(value, shape, False, dtype).reshape(n_rows, n_classes)
    row = value.reshape(tuple(value.shape)[-1:]) if value.ndim else value.reshape(1)
    return cs.gather(row, (n_classes,), False, dtype).reshape(1, n_classes)


class _RowCall:
    """The device outputs of one row-kernel call: loss, per-row upstream gradient, grads.

    The device twin of :class:`.losses._RowCall`: ``preds`` are ``(name, device
    array)`` pairs of the predictions that get gradients (each of ``n_rows * width``
    elements), written as ``(n_rows, width)`` rows through their strides.
    """

    def __init__(self, args, plan, preds, *, return_grad, grad_output, grad_out):
        self.args = args
        self.plan = plan
        self.dtype, self.cdtype = cs.result_dtypes(*plan.dtype_from)
        self.return_grad = check_bool(return_grad, "return_grad")
        n = plan.n_rows
        if plan.reduction == "none":
            self.loss_out = cuda.device_array(n, dtype=self.cdtype)
            self.gmul, self.gdiv = 1.0, 1.0
            self.gout = cs.device_upstream(args, grad_output, plan.loss_shape, self.cdtype)
        else:
            self.loss_out = None
            self.gout = self.cdtype.type(1)
            self.gmul = cs.device_scale(args, grad_output)
            self.gdiv = float(n) if plan.reduction == "mean" else 1.0
        self.slots = None
        if self.return_grad:
            layouts = [
                cs.DeviceLayout(pred.shape, self.dtype, self.cdtype, "strided", (n, plan.width))
                for _, pred in preds
            ]
            self.slots = cs.device_grad_slots(args, [name for name, _ in preds], layouts, grad_out)
        blocks = min(max(1, n), cs.get_launch_config()[1])
        self.blocks = blocks
        self.threads = cs.get_launch_config()[0]
        self.partials = cuda.device_array(blocks, dtype=np.float64)
        self.flags = cuda.device_array(blocks, dtype=np.float64)

    def buffer(self, k):
        """The ``k``-th gradient buffer for the kernel, or None without gradients."""
        return self.slots[k].buffer if self.return_grad else None

    def check_flag(self, message):
        """Read the kernel's error flag back (the one synchronisation) and raise ``message()``."""
        if cs.reduce_partials(self.flags, 1.0, np.float64).copy_to_host()[0] > 0:
            raise ValueError(message())

    def finish(self):
        """The loss as the caller gets it, and the gradients with ``return_grad``."""
        if self.loss_out is not None:
            loss = cs.device_loss_array(self.args, self.loss_out, self.plan.loss_shape, self.dtype)
        else:
            loss = cs.device_reduced_loss(self.args, self.partials, self.gdiv, self.dtype)
        return cs.device_results(loss, self.slots)


def _bad_class_message(plan, lowest=0):
    """The CPU's message for a class index out of range (reads the target back)."""

    def message():
        t = plan.target.copy_to_host().reshape(-1)
        value = t[np.flatnonzero((t < lowest) | (t >= plan.width))[0]]
        return (
            f"target holds class index {value}, outside [{lowest}, {plan.width}) for input of "
            f"shape {tuple(plan.x.shape)}"
        )

    return message


# --- the public functions --------------------------------------------------------------


@cs.device_twin(losses.multi_margin_loss)
def multi_margin_loss(
    input, target, p=1, margin=1.0, weight=None, reduction="mean", *,
    return_grad=False, grad_output=None, grad_out=None,
):  # fmt: skip
    args = cs.DeviceArgs()
    plan = plans.multi_margin_loss(args, input, target, p, margin, weight, reduction)
    call = _RowCall(
        args, plan, [("input", plan.x)],
        return_grad=return_grad, grad_output=grad_output, grad_out=grad_out,
    )  # fmt: skip
    cdtype = call.cdtype
    x = _rows(plan.x, plan.n_rows, plan.width, cdtype)
    weight = (
        cdtype.type(1) if plan.weight is None
        else _vector(args, plan.weight, plan.width, cdtype, "weight")
    )  # fmt: skip
    target = plan.target.reshape(plan.n_rows) if plan.target.ndim != 1 else plan.target
    multi_margin_kernel[call.blocks, call.threads](
        x, target, weight, plan.squared, cdtype.type(plan.margin), call.gout, call.gmul,
        call.gdiv, call.loss_out, call.buffer(0), call.partials, call.flags,
    )  # fmt: skip
    call.check_flag(_bad_class_message(plan))
    return call.finish()


@cs.device_twin(losses.multilabel_soft_margin_loss)
def multilabel_soft_margin_loss(
    input, target, weight=None, reduction="mean", *,
    return_grad=False, grad_output=None, grad_out=None,
):  # fmt: skip
    args = cs.DeviceArgs()
    plan = plans.multilabel_soft_margin_loss(args, input, target, weight, reduction)
    call = _RowCall(
        args, plan, [("input", plan.x)],
        return_grad=return_grad, grad_output=grad_output, grad_out=grad_out,
    )  # fmt: skip
    cdtype = call.cdtype
    x = _rows(plan.x, plan.n_rows, plan.width, cdtype)
    target = _rows(plan.target, plan.n_rows, plan.width, cdtype)
    weight, per_row = cdtype.type(1), False
    if plan.weight is not None:
        per_row = plans.weight_per_row(plan.weight)
        weight = _row_weights(plan.weight, tuple(plan.x.shape), per_row, plan.n_rows, cdtype)
    multilabel_soft_margin_kernel[call.blocks, call.threads](
        x, target, weight, per_row, call.gout, call.gmul, call.gdiv, call.loss_out,
        call.buffer(0), call.partials,
    )  # fmt: skip
    return call.finish()


@cs.device_twin(losses.cosine_embedding_loss)
def cosine_embedding_loss(
    input1, input2, target, margin=0.0, reduction="mean", *,
    return_grad=False, grad_output=None, grad_out=None,
):  # fmt: skip
    args = cs.DeviceArgs()
    plan = plans.cosine_embedding_loss(args, input1, input2, target, margin, reduction)
    call = _RowCall(
        args, plan, [("input1", plan.x1), ("input2", plan.x2)],
        return_grad=return_grad, grad_output=grad_output, grad_out=grad_out,
    )  # fmt: skip
    cdtype = call.cdtype
    x1 = _rows(plan.x1, plan.n_rows, plan.width, cdtype)
    x2 = _rows(plan.x2, plan.n_rows, plan.width, cdtype)
    target = cs.gather(plan.target, tuple(plan.target.shape), False, cdtype)
    cosine_embedding_kernel[call.blocks, call.threads](
        x1, x2, target, float(plan.margin), call.gout, call.gmul, call.gdiv, call.loss_out,
        call.buffer(0), call.buffer(1), call.partials,
    )  # fmt: skip
    return call.finish()


@cs.device_twin(losses.multilabel_margin_loss)
def multilabel_margin_loss(
    input, target, reduction="mean", *, return_grad=False, grad_output=None, grad_out=None
):
    args = cs.DeviceArgs()
    plan = plans.multilabel_margin_loss(args, input, target, reduction)
    call = _RowCall(
        args, plan, [("input", plan.x)],
        return_grad=return_grad, grad_output=grad_output, grad_out=grad_out,
    )  # fmt: skip
    cdtype = call.cdtype
    n_rows, width = plan.n_rows, plan.width
    x = _rows(plan.x, n_rows, width, cdtype)
    target = plan.target
    if target.ndim <= 1:  # an unbatched row: (C,), or 0-d/(1,) for a 0-d input
        flat = target.reshape(1) if target.ndim == 0 else target
        target = cs.gather(flat, (width,), False, np.dtype(target.dtype)).reshape(1, width)
    mark = cuda.device_array((n_rows, width), dtype=np.int8)
    scratch = (n_rows, width) if call.return_grad else (1, 1)
    xy = cuda.device_array(scratch, dtype=cdtype)
    active = cuda.device_array(scratch, dtype=np.float64)
    multilabel_margin_kernel[call.blocks, call.threads](
        x, target, cdtype.type(1), call.gout, call.gmul, call.gdiv, call.loss_out,
        call.buffer(0), mark, xy,
        active, call.partials, call.flags,
    )  # fmt: skip

    def message():
        t = plan.target.copy_to_host().reshape(-1)
        value = t[np.flatnonzero((t < -1) | (t >= width))[0]]
        return (
            f"target holds {value}, outside [-1, {width}) for input of shape "
            f"{tuple(plan.x.shape)} (class indices, padded with -1)"
        )

    call.check_flag(message)
    return call.finish()


def _triplet(plan, args, eps, return_grad, grad_output, grad_out):
    """Run :func:`triplet_euclidean_kernel` for a validated :class:`~.plans.TripletPlan`."""
    call = _RowCall(
        args, plan, list(zip(plans.TRIPLET, plan.arrays)),
        return_grad=return_grad, grad_output=grad_output, grad_out=grad_out,
    )  # fmt: skip
    rows = [_rows(a, plan.n_rows, plan.width, call.cdtype) for a in plan.arrays]
    triplet_euclidean_kernel[call.blocks, call.threads](
        *rows, float(eps), float(plan.margin), plan.swap, call.gout, call.gmul, call.gdiv,
        call.loss_out, call.buffer(0), call.buffer(1), call.buffer(2), call.partials,
    )  # fmt: skip
    return call.finish()


@cs.device_twin(losses.triplet_margin_loss)
def triplet_margin_loss(
    anchor, positive, negative, margin=1.0, p=2, eps=1e-6, swap=False, reduction="mean", *,
    return_grad=False, grad_output=None, grad_out=None,
):  # fmt: skip
    args = cs.DeviceArgs()
    plan = plans.triplet(args, anchor, positive, negative, margin, swap, reduction, return_grad)
    p, eps = plans.pnorm(p, eps)
    if p != 2:
        raise ValueError(
            f"on CUDA device arrays triplet_margin_loss supports p=2 (the default) only; "
            f"got p={p} (call it with host arrays for other norms)"
        )
    return _triplet(plan, args, eps, return_grad, grad_output, grad_out)


@cs.device_twin(losses.triplet_margin_with_distance_loss)
def triplet_margin_with_distance_loss(
    anchor, positive, negative, *, distance_function=None, margin=1.0, swap=False,
    reduction="mean", distance_grad=None, return_grad=False, grad_output=None, grad_out=None,
):  # fmt: skip
    args = cs.DeviceArgs()
    plan = plans.triplet(args, anchor, positive, negative, margin, swap, reduction, return_grad)
    if distance_function is not None and distance_function != "euclidean":
        kind = (
            repr(distance_function) if isinstance(distance_function, str)
            else f"a {type(distance_function).__name__}"
        )  # fmt: skip
        raise TypeError(
            "on CUDA device arrays distance_function must be None or 'euclidean' (the "
            f"pairwise L2 distance, run fused on the GPU); got {kind}: a Python or @njit "
            "distance cannot run inside a CUDA kernel (call it with host arrays)"
        )
    if distance_grad is not None:
        raise ValueError(
            "distance_grad is only for a user distance_function, not 'euclidean' "
            "(whose gradient is built in)"
        )
    eps = losses.DISTANCES["euclidean"].eps
    return _triplet(plan, args, eps, return_grad, grad_output, grad_out)


def ptx_signatures():
    """``(kernel, argument types)`` of representative launches, for the offline PTX check.

    Every kernel in float32 and float64, unreduced (per-row ``grad_output``, loss and
    gradient arrays, strided rows, host weights) and reduced (``grad_output`` on the
    device, no weights, C-contiguous rows, no gradient).
    """
    from numba import types

    f64, i64, b1 = types.float64, types.int64, types.boolean
    part = f64[::1]
    none = types.none
    for dt in (types.float32, f64):
        arr = dt[::1]
        strided = dt[:, :]
        rows = dt[:, ::1]
        unreduced = (arr, f64, f64, arr)
        reduced = (dt, part, f64, none)
        yield multi_margin_kernel, (strided, i64[::1], arr, b1, dt, *unreduced, strided, part, part)
        yield multi_margin_kernel, (rows, i64[::1], dt, b1, dt, *reduced, none, part, part)
        yield multilabel_soft_margin_kernel, (strided, rows, rows, b1, *unreduced, strided, part)
        yield multilabel_soft_margin_kernel, (rows, rows, dt, b1, *reduced, none, part)
        yield cosine_embedding_kernel, (strided, strided, arr, f64, *unreduced, strided, strided,
                                        part)  # fmt: skip
        yield cosine_embedding_kernel, (rows, rows, arr, f64, *reduced, none, none, part)
        scratch = (types.int8[:, ::1], rows, f64[:, ::1], part, part)
        yield multilabel_margin_kernel, (strided, i64[:, :], dt, *unreduced, strided, *scratch)
        yield multilabel_margin_kernel, (rows, i64[:, ::1], dt, *reduced, none, *scratch)
        yield triplet_euclidean_kernel, (strided, strided, strided, f64, f64, b1, *unreduced,
                                         strided, strided, strided, part)  # fmt: skip
        yield triplet_euclidean_kernel, (rows, rows, rows, f64, f64, b1, *reduced, none, none,
                                         none, part)  # fmt: skip
