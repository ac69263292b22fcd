"""CUDA kernels of the softmax family: the functions of :mod:`.losses` on device arrays.

Reached through :func:`numbaloss._core.devices.on_device` when an argument is a
CUDA device array (numba, CuPy, PyTorch).  Each public function has the signature
and docs of its CPU twin and validates its arguments with the same :mod:`.plans`.

Row kernels (cross entropy, focal loss, NLL, the stable primitives): a group of
threads per row, the power of two that covers the row's classes up to a whole block
(so a long row gets a block, and short rows share one: e.g. 16 rows of 10 classes
per block of 256 threads), the blocks striding over the rows, the threads of a group
striding over the row's classes.  A row is read in place, whatever the input's
layout: a row's base offset comes from its index in the loss's shape and the element
strides of the array, the class axis from its own stride, so ``(N, C, d1, ..., dk)``
inputs and Fortran order need no copy, and the gradient, written with *its*
strides, may be the input itself (``grad_out=input``: each thread writes only the
classes it read, after the row's reductions).  Per row:

1. :func:`segment_max` of the threads' maxima: ``m``;
2. one pass for the sums (``s_rest``, the exps of the other classes, summed apart
   from the target's as on the CPU; the smoothing term ``sum_c w_c (m - x_c)``),
   each thread in the compute dtype, the group's tree in float64
   (:func:`segment_sum`; every thread of the group gets the total);
3. every thread of the group evaluates the row math of :mod:`.points`, which the
   CPU kernels share (:func:`.points.log_sum`, :func:`.points.row_terms`, i.e.
   ``CrossEntropy.terms``/``Focal.terms``, and :func:`.points.target_grad`, compiled
   for the GPU), then writes the gradient of its classes from ``exp(x_c - m)``, and
   with ``return_hess=True`` the Hessian's diagonal in the same loop (each thread
   reads a class before it writes its entries, so either output may be the input).

The first thread of a group adds up its rows' losses in float64, a block tree sums
those into one partial per block, and the per-block partials are summed by
:func:`~numbaloss._core.cuda_support.reduce_partials`, which also divides by the
mean's divisor on the device (no float atomics: the same sums in the same order on
every run).  The weighted mean's divisor (the
summed weight of the targets that are not ignored) is formed by a first small
kernel over the targets, which also finds class indices out of range: its per-block
flags are read back (the one synchronisation of a call with class indices, as
``binary_cross_entropy``'s domain check in the elementwise family) and a bad index
raises the CPU's ``ValueError`` before the row kernel runs, so an in-place
``grad_out`` is left untouched as on the CPU.

``zero_one_loss`` takes one thread per row (an argmax), no
synchronisation.  Device arrays must be contiguous (C or Fortran order), as in the
elementwise family; a strided view raises ``ValueError``.  ``logsumexp``/``log_softmax``/``softmax`` reduce over any axes:
the input is laid out as a C-ordered ``(rows, width)`` matrix on the device (no copy
when the axes already are the last ones of a C-ordered array), and the result laid
back.  Results stay on the device; a reduced loss is a 0-d device array.

``linear_cross_entropy`` runs the CPU's chunked algorithm (:mod:`.linear`) on device
chunks: the matrix products in cuBLAS through :mod:`numbaloss._core.device_blas`,
``index_kernel``/``prob_kernel`` in place over each chunk's buffer (its rows laid out
through strides as any input's), the bias broadcast and the bias gradient's column
sums (float64, rows in order) in small kernels of their own.
"""

import math

import numpy as np
from numba import cuda, float64

from .._core import cuda_support as cs
from .._core import device_blas
from .._core.cuda_support import MAX_THREADS
from .._core.traits import at, like
from .._core.validation import native
from .._core.vecmath import exp, log
from . import losses, plans
from .points import (
    LOG_SOFTMAX,
    LOGSUMEXP,
    SOFTMAX,
    log_sum,
    prob_loss,
    prob_weight,
    row_hess,
    row_hess_terms,
    row_terms,
    target_grad,
    target_hess,
)

# --- device helpers ------------------------------------------------------------------


@cuda.jit(device=True)
def segment_sum(value, width):
    """Sum of ``value`` over each aligned group of ``width`` consecutive threads.

    ``width`` is a power of two dividing ``blockDim.x``; the tree order is fixed,
    and with ``width == blockDim.x`` it is
    :func:`~numbaloss._core.cuda_support.block_sum`'s.  Every thread of the block
    must call it (it synchronises); every thread gets its group's total.

    (Defined here rather than in :mod:`numbaloss._core.cuda_support`: numba's CUDA
    simulator swaps the ``cuda`` module into a device function's module at every
    call, and before NVIDIA/numba-cuda#690 a device function of another module
    called by many threads could see the swap undone by another thread; device
    functions of the kernel's own module are swapped once, for the whole launch.
    ``tests/cuda/conftest.py::simulator_device_calls_are_thread_safe`` applies
    that fix to older simulators; the softmax tests of ``tests/cuda`` under the
    simulator fail if the race returns.)
    """
    buf = cuda.shared.array(MAX_THREADS, float64)
    tid = cuda.threadIdx.x
    lane = tid % width
    cuda.syncthreads()  # the buffer may still be read by a previous call
    buf[tid] = value
    cuda.syncthreads()
    half = width // 2
    while half > 0:
        if lane < half:
            buf[tid] += buf[tid + half]
        cuda.syncthreads()
        half //= 2
    total = buf[tid - lane]
    return total


@cuda.jit(device=True)
def segment_max(value, width):
    """Maximum of ``value`` over each aligned group of ``width`` threads (NaN wins).

    Same contract as :func:`segment_sum`; with ``width == blockDim.x`` it is
    :func:`~numbaloss._core.cuda_support.block_max`.
    """
    buf = cuda.shared.array(MAX_THREADS, float64)
    tid = cuda.threadIdx.x
    lane = tid % width
    cuda.syncthreads()
    buf[tid] = value
    cuda.syncthreads()
    half = width // 2
    while half > 0:
        if lane < half:
            other = buf[tid + half]
            if other > buf[tid] or other != other:
                buf[tid] = other
        cuda.syncthreads()
        half //= 2
    top = buf[tid - lane]
    return top


