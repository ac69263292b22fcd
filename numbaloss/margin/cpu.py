"""CPU kernels of the margin and embedding losses.

Every kernel works row by row on C-contiguous ``(rows, C)`` scores or ``(rows, D)``
embeddings, over the rows ``start..stop`` that :func:`numbaloss._core.parallel.run_ranges`
hands it.  One fused pass per row computes the row's loss into ``loss_rows`` (float64,
one entry per row, combined in row order by the caller, so results do not depend on
how rows are split between threads) and, when ``want_grad`` is true, writes the row's
gradient already multiplied by the row's upstream gradient ``gout[i]``.  Kernels read
every element of a row before they write the same element of its gradient, so the
gradient may be written over the input (``grad_out=input``).

Checks that need the data (class indices) are made inside the kernels: a bad row gets
loss 0 and a zero gradient, and ``bad[0]`` is set; the wrapper raises afterwards.

The math inside the loops (per-element losses, the triplet losses' metrics and hinge)
lives in :mod:`.points`, shared with the CUDA kernels; this module holds only the loops.
"""

import numpy as np

from .._core.traits import like
from .._jit import kernel_jit, user_function_kernel_jit
from .points import cosine_terms, hinge_weights, measure, partial, soft_margin_point

# --- multi_margin_loss ---------------------------------------------------------------------


@kernel_jit
def multi_margin_rows(
    x, target, weight, squared, margin, gout, loss_rows, grad, want_grad, bad, start, stop
):
    """Rows of ``sum_{j != y} w_y max(0, margin - x_y + x_j)^p / C`` and their gradients."""
    n_classes = x.shape[1]
    zero = like(margin, 0)
    one = like(margin, 1)
    for i in range(start, stop):
        y = target[i]
        if y < 0 or y >= n_classes:
            bad[0] = 1
            loss_rows[i] = 0.0
            if want_grad:
                grad[i, :] = zero
            continue
        row = x[i]
        x_y = row[y]
        w_y = weight[y]
        scale = like(margin, gout[i] * w_y / n_classes)
        # The sums come from loops that only read, so that their bits do not depend on
        # whether the gradient loop runs vectorized (it runs scalar when grad aliases x).
        total = 0.0
        slope_sum = zero  # the sum over active classes of dh/dz: 1 (p = 1) or z (p = 2, halved)
        if squared:
            for j in range(n_classes):
                z = margin - x_y + row[j]
                zc = z if (z > 0) & (j != y) else zero
                total += np.float64(zc * zc)
                slope_sum += zc
        else:
            active = 0
            for j in range(n_classes):
                z = margin - x_y + row[j]
                zc = z if (z > 0) & (j != y) else zero
                total += np.float64(zc)
                active += zc > zero  # (counting ``on`` itself would not vectorize as well)
            slope_sum = like(zero, active)
        loss_rows[i] = total * np.float64(w_y) / n_classes
        if not want_grad:
            continue
        if squared:
            twice = scale + scale
            for j in range(n_classes):
                z = margin - x_y + row[j]
                grad[i, j] = twice * (z if (z > 0) & (j != y) else zero)
            grad[i, y] = -(twice * slope_sum)
        else:
            for j in range(n_classes):
                z = margin - x_y + row[j]
                grad[i, j] = scale * (one if (z > 0) & (j != y) else zero)
            grad[i, y] = -(scale * slope_sum)


# --- multilabel_margin_loss ----------------------------------------------------------------


@kernel_jit
def multilabel_margin_rows(x, target, gout, loss_rows, grad, want_grad, bad, start, stop):
    """Rows of ``sum_k sum_{j not a target} max(0, 1 - x_{y_k} + x_j) / C``.

    The targets of a row are its leading non-negative entries (up to the first
    negative one); every entry must lie in ``[-1, C)``, as PyTorch checks.
    """
    n_classes = x.shape[1]
    is_target = np.zeros(n_classes, dtype=np.bool_)
    acc = np.zeros(n_classes, dtype=x.dtype)
    zero = acc[0] * 0
    one = zero + 1
    for i in range(start, stop):
        row = x[i]
        labels = target[i]
        valid = True
        n_targets = n_classes
        for k in range(n_classes):
            label = labels[k]
            if label < -1 or label >= n_classes:
                valid = False
            if label < 0 and n_targets == n_classes:
                n_targets = k
        if not valid:
            bad[0] = 1
            loss_rows[i] = 0.0
            if want_grad:
                grad[i, :] = zero
            continue
        is_target[:] = False
        for k in range(n_targets):
            is_target[labels[k]] = True
        acc[:] = zero
        scale = like(zero, gout[i] / n_classes)
        total = 0.0
        for k in range(n_targets):
            label = labels[k]
            x_y = row[label]
            active = 0
            for j in range(n_classes):
                z = one - x_y + row[j]
                zc = z if (z > 0) & (not is_target[j]) else zero
                total += np.float64(zc)
                active += zc > zero
                acc[j] += scale * (one if zc > zero else zero)
            acc[label] -= scale * like(zero, active)
        loss_rows[i] = total / n_classes
        if want_grad:
            for j in range(n_classes):
                grad[i, j] = acc[j]


