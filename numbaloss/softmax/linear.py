"""``linear_cross_entropy`` on the CPU: a linear layer and cross entropy, chunked over rows.

The ``N x C`` logits are never formed.  The rows are taken ``R`` at a time (a
*chunk*, ``chunk_size`` rows), and one ``(R, C)`` buffer serves every chunk:

1. ``buffer = x[chunk] @ W.T`` (plus the bias, which is written into the buffer
   first and added by the product: ``beta=1``), a BLAS ``gemm``
   (:func:`numbaloss._core.blas.gemm`, multi-threaded);
2. the softmax family's fused cross-entropy kernel (:func:`.cpu.index_rows` /
   :func:`.cpu.index_tiles`, :func:`.cpu.prob_rows` for class probabilities: the
   kernels of :func:`~numbaloss.cross_entropy`) over the buffer, writing each row's
   loss and the row's gradient ``G`` *over the buffer itself* (the kernels read a
   row before they write its gradient), on numbaloss's thread pool;
3. ``grad_linear_weight += G.T @ x[chunk]`` (``gemm`` with ``beta=1``: the chunks'
   contributions are added in chunk order into one buffer, no temporary),
   ``grad_linear_bias += ones @ G`` (in float64), and last
   ``grad_input[chunk] = G @ W`` (last, so that ``grad_out=input`` may overwrite the
   chunk's rows of the input once nothing reads them any more; formed in a small
   Fortran-ordered scratch, which OpenBLAS fills several times faster, and copied).

The weighted mean's divisor (the summed weight of the targets that are not
ignored) must be known before the first gradient is written, so the class indices
are checked and summed in one pass first (:func:`.cpu.check_targets`), which also
raises for an index out of range before anything is written.

Extra memory beyond the inputs and the gradients: the buffer (``R * C`` elements of
the compute dtype), the class indices as int64, and for float16 (computed in
float32) a float32 copy of the weight and of one chunk of the input.

K-dimensional losses (``linear_weight`` of shape ``(C, d1, ..., dk, in_features)``,
logits ``(N, C, d1, ..., dk)``, a softmax over ``C`` at each of the ``D = d1 * ... *
dk`` positions): the weight's rows are permuted to position-major order
``(D, C, in_features)`` (a copy), so that each chunk's buffer ``(R, D * C)`` holds
``R * D`` contiguous rows of ``C`` logits for the same kernels; the gradient is
permuted back at the end.

Bits: the loss's partial sums are the kernels' fixed blocks, added in chunk order,
and nothing depends on numbaloss's thread count.  The products are OpenBLAS's: the
same bits for any number of BLAS threads from 2 up, possibly not single-threaded
(see :mod:`numbaloss._core.blas`).  Results also depend on ``chunk_size`` (the
weight gradient is summed chunk by chunk), on the BLAS build and on the CPU.
"""

import numpy as np

from .._core import outputs, parallel
from .._core.blas import gemm
from .._core.validation import compute_dtype, native, result_dtype
from . import cpu

#: Bytes of the logits buffer that the default chunk aims at (see :func:`default_chunk_rows`).
CHUNK_BYTES = 1 << 25
#: The fewest rows of a default chunk.
MIN_CHUNK_ROWS = 256