@cuda.jit(device=True)
def row_offset(r, lshape, strides):
    """Element offset of row ``r`` (C order of ``lshape``) in an array of ``strides``."""
    offset = 0
    rem = r
    for k in range(len(lshape) - 1, -1, -1):
        size = lshape[k]
        offset += (rem % size) * strides[k]
        rem //= size
    return offset


@cuda.jit(device=True)
def row_max(x, base, stride, n_classes, zero, group, live):
    """The largest of a row's ``n_classes`` entries (NaN wins), in the type of ``zero``.

    Every thread of the block calls it; the threads of a row's group (``group``
    consecutive threads) get the row's maximum (``-inf`` where not ``live``).
    """
    top = -math.inf
    if live:
        for c in range(cuda.threadIdx.x % group, n_classes, group):
            v = float64(x[base + c * stride])
            if v > top or v != v:
                top = v
    return like(zero, segment_max(top, group))


# --- class indices: the weighted mean's divisor and the range check -----------------------


@cuda.jit
def target_kernel(target, weight, ignore_index, n_classes, weight_sums, first_bad):
    """Per-block float64 sums of ``weight[t]`` over targets not ignored, and ``-i`` of the
    first target ``i`` out of ``[0, C)`` (``-inf``: none)."""
    total = 0.0
    bad = -math.inf
    for i in range(cuda.grid(1), target.shape[0], cuda.gridsize(1)):
        t = target[i]
        if t == ignore_index:
            continue
        if t < 0 or t >= n_classes:
            key = -float64(i)  # (no builtin max: it does not type here for the CUDA target)
            if key > bad:
                bad = key
            continue
        total += float64(at(weight, t))
    total = segment_sum(total, cuda.blockDim.x)
    bad = segment_max(bad, cuda.blockDim.x)
    if cuda.threadIdx.x == 0:
        weight_sums[cuda.blockIdx.x] = total
        first_bad[cuda.blockIdx.x] = bad


# --- row kernels ---------------------------------------------------------------------
#
# A block of ``blockDim.x`` threads takes ``blockDim.x // group`` rows at a time, a
# group of ``group`` consecutive threads (a power of two) per row; the blocks stride
# over the rows.  The loop bounds are the same for every thread of a block (the
# reductions synchronise the block), so rows past the end, and ignored rows, take
# part in the reductions with neutral values and write nothing else.


@cuda.jit
def index_kernel(
    params,
    x,
    xs,
    target,
    weight,
    w_sum,
    gout,
    gmul,
    gdiv,
    lshape,
    n_classes,
    rows,
    group,
    zero,
    loss_out,
    grad,
    gs,
    hess,
    hs,
    partials,
):
    """Cross entropy / focal loss with class indices: loss and gradient, a thread group per row.

    ``x`` and ``grad`` are flat views of arrays of the input's shape with element
    strides ``xs``/``gs`` (the loss axes', then the class axis'); ``target`` and
    ``gout`` (per-row upstream gradient or a scalar) are flat in C order of the
    loss's shape ``lshape``.  Gradients are scaled by ``gmul / gdiv`` (scalars or
    1-element device arrays).  Rows whose target is ``ignore_index`` get loss and
    gradient 0.  ``hess`` (strides ``hs``), where not ``None``, gets the diagonal of
    the Hessian (:func:`.points.row_hess`), 0 for ignored rows.
    """
    tid = cuda.threadIdx.x
    lane = tid % group
    per_block = cuda.blockDim.x // group
    scale = cs.ratio(gmul, gdiv)
    wsum = float64(at(w_sum, 0))
    smoothing = params.smoothing != 0
    cx = xs[len(lshape)]
    cg = gs[len(lshape)]
    ch = hs[len(lshape)]
    total = 0.0
    for r0 in range(cuda.blockIdx.x * per_block, rows, cuda.gridDim.x * per_block):
        r = r0 + tid // group
        inside = r < rows
        t = target[r] if inside else 0
        live = inside and t != params.ignore_index and t >= 0 and t < n_classes
        base = row_offset(r, lshape, xs)
        gbase = row_offset(r, lshape, gs)
        hbase = row_offset(r, lshape, hs)
        x_t = like(zero, x[base + t * cx]) if live else zero
        m = row_max(x, base, cx, n_classes, zero, group, live)
        if not live:
            m = zero
        e_t = exp(x_t - m)
        s_rest = zero
        sd = zero
        if live:
            for c in range(lane, n_classes, group):
                xc = like(zero, x[base + c * cx])
                if c != t:
                    s_rest += exp(xc - m)
                if smoothing:
                    sd += like(zero, at(weight, c)) * (m - xc)
        s_rest = like(zero, segment_sum(float64(s_rest), group))
        if smoothing:
            sd = like(zero, segment_sum(float64(sd), group))
        if live:
            a = like(zero, scale * float64(at(gout, r)))
            log_s = log_sum(e_t, s_rest)
            part0, part1, big_a, big_b, big_d = row_terms(
                params,
                n_classes,
                log_s,
                (m - x_t) + log_s,
                e_t,
                s_rest,
                sd,
                like(zero, at(weight, t)),
                wsum,
                a,
                a,
            )
            if hess is None:
                if grad is not None:
                    factor = big_a / (e_t + s_rest)
                    for c in range(lane, n_classes, group):
                        wc = like(zero, at(weight, c))
                        if c == t:
                            grad[gbase + c * cg] = target_grad(
                                e_t, s_rest, big_a, big_b, big_d * wc
                            )
                        else:
                            e = exp(like(zero, x[base + c * cx]) - m)
                            grad[gbase + c * cg] = e * factor - big_d * wc
            else:
                k = row_hess_terms(
                    params,
                    n_classes,
                    log_s,
                    (m - x_t) + log_s,
                    e_t,
                    s_rest,
                    sd,
                    like(zero, at(weight, t)),
                    wsum,
                    a,
                    a,
                )
                s = e_t + s_rest
                factor = big_a / s
                a_s2 = big_a / (s * s)
                inv_rest = like(zero, 1) / s_rest if s_rest > 0 else zero
                for c in range(lane, n_classes, group):
                    wc = like(zero, at(weight, c))
                    if c == t:
                        g = target_grad(e_t, s_rest, big_a, big_b, big_d * wc)
                        h = target_hess(e_t, s_rest, a_s2, k)
                    else:
                        e = exp(like(zero, x[base + c * cx]) - m)
                        g = e * factor - big_d * wc
                        h = row_hess(e, s, a_s2, k, inv_rest)
                    if grad is not None:
                        grad[gbase + c * cg] = g
                    hess[hbase + c * ch] = h
            if lane == 0:
                if loss_out is not None:
                    loss_out[r] = part0 + part1
                total += float64(part0) + float64(part1)
        elif inside:
            if grad is not None:
                for c in range(lane, n_classes, group):
                    grad[gbase + c * cg] = 0
            if hess is not None:
                for c in range(lane, n_classes, group):
                    hess[hbase + c * ch] = 0
            if loss_out is not None:
                if lane == 0:
                    loss_out[r] = 0
    total = segment_sum(total, cuda.blockDim.x)
    if tid == 0:
        partials[cuda.blockIdx.x] = total


