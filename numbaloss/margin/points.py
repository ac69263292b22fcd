"""The margin family's device-neutral math: what the CPU and CUDA kernels share.

The per-element and per-row formulas here are compiled helpers
(:func:`numbaloss._jit.math_jit`) that the CPU loops of :mod:`.cpu` and the CUDA
kernels of :mod:`.cuda` inline alike, so that both back ends compute a loss by one
formula.  Nothing here loops over rows or launches work: that is the back ends'.

Distances of the triplet losses are *metrics*: ``namedtuple`` parameter classes whose
compiled static methods ``measure(metric, x, y) -> (distance, s1, s2, s3)`` and
``partial(metric, s1, s2, s3, xk, yk) -> (dd/dxk, dd/dyk)`` are chosen at compile time
by :func:`measure` and :func:`partial` (made by
:func:`numbaloss._core.traits.static_dispatch`, as :func:`numbaloss._core.traits.point`).
The wrappers of :mod:`.losses` pick the metric; ``measure`` sums over one row (a
cached :func:`numbaloss._jit.kernel_jit` function), ``partial`` is per element.  The
CUDA kernel sums its Euclidean distance over a block instead, from :func:`shifted`.
"""

import math
from collections import namedtuple

import numpy as np

from .._core.traits import like, static_dispatch
from .._core.vecmath import exp, log1p
from .._jit import kernel_jit, math_jit

#: PyTorch's ``EPSILON`` in ``cosine_embedding_loss``, added to both squared norms: a C
#: ``float`` 1e-12, i.e. 1e-12 rounded to float32 (measured against PyTorch on zero vectors).
COSINE_EMBEDDING_EPS = float(np.float32(1e-12))


# --- multilabel_soft_margin_loss -----------------------------------------------------------


@math_jit
def soft_margin_point(x, y):
    """``y softplus(-x) + (1 - y) softplus(x)`` and ``sigmoid(x)``, from one ``exp``.

    Targets 1 and 0 select their term exactly, so that an infinite ``x`` gives
    PyTorch's inf (reassociated, ``y a + (1 - y) b`` would turn ``0 * inf`` into NaN).
    """
    one = like(x, 1)
    zero = like(x, 0)
    e = exp(-abs(x))
    lp = log1p(e)
    softplus_pos = (x if x > 0 else zero) + lp
    softplus_neg = (zero if x > 0 else -x) + lp
    if y == one:
        loss = softplus_neg
    elif y == zero:
        loss = softplus_pos
    else:
        loss = y * softplus_neg + (one - y) * softplus_pos
    inv = one / (one + e)
    return loss, (inv if x >= 0 else e * inv)


# --- cosine_embedding_loss -----------------------------------------------------------------


@math_jit
def cosine_terms(dot, sq1, sq2, y, margin):
    """A row's cosine loss from its float64 sums ``<x1, x2>``, ``|x1|^2``, ``|x2|^2``.

    Returns ``(loss, slope, cos, denom, sq1 + eps, sq2 + eps)``: ``slope`` is
    ``d loss / d cos`` (-1, 1 or 0) and ``denom = sqrt((sq1 + eps) (sq2 + eps))``.
    """
    sq1 += COSINE_EMBEDDING_EPS
    sq2 += COSINE_EMBEDDING_EPS
    denom = math.sqrt(sq1 * sq2)
    cos = dot / denom
    slope = 0.0
    loss = 0.0
    if y == 1:
        loss = 1 - cos
        slope = -1.0
    elif y == -1:
        v = cos - margin
        loss = 0.0 if v < 0 else v
        if v >= 0:
            slope = 1.0
    return loss, slope, cos, denom, sq1, sq2


# --- distances of the triplet losses -------------------------------------------------------


@math_jit
def shifted(xk, yk, eps):
    """``xk - yk + eps`` in the inputs' precision, as PyTorch's ``pairwise_distance``."""
    return xk - yk + like(xk, eps)


#: ``measure(metric, x, y) -> (distance, s1, s2, s3)``: the metric's distance of the rows
#: ``x`` and ``y`` and three scalars its ``partial`` needs.
measure = static_dispatch("measure", "x y")

#: ``partial(metric, s1, s2, s3, xk, yk) -> (dd/dxk, dd/dyk)``: the distance's derivatives
#: at the entries ``xk``, ``yk``, from the scalars that ``measure`` returned.
partial = static_dispatch("partial", "s1 s2 s3 xk yk")


class Euclidean(namedtuple("Euclidean", ["eps"])):
    """``|x - y + eps|_2`` (PyTorch's ``pairwise_distance`` with ``p=2``)."""

    @staticmethod
    @kernel_jit
    def measure(m, x, y):
        total = 0.0
        for k in range(x.shape[0]):
            d = np.float64(shifted(x[k], y[k], m.eps))
            total += d * d
        dist = np.sqrt(total)
        inv = 1 / dist if dist > 0 else 0.0
        return dist, inv, 0.0, 0.0

    @staticmethod
    @math_jit
    def partial(m, inv, s2, s3, xk, yk):
        u = shifted(xk, yk, m.eps) * like(xk, inv)
        return u, -u