def default_chunk_rows(width, itemsize):
    """Rows per chunk when ``chunk_size`` is not given, from the logits per row and the dtype.

    ``width`` is the number of logits per row (``C``, times ``D`` for a K-dimensional
    loss).  The chunk's buffer is about :data:`CHUNK_BYTES`, but holds at least
    :data:`MIN_CHUNK_ROWS` rows: the weight gradient is updated once per chunk
    (read and written whole, ``C * in_features`` elements), which costs memory
    traffic that only enough rows per chunk amortise.  A multiple of 8 rows.
    """
    rows = CHUNK_BYTES // max(1, width * itemsize)
    return max(MIN_CHUNK_ROWS, rows // 8 * 8)


class _Layout:
    """How a gradient buffer in the kernels' order maps to the caller's array (a layout
    of :mod:`numbaloss._core.outputs`): ``to_kernel`` and ``to_caller`` are views."""

    def __init__(self, shape, dtype, cdtype, kernel_shape, to_kernel, to_caller):
        self.shape, self.dtype, self.cdtype = tuple(shape), dtype, cdtype
        self.kernel_shape = kernel_shape
        self._to_kernel, self._to_caller = to_kernel, to_caller

    def to_kernel(self, arr):
        return self._to_kernel(arr)

    def to_caller(self, buffer):
        return self._to_caller(buffer)


def _position_major(arr, plan, rest):
    """``arr`` of shape ``(C, d1, ..., dk, *rest)`` as a ``(D * C, *rest)`` array in
    position-major order: a view for ``D == 1``, a copy otherwise."""
    c, d = plan.n_classes, plan.positions
    if d == 1:
        return arr.reshape(c, *rest)
    return np.swapaxes(arr.reshape(c, d, *rest), 0, 1).reshape(d * c, *rest)


def _position_major_view(arr, plan, rest):
    """Where a gradient slot would write ``arr`` (caller's order) in position-major order:
    a view, contiguous only where no permutation is needed (else the slot writes a
    buffer of its own and copies it into ``arr`` at the end)."""
    c, d = plan.n_classes, plan.positions
    if d == 1:
        return arr.reshape(c, *rest)
    return np.swapaxes(arr.reshape(c, d, *rest), 0, 1)


def _caller_order(buffer, plan, rest, shape):
    """A ``(D * C, *rest)`` buffer in the caller's ``(C, d1, ..., dk, *rest)`` order."""
    c, d = plan.n_classes, plan.positions
    if d == 1:
        return buffer.reshape(shape)
    return np.ascontiguousarray(np.swapaxes(buffer.reshape(d, c, *rest), 0, 1)).reshape(shape)


def _blas_ready(arr):
    """``arr`` as BLAS takes it without a copy: C- or Fortran-contiguous (copied otherwise)."""
    if arr.flags.c_contiguous or arr.flags.f_contiguous:
        return arr
    return np.ascontiguousarray(arr)


def _slots(plan, dtype, cdtype, x2, w2, b2, grad_out):
    """The gradient slots: input, linear_weight (and linear_bias when given)."""
    n, k = plan.rows, plan.in_features
    width = plan.positions * plan.n_classes
    w_shape = tuple(plan.linear_weight.shape)
    names = ["input", "linear_weight"]
    layouts = [
        _Layout(
            plan.x.shape,
            dtype,
            cdtype,
            (n, k),
            lambda a: a.reshape(n, k),
            lambda g: g.reshape(plan.x.shape),
        ),
        _Layout(
            w_shape,
            dtype,
            cdtype,
            (width, k),
            lambda a: _position_major_view(a, plan, (k,)),
            lambda g: _caller_order(g, plan, (k,), w_shape),
        ),
    ]
    if plan.bias is not None:
        b_shape = tuple(plan.bias.shape)
        names.append("linear_bias")
        layouts.append(
            _Layout(
                b_shape,
                dtype,
                cdtype,
                (width,),
                lambda a: _position_major_view(a, plan, ()),
                lambda g: _caller_order(g, plan, (), b_shape),
            )
        )
    readers = [r for r in (x2, w2, b2) if r is not None]
    slots = outputs.grad_slots(names, layouts, grad_out, readers)
    # The weight and the bias are read by every chunk: their gradients may not share
    # their memory (the input's may: a chunk's rows are written after their last read).
    for slot in slots[1:]:
        if any(np.may_share_memory(slot.buffer, r) for r in readers):
            slot.buffer = np.empty(slot.layout.kernel_shape, dtype=cdtype)
    return slots


def _targets(plan, cdtype):
    """Class indices as flat int64 (validated), their weights, the sum of the weights and of
    the weights of the targets that are not ignored."""
    t = np.ascontiguousarray(native(plan.target, np.dtype(np.int64))).reshape(-1)
    w = (
        np.ones(plan.n_classes, dtype=cdtype)
        if plan.weight is None
        else np.ascontiguousarray(native(plan.weight, cdtype))
    )
    bad, w_total, _ = cpu.check_targets(t, w, plan.ignore_index, plan.n_classes)
    if bad >= 0:
        raise ValueError(
            f"target {int(t[bad])} is out of bounds: class indices must be in "
            f"[0, {plan.n_classes}) or equal ignore_index={plan.ignore_index}"
        )
    return t, w, float(np.sum(w, dtype=np.float64)), w_total


def run(plan, return_grad, grad_output, grad_out):
    """Run a validated :class:`~.plans.LinearPlan` on the CPU (see the module's docs)."""
    dtype = result_dtype(plan.x, plan.linear_weight, plan.bias)
    cdtype = compute_dtype(dtype)
    n, k, c, d = plan.rows, plan.in_features, plan.n_classes, plan.positions
    width = d * c
    x2 = native(plan.x, plan.x.dtype).reshape(n, k)
    w2 = _blas_ready(_position_major(native(plan.linear_weight, cdtype), plan, (k,)))
    b2 = None
    if plan.bias is not None:
        b2 = np.ascontiguousarray(_position_major(native(plan.bias, cdtype), plan, ()))

    total_rows = n * d
    reduction = plan.reduction
    if plan.kind == "index":
        t, cw, w_sum, divisor = _targets(plan, cdtype)
    else:
        t = None
        cw = (
            np.ones(c, dtype=cdtype)
            if plan.weight is None
            else np.ascontiguousarray(native(plan.weight, cdtype))
        )
        divisor = total_rows
    if reduction == "none":
        g = cdtype.type(1)
        if grad_output is not None:
            g = outputs.upstream_rows(grad_output, plan.loss_shape, cdtype)
    else:
        g = outputs.upstream_scalar(grad_output)
        g = cdtype.type(outputs.divide(g, divisor) if reduction == "mean" else g)

    slots = _slots(plan, dtype, cdtype, x2, w2, b2, grad_out) if return_grad else None
    g_b = None
    if slots is not None:
        g_x, g_w = slots[0].buffer, slots[1].buffer
        g_w.fill(0)
        if b2 is not None:
            g_b = np.zeros(width, dtype=np.float64)

    loss_rows = np.empty(total_rows if reduction == "none" else 0, dtype=cdtype)
    chunk = plan.chunk_size or default_chunk_rows(width, cdtype.itemsize)
    chunk = max(1, min(chunk, n))
    buffer = np.empty((chunk, width), dtype=cdtype)
    # grad_input's chunk is formed in a Fortran-ordered scratch and copied into its rows:
    # OpenBLAS is several times faster at G @ W that way (see numbaloss._core.blas)
    gx_scratch = np.empty(chunk * k if slots is not None else 0, dtype=cdtype)
    column = np.empty(width, dtype=cdtype) if slots is not None and b2 is not None else None
    ones = np.ones(chunk, dtype=cdtype) if column is not None else None
    block_rows = cpu.rows_per_block(c)
    if plan.kind == "index":
        kernel = cpu.index_tiles if c <= cpu.SMALL_C else cpu.index_rows
    totals = np.zeros(2, dtype=np.float64)
    for lo in range(0, n, chunk):
        hi = min(lo + chunk, n)
        r = hi - lo
        xc = np.ascontiguousarray(native(x2[lo:hi], cdtype))
        logits = buffer[:r]
        if b2 is not None:
            logits[...] = b2
        gemm(xc, w2.T, logits, beta=0.0 if b2 is None else 1.0)
        rows = logits.reshape(r * d, c)
        lo_row, hi_row = lo * d, hi * d
        ga = g[lo_row:hi_row] if isinstance(g, np.ndarray) else g
        loss_out = loss_rows[lo_row:hi_row] if reduction == "none" else loss_rows
        grad = rows if return_grad else None
        nblocks = parallel.n_blocks(r * d, block_rows)
        if plan.kind == "index":
            partials = np.zeros((nblocks, 2), dtype=np.float64)
            # hess None: linear_cross_entropy has no Hessian (the kernels' slot stays empty)
            args = (plan.params, rows, t[lo_row:hi_row], cw, w_sum, ga, ga, loss_out, grad, None)
            parallel.run_ranges(
                kernel, nblocks, block_rows * max(c, 1), *args, block_rows, partials
            )
        else:
            partials = np.zeros((nblocks, 1), dtype=np.float64)
            prob = _prob_rows(plan, lo, hi, cdtype)
            args = (rows, prob, cw, plan.label_smoothing, ga, loss_out, grad, None)
            parallel.run_ranges(
                cpu.prob_rows, nblocks, block_rows * max(c, 1), *args, block_rows, partials
            )
        totals[: partials.shape[1]] += partials.sum(axis=0)
        if slots is None:
            continue
        gemm(logits.T, xc, g_w, beta=1.0)
        if column is not None:
            gemm(ones[None, :r], logits, column[None, :])
            g_b += column
        gx_chunk = gx_scratch[: r * k].reshape((r, k), order="F")
        gemm(logits, w2, gx_chunk)
        g_x[lo:hi] = gx_chunk

    if reduction == "none":
        loss = outputs.loss_array(loss_rows, plan.loss_shape, dtype)
    elif reduction == "mean":
        loss = dtype.type(outputs.divide(totals[0], divisor) + outputs.divide(totals[1], divisor))
    else:
        loss = outputs.scalar_loss(totals[0] + totals[1], reduction, dtype)
    if g_b is not None:
        slots[2].buffer[...] = g_b
    return outputs.results(loss, slots)


def _prob_rows(plan, lo, hi, cdtype):
    """The class probabilities of rows ``lo:hi`` as ``(rows * D, C)``, C-contiguous."""
    p = plan.target
    if len(p.shape) == 1:
        p = p[None, :]
    p = p[lo:hi]
    if p.ndim > 2:
        p = np.moveaxis(p, 1, -1)
    return np.ascontiguousarray(native(p, cdtype)).reshape(-1, plan.n_classes)