@cuda.jit
def nll_kernel(
    x,
    xs,
    target,
    weight,
    ignore_index,
    gout,
    gmul,
    gdiv,
    lshape,
    n_classes,
    rows,
    group,
    zero,
    loss_out,
    grad,
    gs,
    hess,
    hs,
    partials,
):
    """``-w_t x_t`` per row of log-probabilities; the gradient row is ``-w_t`` at ``t``,
    the Hessian's diagonal 0 (the loss is linear).

    Layout as in :func:`index_kernel`.  ``x_t`` is read before the group writes the
    row's gradient (a barrier between), so ``grad`` (or ``hess``) may be ``x``.
    """
    tid = cuda.threadIdx.x
    lane = tid % group
    per_block = cuda.blockDim.x // group
    scale = cs.ratio(gmul, gdiv)
    cx = xs[len(lshape)]
    cg = gs[len(lshape)]
    ch = hs[len(lshape)]
    total = 0.0
    for r0 in range(cuda.blockIdx.x * per_block, rows, cuda.gridDim.x * per_block):
        r = r0 + tid // group
        inside = r < rows
        t = target[r] if inside else 0
        keep = inside and t != ignore_index and t >= 0 and t < n_classes
        base = row_offset(r, lshape, xs)
        gbase = row_offset(r, lshape, gs)
        hbase = row_offset(r, lshape, hs)
        w_t = like(zero, at(weight, t)) if keep else zero
        loss = -w_t * like(zero, x[base + t * cx]) if keep else zero
        cuda.syncthreads()
        if inside:
            if grad is not None:
                g = -w_t * like(zero, scale * float64(at(gout, r)))
                for c in range(lane, n_classes, group):
                    grad[gbase + c * cg] = g if keep and c == t else zero
            if hess is not None:
                for c in range(lane, n_classes, group):
                    hess[hbase + c * ch] = zero
            if lane == 0:
                if loss_out is not None:
                    loss_out[r] = loss
                total += float64(loss)
    total = segment_sum(total, cuda.blockDim.x)
    if tid == 0:
        partials[cuda.blockIdx.x] = total


@cuda.jit
def prob_kernel(
    x,
    xs,
    prob,
    ps,
    weight,
    smoothing,
    gout,
    gmul,
    gdiv,
    lshape,
    n_classes,
    rows,
    group,
    zero,
    loss_out,
    grad,
    gs,
    hess,
    hs,
    partials,
):
    """Cross entropy with class probabilities ``prob`` (the input's shape, strides ``ps``).

    With ``q_c = (1 - eps) prob_c + eps / C``: loss ``sum_c w_c q_c (m - x_c) + S log s``
    (``S = sum_c w_c q_c``, ``s = sum_c exp(x_c - m)``), gradient ``p_c S - w_c q_c``,
    Hessian's diagonal ``S p_c (1 - p_c)`` (into ``hess`` where not ``None``),
    with :func:`.cpu.prob_rows`'s helpers :func:`.points.prob_weight` and :func:`.points.prob_loss`.  Layout as in :func:`index_kernel`.
    """
    tid = cuda.threadIdx.x
    lane = tid % group
    per_block = cuda.blockDim.x // group
    scale = cs.ratio(gmul, gdiv)
    keep = like(zero, 1 - smoothing)
    spread = like(zero, smoothing / (n_classes if n_classes > 0 else 1))
    cx = xs[len(lshape)]
    cp = ps[len(lshape)]
    cg = gs[len(lshape)]
    ch = hs[len(lshape)]
    total = 0.0
    for r0 in range(cuda.blockIdx.x * per_block, rows, cuda.gridDim.x * per_block):
        r = r0 + tid // group
        inside = r < rows
        base = row_offset(r, lshape, xs)
        pbase = row_offset(r, lshape, ps)
        gbase = row_offset(r, lshape, gs)
        hbase = row_offset(r, lshape, hs)
        m = row_max(x, base, cx, n_classes, zero, group, inside)
        s = zero
        big_s = zero
        dot = zero
        if inside:
            for c in range(lane, n_classes, group):
                xc = like(zero, x[base + c * cx])
                wq = prob_weight(
                    like(zero, at(weight, c)), like(zero, prob[pbase + c * cp]), keep, spread
                )
                big_s += wq
                dot += wq * (m - xc)
                s += exp(xc - m)
        s = like(zero, segment_sum(float64(s), group))
        big_s = like(zero, segment_sum(float64(big_s), group))
        dot = like(zero, segment_sum(float64(dot), group))
        if inside:
            loss = prob_loss(dot, big_s, s)
            if hess is None:
                if grad is not None:
                    a = like(zero, scale * float64(at(gout, r)))
                    factor = a * big_s / s
                    for c in range(lane, n_classes, group):
                        xc = like(zero, x[base + c * cx])
                        wq = prob_weight(
                            like(zero, at(weight, c)),
                            like(zero, prob[pbase + c * cp]),
                            keep,
                            spread,
                        )
                        grad[gbase + c * cg] = exp(xc - m) * factor - a * wq
            else:
                a = like(zero, scale * float64(at(gout, r)))
                factor = a * big_s / s
                a_s2 = a * big_s / (s * s)
                for c in range(lane, n_classes, group):
                    xc = like(zero, x[base + c * cx])
                    wq = prob_weight(
                        like(zero, at(weight, c)), like(zero, prob[pbase + c * cp]), keep, spread
                    )
                    e = exp(xc - m)
                    if grad is not None:
                        grad[gbase + c * cg] = e * factor - a * wq
                    hess[hbase + c * ch] = e * (a_s2 * (s - e))
            if lane == 0:
                if loss_out is not None:
                    loss_out[r] = loss
                total += float64(loss)
    total = segment_sum(total, cuda.blockDim.x)
    if tid == 0:
        partials[cuda.blockIdx.x] = total