# --- multilabel_soft_margin_loss -----------------------------------------------------------


@kernel_jit
def multilabel_soft_margin_rows(x, target, weight, gout, loss_rows, grad, want_grad, start, stop):
    """Rows of ``sum_j w_j (y_j softplus(-x_j) + (1 - y_j) softplus(x_j)) / C``.

    Gradient ``w_j (sigmoid(x_j) - y_j) / C``; one ``exp`` and one ``log1p`` per element.
    ``weight`` is ``(1, C)`` (the same for every row) or ``(rows, C)``.
    """
    n_classes = x.shape[1]
    per_row = weight.shape[0] > 1
    loss_row = np.empty(n_classes, dtype=x.dtype)
    sigmoid_row = np.empty(n_classes, dtype=x.dtype)
    for i in range(start, stop):
        row = x[i]
        labels = target[i]
        weights = weight[i if per_row else 0]
        # Three loops: the elementwise math (writes only scratch rows: it vectorizes, where
        # a float64 sum in the same loop would keep it scalar), the sum (reads only
        # scratch, so its bits do not depend on whether grad aliases x), the gradient.
        for j in range(n_classes):
            loss, sig = soft_margin_point(row[j], labels[j])
            loss_row[j] = weights[j] * loss
            sigmoid_row[j] = sig
        total = 0.0
        for j in range(n_classes):
            total += np.float64(loss_row[j])
        loss_rows[i] = total / n_classes
        if want_grad:
            scale = like(gout[i], gout[i] / n_classes)
            for j in range(n_classes):
                grad[i, j] = (weights[j] * scale) * (sigmoid_row[j] - labels[j])


# --- cosine_embedding_loss -----------------------------------------------------------------


@kernel_jit
def cosine_embedding_rows(
    x1, x2, target, margin, gout, loss_rows, grad1, grad2, want_grad, start, stop
):
    """Rows of ``1 - cos`` (target 1), ``max(0, cos - margin)`` (target -1), else 0.

    ``cos = <x1, x2> / sqrt((|x1|^2 + eps) (|x2|^2 + eps))`` with PyTorch's
    ``eps = 1e-12``; sums in float64.
    """
    width = x1.shape[1]
    for i in range(start, stop):
        a = x1[i]
        b = x2[i]
        dot = 0.0
        sq1 = 0.0
        sq2 = 0.0
        for k in range(width):
            ak = np.float64(a[k])
            bk = np.float64(b[k])
            dot += ak * bk
            sq1 += ak * ak
            sq2 += bk * bk
        loss, slope, cos, denom, sq1, sq2 = cosine_terms(dot, sq1, sq2, target[i], margin)
        loss_rows[i] = loss
        if want_grad:
            if slope == 0:
                grad1[i, :] = 0
                grad2[i, :] = 0
                continue
            g = slope * gout[i]
            cross = like(gout[i], g / denom)
            self1 = like(gout[i], g * cos / sq1)
            self2 = like(gout[i], g * cos / sq2)
            for k in range(width):
                ak = a[k]
                bk = b[k]
                grad1[i, k] = cross * bk - self1 * ak
                grad2[i, k] = cross * ak - self2 * bk


# --- triplet losses ------------------------------------------------------------------------


@kernel_jit
def triplet_hinge_rows(d_pos, d_neg, d_swap, margin, swap, gout, loss_rows, weights, start, stop):
    """The hinge of rows whose distances were computed elsewhere (a user's array distance).

    ``weights[i]`` gets the factors of ``d(a, p)``, ``d(a, n)`` and ``d(p, n)``'s gradients
    in the row's gradient: ``(g, g w_neg, g w_swap)`` with ``g = gout[i]`` where active.
    """
    for i in range(start, stop):
        loss, active, w_neg, w_swap = hinge_weights(margin, d_pos[i], d_neg[i], d_swap[i], swap)
        loss_rows[i] = loss
        if active:
            g = gout[i]
            weights[i, 0] = g
            weights[i, 1] = g * like(g, w_neg)
            weights[i, 2] = g * like(g, w_swap)