class Manhattan(namedtuple("Manhattan", ["eps"])):
    """``|x - y + eps|_1``."""

    @staticmethod
    @kernel_jit
    def measure(m, x, y):
        total = 0.0
        for k in range(x.shape[0]):
            total += np.float64(abs(shifted(x[k], y[k], m.eps)))
        return total, 0.0, 0.0, 0.0

    @staticmethod
    @math_jit
    def partial(m, s1, s2, s3, xk, yk):
        u = np.sign(shifted(xk, yk, m.eps))
        return u, -u


class PNorm(namedtuple("PNorm", ["p", "eps"])):
    """``|x - y + eps|_p`` for any finite ``p > 0`` (not 1 or 2, which have their own)."""

    @staticmethod
    @kernel_jit
    def measure(m, x, y):
        p = m.p
        total = 0.0
        for k in range(x.shape[0]):
            total += np.abs(np.float64(shifted(x[k], y[k], m.eps))) ** p
        dist = total ** (1 / p)
        scale = dist ** (1 - p) if dist > 0 else 0.0
        return dist, scale, 0.0, 0.0

    @staticmethod
    @math_jit
    def partial(m, scale, s2, s3, xk, yk):
        d = np.float64(shifted(xk, yk, m.eps))
        # |d|^(p-1), with 1 in place of 0 (its sign makes it 0): no branch, as this is
        # inlined three times into one loop, where numba's inliner dislikes branches.
        u = like(xk, np.sign(d) * (np.abs(d) + (d == 0)) ** (m.p - 1) * scale)
        return u, -u


class Chebyshev(namedtuple("Chebyshev", ["eps"])):
    """``max_k |x_k - y_k + eps|`` (``p = inf``); tied maxima share the gradient equally.

    The entries recomputed for the gradient may round differently from those of the
    distance (the compiler may reassociate ``x - y + eps`` differently in the two
    loops), so an entry counts as a maximum within 8 units of roundoff of it.
    """

    @staticmethod
    @kernel_jit
    def measure(m, x, y):
        best = 0.0
        for k in range(x.shape[0]):
            d = np.abs(np.float64(shifted(x[k], y[k], m.eps)))
            if not d <= best:  # a larger entry, or NaN (which then stays)
                best = d
                if d != d:
                    break
        floor = best * (1 - 8 * np.finfo(x.dtype).eps)
        count = 0
        for k in range(x.shape[0]):
            count += np.abs(np.float64(shifted(x[k], y[k], m.eps))) >= floor
        share = 1.0 / count if count else 0.0
        return best, floor, share, 0.0

    @staticmethod
    @math_jit
    def partial(m, floor, share, s3, xk, yk):
        d = shifted(xk, yk, m.eps)
        u = np.sign(d) * like(xk, share) * (abs(np.float64(d)) >= floor)
        return u, -u


class Cosine(namedtuple("Cosine", ["eps"])):
    """``1 - cosine_similarity(x, y)`` as PyTorch computes it (norms clamped at ``eps``).

    PyTorch divides each vector by ``max(|v|, eps)`` and clamps without gradient, so
    the derivative of the norm is taken at the unclamped norm (0 for a zero vector).
    """

    @staticmethod
    @kernel_jit
    def measure(m, x, y):
        dot = 0.0
        sqx = 0.0
        sqy = 0.0
        for k in range(x.shape[0]):
            xk = np.float64(x[k])
            yk = np.float64(y[k])
            dot += xk * yk
            sqx += xk * xk
            sqy += yk * yk
        nx = np.sqrt(sqx)
        ny = np.sqrt(sqy)
        cx = nx if nx > m.eps else m.eps
        cy = ny if ny > m.eps else m.eps
        inv = 1 / (cx * cy)
        sim = dot * inv
        self_x = sim / (cx * nx) if nx > 0 else 0.0
        self_y = sim / (cy * ny) if ny > 0 else 0.0
        return 1 - sim, inv, self_x, self_y

    @staticmethod
    @math_jit
    def partial(m, inv, self_x, self_y, xk, yk):
        gx = like(xk, self_x) * xk - like(xk, inv) * yk
        gy = like(xk, self_y) * yk - like(xk, inv) * xk
        return gx, gy


# --- triplet losses ------------------------------------------------------------------------


@math_jit
def hinge_weights(margin, d_pos, d_neg, d_swap, swap):
    """Loss and the weights of ``d_neg`` and ``d_swap`` in it.

    ``max(margin + d_pos - min(d_neg, d_swap), 0)``: a tie of ``d_neg`` and ``d_swap``
    splits the gradient in halves (``torch.minimum``), and at the hinge itself the
    gradient is passed (``clamp_min``).  ``active`` is False where the gradient is 0.
    """
    w_neg = 1.0
    w_swap = 0.0
    d_min = d_neg
    if swap:
        if d_swap < d_neg:
            w_neg = 0.0
            w_swap = 1.0
            d_min = d_swap
        elif d_swap == d_neg:
            w_neg = 0.5
            w_swap = 0.5
    v = margin + d_pos - d_min
    loss = 0.0 if v < 0 else v
    return loss, v >= 0, w_neg, w_swap