@cuda.jit
def primitive_kernel(x, width, rows, group, kind, zero, out):
    """SciPy's ``logsumexp`` (``out`` of ``rows``), ``log_softmax`` or ``softmax``
    (``out`` of ``rows * width``) of a C-ordered ``(rows, width)`` matrix, as
    :func:`.cpu.softmax_rows` (a non-finite maximum shifts by 0 except for softmax).
    Layout as in :func:`index_kernel`."""
    tid = cuda.threadIdx.x
    lane = tid % group
    per_block = cuda.blockDim.x // group
    for r0 in range(cuda.blockIdx.x * per_block, rows, cuda.gridDim.x * per_block):
        r = r0 + tid // group
        inside = r < rows
        base = r * width
        m = row_max(x, base, 1, width, zero, group, inside)
        shift = m
        if kind != SOFTMAX and not math.isfinite(float64(m)):
            shift = zero
        s = zero
        if inside:
            for c in range(lane, width, group):
                s += exp(like(zero, x[base + c]) - shift)
        s = like(zero, segment_sum(float64(s), group))
        if inside:
            if kind == SOFTMAX:
                inv = 1 / s
                for c in range(lane, width, group):
                    out[base + c] = exp(like(zero, x[base + c]) - shift) * inv
            elif kind == LOGSUMEXP:
                if lane == 0:
                    out[r] = shift + log(s)
            else:
                log_s = log(s)
                for c in range(lane, width, group):
                    out[base + c] = (like(zero, x[base + c]) - shift) - log_s


@cuda.jit
def zero_one_kernel(x, s0, s1, n_classes, scores, target, rows, loss_out, partials):
    """``[argmax_c x[i, c] != t_i]`` (``scores``) or ``[x_i != t_i]`` per row, one thread
    per row; ties go to the first class, a NaN score is the largest (NumPy's argmax)."""
    total = 0.0
    for i in range(cuda.grid(1), rows, cuda.gridsize(1)):
        if scores:
            best = x[i * s0]
            arg = 0
            if best == best:
                for c in range(1, n_classes):
                    v = x[i * s0 + c * s1]
                    if v != v:
                        arg = c
                        break
                    if v > best:
                        best = v
                        arg = c
            pred = float64(arg)
        else:
            pred = float64(x[i * s0])
        wrong = 1.0 if pred != float64(target[i]) else 0.0
        if loss_out is not None:
            loss_out[i] = wrong
        total += wrong
    total = segment_sum(total, cuda.blockDim.x)
    if cuda.threadIdx.x == 0:
        partials[cuda.blockIdx.x] = total


# --- layout and arguments ----------------------------------------------------------------


