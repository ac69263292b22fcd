"""CPU kernels of the softmax family.

The logits arrive as a C-contiguous matrix ``x`` of shape ``(rows, C)`` (the class
axis last; the wrappers move it there).  Rows are grouped in blocks of a fixed
number of rows (``rows_per_block(C)``, which depends on ``C`` only), and each
kernel runs over a range of blocks: per-row losses go to ``loss_out`` (length
``rows``, or 0 when the loss is reduced) and each block's partial sums, in float64,
to ``partials[block]``.  The wrapper adds the partial sums in block order, so the
result does not depend on how the thread pool splits the blocks.

One kernel serves cross entropy with class-index targets (with weights,
``ignore_index`` and label smoothing) and the softmax focal loss.  Per row it takes
the maximum, ``e_t``, ``s_rest`` and, with label smoothing, ``sd``, and hands them to
the per-row math of :mod:`.points` (:func:`~.points.row_terms`,
:func:`~.points.log_sum`, :func:`~.points.target_grad`), which the CUDA kernels
share.  The gradient is written in the same pass over the row: ``exp(x_c - m)``
goes to a scratch row in cache and the gradient row is written from it, so
``grad`` may be the logits themselves (in-place update) without losing
vectorization.  With ``return_hess=True`` the diagonal of the Hessian is written
in the same pass, from the same scratch row (``hess`` may be the logits too, but
not the gradient).  The wrapper validates the class indices in a pass over the
targets (:func:`check_targets`) before the kernel runs, so an index out of range
leaves an in-place ``grad_out`` untouched.

The kernels are compiled with ``reassoc`` and the ``math_jit`` helpers of
:mod:`.points` are inlined into them at numba's IR level, so precision-critical
expressions are written so that no regrouping can hurt them (see ``softmax_rows``
here and :mod:`.points`).

With many classes a row is processed along the row (vectorized over classes).  With
few classes (``C <= SMALL_C``) a tile of rows is transposed into a small scratch
array and processed with the class loop outside and the row loop inside, so that
the vectorized loops run over rows.  The per-row arithmetic of a row does not
depend on the tile it is in, so the results are the same for any split.

The exponentials and logarithms are ``vecmath``'s (float32 evaluated in float32,
8 SIMD lanes).
"""

import numpy as np
from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic

from .._core.traits import at, index
from .._core.vecmath import exp, log
from .._jit import kernel_jit
from .points import (
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

#: Up to this many classes the row-tile kernel (vectorized across rows) is used.
SMALL_C = 32
#: Rows of one tile of the small-class kernel.
TILE = 64
#: Elements of logits per block (a block holds whole rows).
BLOCK_ELEMENTS = 1 << 13


def rows_per_block(n_classes):
    """Rows of one block: a fixed function of the number of classes."""
    if n_classes <= SMALL_C:
        return max(TILE, (BLOCK_ELEMENTS // max(n_classes, 1)) // TILE * TILE)
    return max(1, BLOCK_ELEMENTS // n_classes)


# --- row maximum -------------------------------------------------------------------


def _int_type(fty):
    return {types.float32: (types.int32, 32), types.float64: (types.int64, 64)}.get(fty, (None, 0))


@intrinsic
def _order_key(typingctx, x):
    """An integer that orders as the float ``x`` does (bits, negatives flipped).

    Integer maxima vectorize without fast-math flags, float ones do not.  A NaN
    with the sign bit clear orders above +inf, so it becomes the maximum (and a
    NaN maximum propagates); one with the sign bit set orders below -inf, and it
    propagates through ``exp(x - m)`` instead.
    """
    ity, bits = _int_type(x)
    if ity is None:
        return None

    def codegen(context, builder, signature, args):
        it = ir.IntType(bits)
        b = builder.bitcast(args[0], it)
        sign = builder.ashr(b, ir.Constant(it, bits - 1))
        return builder.xor(b, builder.and_(sign, ir.Constant(it, (1 << (bits - 1)) - 1)))

    return ity(x), codegen


@intrinsic
def _from_order_key(typingctx, key, like):
    """The float (of the type of ``like``) whose :func:`_order_key` is ``key``."""
    ity, bits = _int_type(like)
    if ity is None or key != ity:
        return None

    def codegen(context, builder, signature, args):
        it = ir.IntType(bits)
        b = args[0]
        sign = builder.ashr(b, ir.Constant(it, bits - 1))
        flipped = builder.xor(b, builder.and_(sign, ir.Constant(it, (1 << (bits - 1)) - 1)))
        return builder.bitcast(flipped, context.get_value_type(like))

    return like(key, like), codegen


@kernel_jit
def row_max(x, r):
    """The largest entry of row ``r`` of ``x`` (vectorized; NaN handled as above)."""
    key = _order_key(x[r, 0])
    for c in range(1, x.shape[1]):
        key = max(key, _order_key(x[r, c]))
    return _from_order_key(key, x[r, 0])


# --- targets --------------------------------------------------------------------


@kernel_jit
def check_targets(target, weight, ignore_index, n_classes):
    """One pass over class-index targets.

    Returns ``(bad, weight_sum, count)``: the position of the first target outside
    ``[0, C)`` that is not ``ignore_index`` (-1 if none), the float64 sum of
    ``weight[t]`` and the number of the targets that are not ignored.
    """
    total = 0.0
    count = 0
    for i in range(target.shape[0]):
        t = target[i]
        if t == ignore_index:
            continue
        if t < 0 or t >= n_classes:
            return i, total, count
        total += np.float64(weight[t])
        count += 1
    return -1, total, count


# --- class-index kernels -------------------------------------------------------------


@kernel_jit
def index_rows(
    params,
    x,
    target,
    weight,
    w_sum,
    ga,
    gb,
    loss_out,
    grad,
    hess,
    block_rows,
    partials,
    start,
    stop,
):
    """Cross entropy / focal loss over row blocks ``start..stop``, along each row.

    Per row: the maximum (a pass over the row in memory), then ``exp(x_c - m)``
    for every class into a scratch row (in cache), whose sum with the target's
    entry zeroed is ``s_rest``, then the gradient row from the scratch row.
    Every loop runs over the whole row, so each vectorizes with one short tail
    (loops split at the target cost a scalar tail of ``exp`` each), and ``grad``
    may be ``x`` itself: two arrays that may overlap would send LLVM's vectorized
    loop to its scalar fallback.
    """
    n_rows, n_classes = x.shape
    row = np.empty(n_classes, dtype=x.dtype)
    smoothing = params.smoothing != 0
    zero = x.dtype.type(0)
    for blk in range(start, stop):
        lo = blk * block_rows
        hi = min(lo + block_rows, n_rows)
        total0 = 0.0
        total1 = 0.0
        for r in range(lo, hi):
            t = target[r]
            if t == params.ignore_index:
                if loss_out.shape[0] > 0:
                    loss_out[r] = 0
                if grad is not None:
                    for c in range(n_classes):
                        grad[r, c] = 0
                if hess is not None:
                    for c in range(n_classes):
                        hess[r, c] = 0
                continue
            m = row_max(x, r)
            x_t = x[r, t]
            e_t = exp(x_t - m)
            sd = zero
            if smoothing:
                for c in range(n_classes):
                    sd += weight[c] * (m - x[r, c])
            for c in range(n_classes):
                row[c] = exp(x[r, c] - m)
            row[t] = zero
            s_rest = zero
            for c in range(n_classes):
                s_rest += row[c]
            log_s = log_sum(e_t, s_rest)
            part0, part1, big_a, big_b, big_d = row_terms(
                params,
                n_classes,
                log_s,
                (m - x_t) + log_s,
                e_t,
                s_rest,
                sd,
                weight[t],
                w_sum,
                at(ga, r),
                at(gb, r),
            )
            if grad is not None:
                scale = big_a / (e_t + s_rest)
                if smoothing:
                    for c in range(n_classes):
                        grad[r, c] = row[c] * scale - big_d * weight[c]
                else:
                    for c in range(n_classes):
                        grad[r, c] = row[c] * scale
                grad[r, t] = target_grad(e_t, s_rest, big_a, big_b, big_d * weight[t])
            if hess is not None:
                k = row_hess_terms(
                    params,
                    n_classes,
                    log_s,
                    (m - x_t) + log_s,
                    e_t,
                    s_rest,
                    sd,
                    weight[t],
                    w_sum,
                    at(ga, r),
                    at(gb, r),
                )
                s = e_t + s_rest
                a_s2 = big_a / (s * s)
                inv_rest = x.dtype.type(1) / s_rest if s_rest > 0 else zero
                for c in range(n_classes):
                    hess[r, c] = row_hess(row[c], s, a_s2, k, inv_rest)
                hess[r, t] = target_hess(e_t, s_rest, a_s2, k)
            if loss_out.shape[0] > 0:
                loss_out[r] = part0 + part1
            total0 += np.float64(part0)
            total1 += np.float64(part1)
        partials[blk, 0] = total0
        partials[blk, 1] = total1


@kernel_jit
def index_tiles(
    params,
    x,
    target,
    weight,
    w_sum,
    ga,
    gb,
    loss_out,
    grad,
    hess,
    block_rows,
    partials,
    start,
    stop,
):
    """Like :func:`index_rows` for few classes: tiles of rows, vectorized across rows.

    The target class of each row of a tile is kept as a float (-1 when ignored):
    comparing it with the class number in the logits' type keeps the SIMD lanes
    of one width, which is what lets these loops vectorize.
    """
    n_rows, n_classes = x.shape
    smoothing = params.smoothing != 0
    dtype = x.dtype
    zero = dtype.type(0)
    tile = np.empty((n_classes, TILE), dtype=dtype)
    # Separate 1-D scratch arrays: rows of one 2-D array defeat the vectorizer.
    m = np.empty(TILE, dtype=dtype)
    x_t = np.empty(TILE, dtype=dtype)
    e_t = np.empty(TILE, dtype=dtype)
    s_rest = np.empty(TILE, dtype=dtype)
    sd = np.empty(TILE, dtype=dtype)
    w_t = np.empty(TILE, dtype=dtype)
    cls = np.empty(TILE, dtype=dtype)
    scale = np.empty(TILE, dtype=dtype)
    g_t = np.empty(TILE, dtype=dtype)
    big_d = np.empty(TILE, dtype=dtype)
    part0s = np.empty(TILE, dtype=np.float64)
    part1s = np.empty(TILE, dtype=np.float64)
    # the Hessian's tile and per-row factors (empty without a Hessian)
    h_rows = TILE if hess is not None else 0
    htile = np.empty((n_classes if hess is not None else 0, TILE), dtype=dtype)
    a_s2 = np.empty(h_rows, dtype=dtype)
    k_r = np.empty(h_rows, dtype=dtype)
    inv_rest = np.empty(h_rows, dtype=dtype)
    h_t = np.empty(h_rows, dtype=dtype)
    for blk in range(start, stop):
        lo = blk * block_rows
        hi = min(lo + block_rows, n_rows)
        total0 = 0.0
        total1 = 0.0
        for r0 in range(lo, hi, TILE):
            n = min(TILE, hi - r0)
            for j in range(n):
                for c in range(n_classes):
                    tile[c, j] = x[index(r0 + j), c]
            for j in range(n):
                t = target[index(r0 + j)]
                ignored = t == params.ignore_index
                cls[j] = -1 if ignored else t
                x_t[j] = zero if ignored else x[index(r0 + j), t]
                w_t[j] = zero if ignored else weight[t]
                m[j] = tile[0, j]
                s_rest[j] = zero
                sd[j] = zero
            for c in range(1, n_classes):
                for j in range(n):
                    v = tile[c, j]
                    m[j] = v if v > m[j] else m[j]
            if smoothing:
                for c in range(n_classes):
                    wc = weight[c]
                    for j in range(n):
                        sd[j] += wc * (m[j] - tile[c, j])
            for j in range(n):
                e_t[j] = exp(x_t[j] - m[j])
            for c in range(n_classes):
                cf = dtype.type(c)
                for j in range(n):
                    e = exp(tile[c, j] - m[j])
                    tile[c, j] = e
                    s_rest[j] += e if cls[j] != cf else zero
            for j in range(n):  # branch-free, so that it vectorizes across rows
                r = r0 + j
                keep = cls[j] >= 0
                log_s = log_sum(e_t[j], s_rest[j])
                part0, part1, a_, b_, d_ = row_terms(
                    params,
                    n_classes,
                    log_s,
                    (m[j] - x_t[j]) + log_s,
                    e_t[j],
                    s_rest[j],
                    sd[j],
                    w_t[j],
                    w_sum,
                    at(ga, r),
                    at(gb, r),
                )
                part0s[j] = part0 if keep else zero
                part1s[j] = part1 if keep else zero
                scale[j] = a_ / (e_t[j] + s_rest[j]) if keep else zero
                g_t[j] = target_grad(e_t[j], s_rest[j], a_, b_, d_ * w_t[j]) if keep else zero
                big_d[j] = d_ if keep else zero
                if hess is not None:
                    k = row_hess_terms(
                        params,
                        n_classes,
                        log_s,
                        (m[j] - x_t[j]) + log_s,
                        e_t[j],
                        s_rest[j],
                        sd[j],
                        w_t[j],
                        w_sum,
                        at(ga, r),
                        at(gb, r),
                    )
                    s = e_t[j] + s_rest[j]
                    a_s2[j] = a_ / (s * s) if keep else zero
                    k_r[j] = k if keep else zero
                    inv_rest[j] = dtype.type(1) / s_rest[j] if s_rest[j] > 0 else zero
                    h_t[j] = target_hess(e_t[j], s_rest[j], a_s2[j], k_r[j])
            for j in range(n):
                total0 += part0s[j]
                total1 += part1s[j]
            if loss_out.shape[0] > 0:
                for j in range(n):
                    loss_out[index(r0 + j)] = part0s[j] + part1s[j]
            if hess is not None:  # before the gradient overwrites the tile's exps
                for c in range(n_classes):
                    cf = dtype.type(c)
                    for j in range(n):
                        e = tile[c, j]
                        h = row_hess(e, e_t[j] + s_rest[j], a_s2[j], k_r[j], inv_rest[j])
                        h = h_t[j] if cls[j] == cf else h
                        htile[c, j] = h if cls[j] >= 0 else zero
                for j in range(n):
                    for c in range(n_classes):
                        hess[index(r0 + j), c] = htile[c, j]
            if grad is not None:
                for c in range(n_classes):
                    wc = weight[c]
                    cf = dtype.type(c)
                    for j in range(n):
                        g = tile[c, j] * scale[j] - big_d[j] * wc
                        g = g_t[j] if cls[j] == cf else g
                        tile[c, j] = g if cls[j] >= 0 else zero
                for j in range(n):
                    for c in range(n_classes):
                        grad[index(r0 + j), c] = tile[c, j]
        partials[blk, 0] = total0
        partials[blk, 1] = total1


# --- probability targets ---------------------------------------------------------------


@kernel_jit
def prob_rows(
    x, prob, weight, smoothing, ga, loss_out, grad, hess, block_rows, partials, start, stop
):
    """Cross entropy with class-probability targets ``prob`` (rows, C).

    With ``q_c = (1 - eps) prob_c + eps / C`` the row loss is
    ``sum_c w_c q_c (lse - x_c)``, its gradient ``p_c S - w_c q_c`` with
    ``S = sum_c w_c q_c``, and its Hessian's diagonal ``S p_c (1 - p_c)``.
    """
    n_rows, n_classes = x.shape
    wants_row = grad is not None or hess is not None
    row = np.empty(n_classes if wants_row else 0, dtype=x.dtype)  # as in index_rows
    keep = 1 - smoothing
    spread = smoothing / max(n_classes, 1)
    for blk in range(start, stop):
        lo = blk * block_rows
        hi = min(lo + block_rows, n_rows)
        total = 0.0
        for r in range(lo, hi):
            if n_classes == 0:
                loss = x.dtype.type(0)
            else:
                m = row_max(x, r)
                s = x.dtype.type(0)
                big_s = x.dtype.type(0)
                dot = x.dtype.type(0)
                for c in range(n_classes):
                    xc = x[r, c]
                    wq = prob_weight(weight[c], prob[r, c], keep, spread)
                    big_s += wq
                    dot += wq * (m - xc)
                    e = exp(xc - m)
                    s += e
                    if wants_row:
                        row[c] = e
                loss = prob_loss(dot, big_s, s)
                if grad is not None:
                    a = at(ga, r)
                    scale = a * big_s / s
                    for c in range(n_classes):
                        wq = prob_weight(weight[c], prob[r, c], keep, spread)
                        grad[r, c] = row[c] * scale - a * wq
                if hess is not None:
                    a_s2 = at(ga, r) * big_s / (s * s)
                    for c in range(n_classes):
                        hess[r, c] = row[c] * (a_s2 * (s - row[c]))
            if loss_out.shape[0] > 0:
                loss_out[r] = loss
            total += np.float64(loss)
        partials[blk, 0] = total


# --- negative log likelihood -----------------------------------------------------------


@kernel_jit
def nll_rows(
    x, target, weight, ignore_index, ga, loss_out, grad, hess, block_rows, partials, start, stop
):
    """``-w_t x_t`` per row of log-probabilities; the gradient row is ``-w_t`` at ``t``, and
    the Hessian's diagonal 0 (the loss is linear)."""
    n_rows, n_classes = x.shape
    for blk in range(start, stop):
        lo = blk * block_rows
        hi = min(lo + block_rows, n_rows)
        total = 0.0
        for r in range(lo, hi):
            t = target[r]
            # the loss is read before the gradient row is written: ``grad`` may be ``x``
            loss = x.dtype.type(0) if t == ignore_index else -weight[t] * x[r, t]
            if grad is not None:
                for c in range(n_classes):
                    grad[r, c] = 0
                if t != ignore_index:
                    grad[r, t] = -weight[t] * at(ga, r)
            if hess is not None:
                for c in range(n_classes):
                    hess[r, c] = 0
            if loss_out.shape[0] > 0:
                loss_out[r] = loss
            total += np.float64(loss)
        partials[blk, 0] = total


# --- stable primitives --------------------------------------------------------------------


@kernel_jit
def softmax_rows(x, kind, out, start, stop):
    """SciPy's ``logsumexp`` (``out`` of shape (rows,)), ``log_softmax`` or ``softmax``.

    The shift is the row maximum; for ``log_softmax`` and ``logsumexp`` a
    non-finite maximum is replaced by 0 (SciPy's rule, which gives +inf, -inf or
    NaN as the direct formula does).
    """
    n_classes = x.shape[1]
    for r in range(start, stop):
        m = row_max(x, r) if n_classes else x.dtype.type(-np.inf)
        shift = m
        if kind != SOFTMAX and not np.isfinite(m):
            shift = x.dtype.type(0)
        s = x.dtype.type(0)
        if kind == SOFTMAX:
            for c in range(n_classes):
                e = exp(x[r, c] - shift)
                out[r, c] = e
                s += e
            inv = 1 / s
            for c in range(n_classes):
                out[r, c] = out[r, c] * inv
        else:
            for c in range(n_classes):
                s += exp(x[r, c] - shift)
            log_s = log(s)
            if kind == LOGSUMEXP:
                out[r, 0] = shift + log_s
            else:
                # Two loops: a stored ``x - shift`` is not regrouped with ``- log_s``
                # (kernels are compiled with reassoc), which would cost the digits
                # the shift keeps.
                for c in range(n_classes):
                    out[r, c] = x[r, c] - shift
                for c in range(n_classes):
                    out[r, c] = out[r, c] - log_s