@kernel_jit
def triplet_rows(
    metric,
    anchor,
    positive,
    negative,
    margin,
    swap,
    gout,
    loss_rows,
    grad_a,
    grad_p,
    grad_n,
    want_grad,
    start,
    stop,
):
    """Rows of ``max(margin + d(a, p) - min(d(a, n), d(p, n) if swap), 0)``."""
    width = anchor.shape[1]
    for i in range(start, stop):
        a = anchor[i]
        p = positive[i]
        n = negative[i]
        d_pos, p1, p2, p3 = measure(metric, a, p)
        d_neg, n1, n2, n3 = measure(metric, a, n)
        d_swap, s1, s2, s3 = d_neg, 0.0, 0.0, 0.0
        if swap:
            d_swap, s1, s2, s3 = measure(metric, p, n)
        loss, active, w_neg, w_swap = hinge_weights(margin, d_pos, d_neg, d_swap, swap)
        loss_rows[i] = loss
        if not want_grad:
            continue
        if not active:
            grad_a[i, :] = 0
            grad_p[i, :] = 0
            grad_n[i, :] = 0
            continue
        g = gout[i]
        g_neg = g * like(g, w_neg)
        if w_swap == 0:
            for k in range(width):
                ak = a[k]
                pk = p[k]
                nk = n[k]
                pa, pp = partial(metric, p1, p2, p3, ak, pk)
                na, nn = partial(metric, n1, n2, n3, ak, nk)
                grad_a[i, k] = g * pa - g_neg * na
                grad_p[i, k] = g * pp
                grad_n[i, k] = -g_neg * nn
        else:
            g_swap = g * like(g, w_swap)
            for k in range(width):
                ak = a[k]
                pk = p[k]
                nk = n[k]
                pa, pp = partial(metric, p1, p2, p3, ak, pk)
                na, nn = partial(metric, n1, n2, n3, ak, nk)
                sp, sn = partial(metric, s1, s2, s3, pk, nk)
                grad_a[i, k] = g * pa - g_neg * na
                grad_p[i, k] = g * pp - g_swap * sp
                grad_n[i, k] = -g_neg * nn - g_swap * sn


# A user's @njit distance is a new type for every function object, so kernels that take
# one are compiled in memory only (caching them on disk would add an entry per process).


@user_function_kernel_jit
def no_distance_grad(x, y, gx, gy):
    """Stands in for ``distance_grad`` when only the value is wanted (never called then)."""


@user_function_kernel_jit
def triplet_custom_rows(
    distance,
    distance_grad,
    anchor,
    positive,
    negative,
    margin,
    swap,
    gout,
    loss_rows,
    grad_a,
    grad_p,
    grad_n,
    want_grad,
    start,
    stop,
):
    """:func:`triplet_rows` for a user's ``@njit`` row distance ``distance(x, y)``.

    With ``want_grad``, ``distance_grad(x, y, gx, gy)`` writes the distance's gradient
    with respect to the rows ``x`` and ``y`` into ``gx`` and ``gy``.
    """
    width = anchor.shape[1]
    scratch = np.zeros((6, width), dtype=anchor.dtype)
    for i in range(start, stop):
        a = anchor[i]
        p = positive[i]
        n = negative[i]
        d_pos = np.float64(distance(a, p))
        d_neg = np.float64(distance(a, n))
        d_swap = d_neg
        if swap:
            d_swap = np.float64(distance(p, n))
        loss, active, w_neg, w_swap = hinge_weights(margin, d_pos, d_neg, d_swap, swap)
        loss_rows[i] = loss
        if not want_grad:
            continue
        scratch[:] = 0
        g = gout[i]
        if active:
            distance_grad(a, p, scratch[0], scratch[1])
            if w_neg != 0:
                distance_grad(a, n, scratch[2], scratch[3])
            if w_swap != 0:
                distance_grad(p, n, scratch[4], scratch[5])
        g_pos = g if active else g * 0
        g_neg = g_pos * like(g, w_neg)
        g_swap = g_pos * like(g, w_swap)
        for k in range(width):
            grad_a[i, k] = g_pos * scratch[0, k] - g_neg * scratch[2, k]
            grad_p[i, k] = g_pos * scratch[1, k] - g_swap * scratch[4, k]
            grad_n[i, k] = -g_neg * scratch[3, k] - g_swap * scratch[5, k]