def _row_launch(rows, width):
    """``(blocks, threads, group)`` of a row kernel: ``group`` threads per row (the power
    of two that covers a row, at most a block), whole blocks, up to the grid cap."""
    threads, max_blocks = cs.get_launch_config()
    # (threads <= MAX_THREADS, so pow2_at_least's cap at MAX_THREADS changes nothing here)
    group = min(threads, cs.pow2_at_least(max(width, 1)))
    per_block = threads // group
    return min(max(-(-rows // per_block), 1), max_blocks), threads, group


def _element_strides(arr):
    cs.contiguous_order(arr)  # ValueError for other strides
    itemsize = np.dtype(arr.dtype).itemsize
    return [int(s) // itemsize for s in arr.strides]


def _row_strides(arr):
    """Element strides of an array of the input's shape: loss axes, then the class axis."""
    st = _element_strides(arr)
    if len(st) == 1:
        return (0, st[0])
    return (st[0], *st[2:], st[1])


def _flat(arr):
    return cs.flat_view(arr) if arr.size else cuda.device_array(0, dtype=arr.dtype)


def _class_weights(weight, n_classes, cdtype, need_sum):
    """``(weight, w_sum)`` for the kernels: a flat device array or the scalar 1, and the
    sum of the weights (float, 1-element device array, or 0 where it is not used)."""
    if weight is None:
        return cdtype.type(1), float(n_classes)
    if isinstance(weight, np.ndarray):  # a small option from the host
        host = np.ascontiguousarray(native(weight, cdtype))
        return cuda.to_device(host), float(np.sum(host, dtype=np.float64))
    w = cs.gather(weight, (n_classes,), False, cdtype)
    return w, (cs.device_sum(w) if need_sum and n_classes else 0.0)


def _flat_targets(t, lshape):
    """Class indices as flat int64 in C order of the loss's shape."""
    if t.ndim == 0:
        t = t.reshape(1)
    return cs.gather(t, lshape, False, np.int64)


def _check_targets(target, weight, ignore_index, n_classes):
    """The summed weight of the targets not ignored (1-element device array); raises
    the CPU's ``ValueError`` for a class index out of range (reads one flag per block)."""
    blocks, threads = cs.launch_config(target.shape[0])
    sums = cuda.device_array(blocks, dtype=np.float64)
    bad = cuda.device_array(blocks, dtype=np.float64)
    target_kernel[blocks, threads](target, weight, ignore_index, n_classes, sums, bad)
    first = bad.copy_to_host().max()  # the one synchronisation
    if first > -math.inf:
        pos = int(-first)
        value = int(target[pos : pos + 1].copy_to_host()[0])
        raise ValueError(
            f"target {value} is out of bounds: class indices must be in "
            f"[0, {n_classes}) or equal ignore_index={ignore_index}"
        )
    return cs.reduce_partials(sums, 1.0, np.float64)


def _class_loss(plan, args, return_grad, grad_output, grad_out, return_hess=False, hess_out=None):
    """Run a validated :class:`~.plans.ClassPlan` on the GPU; results stay on the device."""
    x = plan.x
    dtype, cdtype = cs.result_dtypes(x)
    zero = cdtype.type(0)
    n_classes, rows, reduction = plan.n_classes, plan.rows, plan.reduction
    lshape = tuple(plan.loss_shape) or (1,)
    xs = _row_strides(x)
    weight, w_sum = _class_weights(plan.weight, n_classes, cdtype, plan.label_smoothing != 0)
    divisor = 1.0
    target = None
    if plan.kind == "prob":
        if reduction == "mean":
            divisor = float(rows)
    else:
        target = _flat_targets(plan.target, lshape)
        w_total = _check_targets(target, weight, plan.ignore_index, n_classes)
        if reduction == "mean":
            divisor = w_total
    if reduction == "none":
        loss_out = cuda.device_array(rows, dtype=cdtype)
        gout, gmul, gdiv = cs.device_upstream(args, grad_output, plan.loss_shape, cdtype), 1.0, 1.0
    else:
        loss_out = None
        gout = cdtype.type(1)
        gmul = cs.device_scale(args, grad_output)
        gdiv = divisor
    slots = hslots = None
    gflat, gs = None, tuple(0 for _ in xs)
    hflat, hs = None, tuple(0 for _ in xs)
    # the kernel writes any C- or F-ordered array of the input's shape (in place too)
    layout = cs.DeviceLayout(x.shape, dtype, cdtype, "strided")
    if return_grad:
        slots = cs.device_grad_slots(args, ["input"], layout, grad_out)
        gflat, gs = _flat(slots[0].buffer), _row_strides(slots[0].buffer)
    if return_hess:
        hslots = cs.device_hess_slots(args, ["input"], layout, hess_out, grad_out)
        hflat, hs = _flat(hslots[0].buffer), _row_strides(hslots[0].buffer)
    blocks, threads, group = _row_launch(rows, n_classes)
    partials = cuda.device_array(blocks, dtype=np.float64)
    common = (
        gout,
        gmul,
        gdiv,
        lshape,
        n_classes,
        rows,
        group,
        zero,
        loss_out,
        gflat,
        gs,
        hflat,
        hs,
        partials,
    )
    if plan.kind == "index":
        index_kernel[blocks, threads](plan.params, _flat(x), xs, target, weight, w_sum, *common)
    elif plan.kind == "nll":
        nll_kernel[blocks, threads](_flat(x), xs, target, weight, plan.ignore_index, *common)
    else:
        prob = plan.target
        prob_kernel[blocks, threads](
            _flat(x), xs, _flat(prob), _row_strides(prob), weight, plan.label_smoothing, *common
        )
    if loss_out is not None:
        loss = cs.device_loss_array(args, loss_out, plan.loss_shape, dtype)
    else:
        loss = cs.device_reduced_loss(args, partials, gdiv, dtype)
    return cs.device_results(loss, slots, hslots)


def _zero_one(plan, args):
    x, t = plan.x, plan.target
    dtype, cdtype = cs.result_dtypes(x)
    rows = int(x.shape[0])
    st = _element_strides(x)
    s0, s1 = st[0], (st[1] if x.ndim == 2 else 0)
    n_classes = int(x.shape[1]) if x.ndim == 2 else 1
    loss_out = cuda.device_array(rows, dtype=cdtype) if plan.reduction == "none" else None
    blocks, threads = cs.launch_config(rows)
    partials = cuda.device_array(blocks, dtype=np.float64)
    target = cs.gather(t, (rows,), False, t.dtype)
    zero_one_kernel[blocks, threads](
        _flat(x), s0, s1, n_classes, plan.scores, target, rows, loss_out, partials
    )
    if loss_out is not None:
        return cs.device_loss_array(args, loss_out, (rows,), dtype)
    divisor = float(rows) if plan.reduction == "mean" else 1.0
    return cs.device_reduced_loss(args, partials, divisor, dtype)


# --- stable primitives ------------------------------------------------------------------


def _permute(flat, shape, strides, out_dtype):
    """``out[i] = flat[offset(i)]``, ``i`` in C order of ``shape`` (``strides`` per axis)."""
    n = int(np.prod(shape, dtype=np.int64))
    out = cuda.device_array(n, dtype=out_dtype)
    if n:
        blocks, threads = cs.launch_config(n)
        cs.gather_kernel[blocks, threads](flat, tuple(strides), tuple(shape), out)
    return out


def _primitive(args, kind, x, axis, name):
    arr = args.array(x, name)
    dtype, cdtype = cs.result_dtypes(arr)
    axes, _ = plans.primitive_axes(arr.ndim, axis)
    given_shape, given_axes = tuple(int(s) for s in arr.shape), axes
    shape = given_shape
    if not shape:
        arr, shape, axes = arr.reshape(1), (1,), (0,)
    rest = [k for k in range(len(shape)) if k not in axes]
    perm = rest + list(axes)
    moved = tuple(shape[k] for k in perm)
    rows = int(np.prod(moved[: len(rest)], dtype=np.int64))
    width = int(np.prod(moved[len(rest) :], dtype=np.int64))
    if perm == sorted(perm) and arr.is_c_contiguous() and arr.dtype == cdtype:
        matrix = _flat(arr)
    else:
        st = _element_strides(arr)
        matrix = _permute(_flat(arr), moved, [st[k] for k in perm], cdtype)
    out = cuda.device_array(rows if kind == LOGSUMEXP else rows * width, dtype=cdtype)
    if rows:
        blocks, threads, group = _row_launch(rows, width)
        primitive_kernel[blocks, threads](matrix, width, rows, group, kind, cdtype.type(0), out)
    if kind == LOGSUMEXP:
        kept = tuple(given_shape[k] for k in range(len(given_shape)) if k not in given_axes)
        return cs.cast(out, dtype), kept, given_axes
    if perm == sorted(perm):
        result = cs.cast(out, dtype)
    else:
        moved_strides = cs.memory_strides(moved, "C")
        back = [moved_strides[perm.index(k)] for k in range(len(shape))]
        result = _permute(out, shape, back, dtype)
    return result.reshape(given_shape), None, None


# --- linear_cross_entropy: chunks of logits between cuBLAS products ------------------------


@cuda.jit
def fill_kernel(flat, value):
    """``flat[:] = value``."""
    for i in range(cuda.grid(1), flat.shape[0], cuda.gridsize(1)):
        flat[i] = value


@cuda.jit
def broadcast_rows_kernel(flat, width, row):
    """Every row of the C-ordered ``(len(flat) // width, width)`` matrix ``flat`` set to ``row``."""
    for i in range(cuda.grid(1), flat.shape[0], cuda.gridsize(1)):
        flat[i] = row[i % width]


@cuda.jit
def column_sum_kernel(flat, rows, width, acc):
    """``acc[j] += sum_r flat[r * width + j]`` in float64, one thread per column, rows in order."""
    for j in range(cuda.grid(1), width, cuda.gridsize(1)):
        total = acc[j]
        for r in range(rows):
            total += float64(flat[r * width + j])
        acc[j] = total


def _fill(arr, value):
    flat = _flat(arr)
    if flat.shape[0]:
        blocks, threads = cs.launch_config(flat.shape[0])
        fill_kernel[blocks, threads](flat, flat.dtype.type(value))


def _gemm(blas, a, b, c, trans_a=False, trans_b=False, beta=0.0):
    """``c = op(a) @ op(b) + beta * c`` through ``blas``; empty operands handled here."""
    inner = a.shape[0] if trans_a else a.shape[1]
    if c.size == 0:
        return
    if inner == 0:
        if beta == 0:
            _fill(c, 0)
        return
    blas.gemm(a, b, c, trans_a=trans_a, trans_b=trans_b, beta=beta)


def _span(arr):
    """``(start, stop)`` of a device array's memory; ``None`` where not exposed (the
    simulator's arrays: there only the same object counts as shared)."""
    iface = getattr(arr, "__cuda_array_interface__", None)
    if iface is None:
        return None
    start = iface["data"][0]
    return start, start + int(arr.size) * np.dtype(arr.dtype).itemsize


def _shares(a, b):
    if a is b:
        return True
    sa, sb = _span(a), _span(b)
    return sa is not None and sb is not None and sa[0] < sb[1] and sb[0] < sa[1]


def _c_matrix(arr, shape, cdtype):
    """A device array as a C-contiguous array of ``shape`` (its elements in C order) and
    ``cdtype``; no copy when it already is one."""
    if arr.dtype == cdtype and (arr.ndim <= 1 or arr.is_c_contiguous()):
        return arr.reshape(shape)
    return cs.gather(arr, tuple(arr.shape), False, cdtype).reshape(shape)


def _position_major(flat, n_classes, positions, rest, dtype):
    """A C-ordered flat ``(C, D, rest)`` array as a C-ordered ``(D * C, rest)`` one."""
    if positions == 1:
        return flat.reshape((n_classes, rest) if rest else (n_classes,))
    strides = [rest or 1, positions * (rest or 1)] + ([1] if rest else [])
    shape = [positions, n_classes] + ([rest] if rest else [])
    out = _permute(flat, tuple(shape), strides, dtype)
    return out.reshape((positions * n_classes, rest) if rest else (positions * n_classes,))


def _caller_order(buffer, n_classes, positions, rest, dtype):
    """A C-ordered ``(D * C, rest)`` array back as a C-ordered flat ``(C, D, rest)`` one."""
    flat = _flat(buffer)
    if positions == 1 and flat.dtype == dtype:
        return flat
    strides = [rest or 1, n_classes * (rest or 1)] + ([1] if rest else [])
    shape = [n_classes, positions] + ([rest] if rest else [])
    return _permute(flat, tuple(shape), strides, dtype)


def _device_bias(plan, cdtype):
    """The bias as a flat ``(D * C)`` device array in position-major order, or ``None``."""
    bias, c, d = plan.bias, plan.n_classes, plan.positions
    if bias is None:
        return None
    if isinstance(bias, np.ndarray):  # a small argument from the host
        host = native(bias, cdtype).reshape(c, d).T
        return cuda.to_device(np.ascontiguousarray(host).reshape(-1))
    flat = cs.gather(bias, tuple(bias.shape), False, cdtype)
    return _position_major(flat, c, d, 0, cdtype)


def _finish_into(slot, flat_c, shape):
    """Hand the C-ordered flat gradient ``flat_c`` to ``slot`` (written into its buffer
    where the slot writes the caller's ``grad_out`` directly)."""
    if slot.direct:
        if not _shares(slot.buffer, flat_c):
            _flat(slot.buffer).copy_to_device(flat_c)
    else:
        slot.buffer = flat_c.reshape(shape)


def _linear_loss(plan, args, return_grad, grad_output, grad_out):
    """Run a validated :class:`~.plans.LinearPlan` on the GPU (see :mod:`.linear` for the
    algorithm, which is the CPU's): each chunk's logits in one reused device buffer
    (a cuBLAS product through :mod:`numbaloss._core.device_blas`), the cross-entropy
    row kernel of :func:`cross_entropy` in place over it (its gradient), and two more
    products (``grad_linear_weight += G.T @ x``, ``grad_input = G @ W``); the bias
    gradient's column sums in float64 in row order (:func:`column_sum_kernel`)."""
    from .linear import default_chunk_rows

    blas = device_blas.blas_for(args)
    dtype, cdtype = cs.result_dtypes(plan.x, plan.linear_weight, plan.bias)
    zero = cdtype.type(0)
    n, k, c, d = plan.rows, plan.in_features, plan.n_classes, plan.positions
    width = c * d
    reduction = plan.reduction
    x2 = _c_matrix(plan.x, (n, k), cdtype)
    w_flat = cs.gather(plan.linear_weight, tuple(plan.linear_weight.shape), False, cdtype)
    w2 = _position_major(w_flat, c, d, k, cdtype)
    b2 = _device_bias(plan, cdtype)
    weight, w_sum = _class_weights(plan.weight, c, cdtype, plan.label_smoothing != 0)
    lshape_all = tuple(plan.loss_shape) or (1,)
    target = prob = None
    if plan.kind == "index":
        target = _flat_targets(plan.target, lshape_all)
        w_total = _check_targets(target, weight, plan.ignore_index, c)
        divisor = w_total
    else:
        p = plan.target
        prob = _c_matrix(p, tuple(p.shape) if len(p.shape) > 1 else (1, c), p.dtype)
        divisor = float(n * d)
    if reduction == "none":
        loss_out = cuda.device_array(n * d, dtype=cdtype)
        gout, gmul, gdiv = cs.device_upstream(args, grad_output, plan.loss_shape, cdtype), 1.0, 1.0
    else:
        loss_out = None
        gout = cdtype.type(1)
        gmul = cs.device_scale(args, grad_output)
        gdiv = divisor if reduction == "mean" else 1.0

    slots = None
    if return_grad:
        names = ["input", "linear_weight"]
        layouts = [
            cs.DeviceLayout(plan.x.shape, dtype, cdtype, "strided", (n, k)),
            cs.DeviceLayout(plan.linear_weight.shape, dtype, cdtype, "strided", (width, k)),
        ]
        if b2 is not None:
            names.append("linear_bias")
            layouts.append(cs.DeviceLayout(plan.bias.shape, dtype, cdtype, "strided", (width,)))
        slots = cs.device_grad_slots(args, names, layouts, grad_out)
        for i, slot in enumerate(slots):
            # products write C order; the weight and the bias are read by every chunk, so
            # their gradients are accumulated apart from them (and, with D > 1, permuted)
            reads = (w2, b2, plan.linear_weight, plan.bias) if i else ()
            if slot.direct and (
                not slot.buffer.is_c_contiguous()
                or (i and d > 1)
                or any(r is not None and _shares(slot.buffer, r) for r in reads)
            ):
                slot.buffer, slot.direct = slot.layout.new_buffer(), False
        g_x = slots[0].buffer.reshape((n, k))
        g_w = slots[1].buffer
        _fill(g_w, 0)
        g_b = None
        if b2 is not None:
            g_b = cuda.device_array(width, dtype=np.float64)
            _fill(g_b, 0)

    chunk = plan.chunk_size or default_chunk_rows(width, cdtype.itemsize)
    chunk = max(1, min(chunk, n))
    buffer = cuda.device_array((chunk, width), dtype=cdtype)
    starts = list(range(0, n, chunk))
    launches = [_row_launch(min(chunk, n - lo) * d, c) for lo in starts]
    partials = cuda.device_array(max(1, sum(b for b, _, _ in launches)), dtype=np.float64)
    _fill(partials, 0)
    offset = 0
    for lo, (blocks, threads, group) in zip(starts, launches):
        hi = min(lo + chunk, n)
        r = hi - lo
        logits = buffer[:r]
        xc = x2[lo:hi]
        if b2 is not None:
            flat = _flat(logits)
            nb, nt = cs.launch_config(flat.shape[0])
            broadcast_rows_kernel[nb, nt](flat, width, b2)
        _gemm(blas, xc, w2, logits, trans_b=True, beta=0.0 if b2 is None else 1.0)
        lshape = (r, *plan.out_features) if plan.loss_shape else (1,)
        xs = tuple(cs.memory_strides((*lshape, c), "C"))
        rows = r * d
        gout_r = gout if isinstance(gout, np.generic) else gout[lo * d : hi * d]
        loss_r = loss_out[lo * d : hi * d] if loss_out is not None else None
        grad = _flat(logits) if return_grad else None
        gs = xs if return_grad else tuple(0 for _ in xs)
        part = partials[offset : offset + blocks]
        offset += blocks
        # no Hessian here (linear_cross_entropy has none): its slot is empty
        hs = tuple(0 for _ in xs)
        common = (
            gout_r,
            gmul,
            gdiv,
            lshape,
            c,
            rows,
            group,
            zero,
            loss_r,
            grad,
            gs,
            None,
            hs,
            part,
        )
        if plan.kind == "index":
            kernel_args = (plan.params, _flat(logits), xs, target[lo * d : hi * d], weight, w_sum)
            index_kernel[blocks, threads](*kernel_args, *common)
        else:
            pc = prob[lo:hi]
            prob_kernel[blocks, threads](
                _flat(logits),
                xs,
                _flat(pc),
                _row_strides(pc),
                weight,
                plan.label_smoothing,
                *common,
            )
        if not return_grad:
            continue
        _gemm(blas, logits, xc, g_w, trans_a=True, beta=1.0)
        if g_b is not None:
            nb, nt = cs.launch_config(width)
            column_sum_kernel[nb, nt](_flat(logits), r, width, g_b)
        _gemm(blas, logits, w2, g_x[lo:hi])

    if loss_out is not None:
        loss = cs.device_loss_array(args, loss_out, plan.loss_shape, dtype)
    else:
        loss = cs.device_reduced_loss(args, partials, gdiv, dtype)
    if slots is None:
        return loss
    if d > 1:
        _finish_into(slots[1], _caller_order(g_w, c, d, k, cdtype), slots[1].layout.kernel_shape)
    if g_b is not None:
        _finish_into(slots[2], _caller_order(g_b, c, d, 0, cdtype), slots[2].layout.kernel_shape)
    return cs.device_results(loss, slots)


# --- public functions ----------------------------------------------------------------------


def _class_runner(name):
    """Runs ``losses.<name>`` (class scores) on device arrays."""
    make_plan = getattr(plans, name)

    def run(
        *arrays,
        return_grad=False,
        grad_output=None,
        grad_out=None,
        return_hess=False,
        hess_out=None,
        **options,
    ):
        args = cs.DeviceArgs()
        plan = make_plan(args, *arrays, **options)
        return _class_loss(plan, args, return_grad, grad_output, grad_out, return_hess, hess_out)

    return run


cross_entropy = cs.device_twin(losses.cross_entropy, _class_runner("cross_entropy"))
focal_loss = cs.device_twin(losses.focal_loss, _class_runner("focal_loss"))
nll_loss = cs.device_twin(losses.nll_loss, _class_runner("nll_loss"))


@cs.device_twin(losses.linear_cross_entropy)
def linear_cross_entropy(
    input,
    linear_weight,
    target,
    *,
    return_grad=False,
    grad_output=None,
    grad_out=None,
    **options,
):
    args = cs.DeviceArgs()
    plan = plans.linear_cross_entropy(args, input, linear_weight, target, **options)
    return _linear_loss(plan, args, return_grad, grad_output, grad_out)


@cs.device_twin(losses.zero_one_loss)
def zero_one_loss(
    input, target, reduction="mean", *, return_grad=False, grad_output=None, grad_out=None
):
    args = cs.DeviceArgs()
    return _zero_one(plans.zero_one_loss(args, input, target, reduction, return_grad), args)


@cs.device_twin(losses.logsumexp)
def logsumexp(a, axis=None, *, keepdims=False):
    args = cs.DeviceArgs()
    flat, kept, axes = _primitive(args, LOGSUMEXP, a, axis, "a")
    result = flat.reshape(kept)
    if keepdims:
        full = list(kept)
        for k in sorted(axes):
            full.insert(k, 1)
        result = flat.reshape(tuple(full))
    return args.wrap(result)


@cs.device_twin(losses.log_softmax)
def log_softmax(x, axis=None):
    args = cs.DeviceArgs()
    return args.wrap(_primitive(args, LOG_SOFTMAX, x, axis, "x")[0])


@cs.device_twin(losses.softmax)
def softmax(x, axis=None):
    args = cs.DeviceArgs()
    return args.wrap(_primitive(args, SOFTMAX, x, axis, "x")[0])


def ptx_signatures():
    """``(kernel, argument types)`` of representative launches, for the offline PTX check.

    Each kernel in float32 and float64: cross entropy (with and without label
    smoothing) and the focal loss, unreduced with a per-row ``grad_output`` and
    host weights, reduced with the divisor and ``grad_output`` on the device and
    no weights, each without and with the Hessian's diagonal; ``(N, C)`` and ``(N, C, d)``
    layouts; NLL, class probabilities, the primitives, zero-one (scores and labels) and the
    target check; ``linear_cross_entropy``'s fill, bias-broadcast and column-sum kernels.
    """
    from numba import types
    from numba.core.typing import typeof

    from .._core import registry
    from . import points

    f64, i64 = types.float64, types.int64
    # the row losses' parameter samples in the registry (cross entropy, focal loss)
    params = [
        getattr(points, cls)(*args)
        for e in registry.ENTRIES
        if e.family == "softmax"
        for cls, *args in e.ptx
    ]
    for dt in (types.float32, f64):
        arr = dt[::1]
        for ndim in (1, 2):
            lshape = types.UniTuple(i64, ndim)
            strides = types.UniTuple(i64, ndim + 1)
            none = types.none
            head = (arr, f64, f64, lshape, i64, i64, i64, dt, arr, arr, strides)
            unreduced = (*head, none, strides, f64[::1])
            unreduced_hess = (*head, arr, strides, f64[::1])
            head = (dt, f64[::1], f64[::1], lshape, i64, i64, i64, dt, none, arr, strides)
            reduced = (*head, none, strides, f64[::1])
            reduced_hess = (*head, arr, strides, f64[::1])
            for p in params:
                kind = typeof.typeof(p)
                for tail in (unreduced, unreduced_hess):
                    yield index_kernel, (kind, arr, strides, i64[::1], arr, f64, *tail)
                for tail in (reduced, reduced_hess):
                    yield index_kernel, (kind, arr, strides, i64[::1], dt, f64, *tail)
            for tail in (unreduced, unreduced_hess):
                yield nll_kernel, (arr, strides, i64[::1], arr, i64, *tail)
                yield prob_kernel, (arr, strides, arr, strides, arr, f64, *tail)
            for tail in (reduced, reduced_hess):
                yield nll_kernel, (arr, strides, i64[::1], dt, i64, *tail)
                yield prob_kernel, (arr, strides, arr, strides, dt, f64, *tail)
        yield target_kernel, (i64[::1], arr, i64, i64, f64[::1], f64[::1])
        yield target_kernel, (i64[::1], dt, i64, i64, f64[::1], f64[::1])
        yield primitive_kernel, (arr, i64, i64, i64, i64, dt, arr)
        yield zero_one_kernel, (arr, i64, i64, i64, types.boolean, i64[::1], i64, arr, f64[::1])
        yield (
            zero_one_kernel,
            (i64[::1], i64, i64, i64, types.boolean, i64[::1], i64, types.none, f64[::1]),
        )
        # linear_cross_entropy's helpers around its cuBLAS products
        yield fill_kernel, (arr, dt)
        yield broadcast_rows_kernel, (arr, i64, arr)
        yield column_sum_kernel, (arr, i64, i64, f64[::1])
    yield fill_kernel, (f64[::1], f64)
