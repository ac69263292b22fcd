"""The elementwise losses' device-neutral math: their parameter tuples and point functions.

Each loss is a parameter ``namedtuple`` whose ``point`` is a compiled function of
one element::

    point(params, a, b, c, d) -> (loss, dloss/da, dloss/db, out_of_domain)

and whose ``point_hess`` adds the second derivatives (the Hessian's diagonal: an
element's loss depends on that element alone)::

    point_hess(params, a, b, c, d)
        -> (loss, dloss/da, dloss/db, d2loss/da2, d2loss/db2, out_of_domain)

with the loss and gradients of ``point`` (each ``point_hess`` calls the same
code; the compiler may fuse a multiply-add differently there, a last-bit
difference).  At the kinks of piecewise losses (L1's 0, Huber's and smooth L1's
threshold, the hinges) the second derivative is 0, as it is on their linear
pieces; where the second derivative does not depend on the prediction (0, or MSE's
``2 w``) a NaN prediction still gets that constant, as in PyTorch's double
backward.  The kernels call ``point_hess`` only where a Hessian is written (see
:func:`numbaloss._core.traits.point_and_hess`).

``a`` is the (first) prediction, ``b`` the target or second prediction, ``c`` and
``d`` further operands (weight, pos_weight, variance, target) or unused zeros.  The
three heaviest points split off their exp or logs as prepasses (soft margin and
BCE with logits: the exp; BCE: each log), with the same bits as ``point`` (see
:mod:`numbaloss._core.traits`).

Nothing here loops over data: :mod:`.plans` builds these tuples, and the CPU
kernel (:mod:`.cpu`) and the CUDA kernel (:mod:`.cuda`) compile the same point
functions into their loops, and :mod:`.jit` calls them for users' own ``@njit``
code (the public :mod:`numbaloss.jit`, with each loss's own arguments).
"""

import math
from collections import namedtuple

import numpy as np

from .._core.traits import (
    Unit,
    arithmetic_overload,
    is_on,
    is_unit_type,
    like,
    option,
    weigh,
)
from .._core.vecmath import (
    exp,
    exp_minus_abs,
    log,
    log1p,
    log_nonnegative,
    log_unit_interval,
    softplus_sigmoid_given_exp,
)
from .._jit import math_jit


@math_jit
def sign(x):
    """sign(x), with sign(0) = 0 and NaN propagated (PyTorch's ``sgn``)."""
    s = x
    if x > 0:
        s = 1.0
    if x < 0:
        s = -1.0
    return s


@math_jit
def _zero(x):
    """A zero of the type of ``x``."""
    return like(x, 0)


class L1(namedtuple("L1", [])):
    """Absolute error; ``c`` is the weight."""

    @staticmethod
    @math_jit
    def point(p, x, y, w, d):
        diff = x - y
        return weigh(w, abs(diff)), weigh(w, sign(diff)), _zero(x), False

    @staticmethod
    @math_jit
    def point_hess(p, x, y, w, d):
        diff = x - y
        zero = _zero(x)
        return weigh(w, abs(diff)), weigh(w, sign(diff)), zero, zero, zero, False


class MSE(namedtuple("MSE", [])):
    """Squared error; ``c`` is the weight."""

    @staticmethod
    @math_jit
    def point(p, x, y, w, d):
        diff = x - y
        return weigh(w, diff * diff), weigh(w, diff + diff), _zero(x), False

    @staticmethod
    @math_jit
    def point_hess(p, x, y, w, d):
        diff = x - y
        zero = _zero(x)
        return weigh(w, diff * diff), weigh(w, diff + diff), zero, weigh(w, like(x, 2)), zero, False


@math_jit
def _smooth_l1(p, x, y, c, d):
    diff = x - y
    ad = abs(diff)
    beta = p.beta
    half = like(x, 0.5)
    inside = ad < beta
    loss = half * diff * diff / beta if inside else ad - half * beta
    grad = diff / beta if inside else sign(diff)
    # 1 / beta inside; 0 outside and at the threshold (a kink)
    hess = like(x, 1) / beta if inside else _zero(x)
    return loss, grad, hess


class SmoothL1(namedtuple("SmoothL1", ["beta"])):
    """Smooth L1 loss (``beta > 0``; ``beta == 0`` is :class:`L1`)."""

    @staticmethod
    @math_jit
    def point(p, x, y, c, d):
        loss, grad, hess = _smooth_l1(p, x, y, c, d)
        return loss, grad, _zero(x), False

    @staticmethod
    @math_jit
    def point_hess(p, x, y, c, d):
        loss, grad, hess = _smooth_l1(p, x, y, c, d)
        zero = _zero(x)
        return loss, grad, zero, hess, zero, False


@math_jit
def _huber(p, x, y, w, d):
    diff = x - y
    ad = abs(diff)
    delta = p.delta
    half = like(x, 0.5)
    if ad < delta:
        loss = half * diff * diff
    else:
        loss = delta * (ad - half * delta)
    g = diff
    if diff <= -delta:
        g = -delta
    if diff >= delta:
        g = delta
    # 1 inside; 0 outside and at the threshold (a kink)
    h = like(x, 1) if ad < delta else _zero(x)
    return weigh(w, loss), weigh(w, g), weigh(w, h)


class Huber(namedtuple("Huber", ["delta"])):
    """Huber loss; ``c`` is the weight."""

    @staticmethod
    @math_jit
    def point(p, x, y, w, d):
        loss, g, h = _huber(p, x, y, w, d)
        return loss, g, _zero(x), False

    @staticmethod
    @math_jit
    def point_hess(p, x, y, w, d):
        loss, g, h = _huber(p, x, y, w, d)
        zero = _zero(x)
        return loss, g, zero, h, zero, False


@math_jit
def _exp_minus_abs_margin(p, x, y, c, d):
    return exp_minus_abs(-y * x)


@math_jit
def _soft_margin_given_exp(p, x, y, c, d, e, unused):
    loss, s = softplus_sigmoid_given_exp(-y * x, e)
    return loss, -y * s, _zero(x), False


@math_jit
def sigmoid_product_given_exp(e):
    """``s(z) s(-z)`` from ``e = exp(-|z|)``: ``e / (1 + e)**2`` (either sign of ``z``)."""
    inv = 1 / (1 + e)
    return e * inv * inv


@math_jit
def _soft_margin_hess_given_exp(p, x, y, c, d, e, unused):
    loss, g, gb, flag = _soft_margin_given_exp(p, x, y, c, d, e, unused)
    zero = _zero(x)
    return loss, g, zero, y * y * sigmoid_product_given_exp(e), zero, flag


class SoftMargin(namedtuple("SoftMargin", [])):
    """log(1 + exp(-y x)); its exp is a prepass (see :mod:`numbaloss._core.traits`).

    Second derivative ``y**2 s(y x) s(-y x)``.
    """

    prepasses = (_exp_minus_abs_margin,)
    after_prepasses = staticmethod(_soft_margin_given_exp)
    after_prepasses_hess = staticmethod(_soft_margin_hess_given_exp)

    @staticmethod
    @math_jit
    def point(p, x, y, c, d):
        return _soft_margin_given_exp(p, x, y, c, d, _exp_minus_abs_margin(p, x, y, c, d), x)

    @staticmethod
    @math_jit
    def point_hess(p, x, y, c, d):
        return _soft_margin_hess_given_exp(p, x, y, c, d, _exp_minus_abs_margin(p, x, y, c, d), x)


#: e**-100: below it, log(x) < -100 (where PyTorch clamps the logs of its BCE).
_EXP_MINUS_100 = math.exp(-100.0)


# Binary cross entropy's logarithms.  Both arguments are in [0, 1] wherever the loss
# is defined: the kernel raises for x outside [0, 1], and a NaN x is passed on by
# ``_bce_after_logs``.
@math_jit
def _bce_log_x(p, x, y, w, d):
    return log_unit_interval(x)


@math_jit
def _bce_log_1mx(p, x, y, w, d):
    return log_unit_interval(like(x, 1) - x)


@math_jit
def _bce_after_logs(p, x, y, w, d, log_x, log_1mx):
    one = like(x, 1)
    lo = like(x, -100)
    one_minus_x = one - x
    # -y/x + (1-y)/(1-x) with one division (PyTorch's form, without its clamp
    # of the denominator at 1e-12).
    g = (x - y) / (x * one_minus_x)
    # PyTorch clamps both logs at -100, and the gradient then loses the term of
    # the clamped log: x = 0 leaves (1-y)/1, x = 1 leaves -y/1.  The tests are on
    # the arguments: log(x) < -100 for x < e**-100, and log(1 - x) < -100 only for
    # 1 - x = 0 (the smallest positive 1 - x is 2**-24 in float32, 2**-53 in
    # float64).  Both are false for a NaN x, whose gradient stays NaN.
    if x < like(x, _EXP_MINUS_100):
        log_x = lo
        g = one - y
    if one_minus_x == 0:
        log_1mx = lo
        g = -y
    loss = -(y * log_x + (one - y) * log_1mx)
    if x != x:  # NaN in, NaN out
        loss = x
    return weigh(w, loss), weigh(w, g), _zero(x), (x < 0) | (x > 1)


@math_jit
def _bce_hess_after_logs(p, x, y, w, d, log_x, log_1mx):
    loss, g, gb, flag = _bce_after_logs(p, x, y, w, d, log_x, log_1mx)
    one = like(x, 1)
    one_minus_x = one - x
    den = x * one_minus_x
    g_unclamped = (x - y) / den  # (the gradient's own expression)
    # y/x**2 + (1-y)/(1-x)**2 = ((x-y)**2 + y(1-y)) / den**2, a sum of non-negative
    # terms for y in [0, 1], divided by den twice rather than by den**2, which
    # underflows (to 0/0 for y = 0) where x is tiny.
    h = g_unclamped * g_unclamped + (y * (one - y) / den) / den
    # where a log is clamped its term is constant (as for the gradient)
    h = (one - y) if x < like(x, _EXP_MINUS_100) else h
    h = y if one_minus_x == 0 else h
    return loss, g, gb, weigh(w, h), _zero(x), flag


class BCE(namedtuple("BCE", [])):
    """Binary cross entropy on probabilities; ``c`` is the weight.

    Its two logarithms are prepasses (see :mod:`numbaloss._core.traits`).  Second
    derivative ``y / x**2 + (1 - y) / (1 - x)**2``, each term dropped where its log
    is clamped.
    """

    prepasses = (_bce_log_x, _bce_log_1mx)
    after_prepasses = staticmethod(_bce_after_logs)
    after_prepasses_hess = staticmethod(_bce_hess_after_logs)

    @staticmethod
    @math_jit
    def point(p, x, y, w, d):
        return _bce_after_logs(
            p, x, y, w, d, _bce_log_x(p, x, y, w, d), _bce_log_1mx(p, x, y, w, d)
        )

    @staticmethod
    @math_jit
    def point_hess(p, x, y, w, d):
        return _bce_hess_after_logs(
            p, x, y, w, d, _bce_log_x(p, x, y, w, d), _bce_log_1mx(p, x, y, w, d)
        )


def _positive_class_weight(pw, y):
    """PyTorch's weight ``1 + (pw - 1) y`` of the log-sigmoid term; ``UNIT`` without
    ``pos_weight``."""
    return pw if isinstance(pw, Unit) else 1 + (pw - 1) * y


@arithmetic_overload(_positive_class_weight)
def _ov_positive_class_weight(pw, y):
    if is_unit_type(pw):
        return lambda pw, y: pw

    def impl(pw, y):
        one = like(y, 1)
        return one + (pw - one) * y

    return impl


@math_jit
def _exp_minus_abs_logit(p, x, y, w, pw):
    return exp_minus_abs(x)


@math_jit
def _bce_with_logits_given_exp(p, x, y, w, pw, e, unused):
    one = like(x, 1)
    lw = _positive_class_weight(pw, y)
    sp, s = softplus_sigmoid_given_exp(-x, e)
    loss = (one - y) * x + weigh(lw, sp)
    g = (one - y) - weigh(lw, s)
    return weigh(w, loss), weigh(w, g), _zero(x), False


@math_jit
def _bce_with_logits_hess_given_exp(p, x, y, w, pw, e, unused):
    loss, g, gb, flag = _bce_with_logits_given_exp(p, x, y, w, pw, e, unused)
    h = weigh(_positive_class_weight(pw, y), sigmoid_product_given_exp(e))
    return loss, g, gb, weigh(w, h), _zero(x), flag


class BCEWithLogits(namedtuple("BCEWithLogits", [])):
    """Binary cross entropy on logits; ``c`` is the weight, ``d`` the pos_weight.

    Its exp is a prepass (see :mod:`numbaloss._core.traits`).  Second derivative
    ``w (1 + (pw - 1) y) s(x) s(-x)``.
    """

    prepasses = (_exp_minus_abs_logit,)
    after_prepasses = staticmethod(_bce_with_logits_given_exp)
    after_prepasses_hess = staticmethod(_bce_with_logits_hess_given_exp)

    @staticmethod
    @math_jit
    def point(p, x, y, w, pw):
        e = _exp_minus_abs_logit(p, x, y, w, pw)
        return _bce_with_logits_given_exp(p, x, y, w, pw, e, x)

    @staticmethod
    @math_jit
    def point_hess(p, x, y, w, pw):
        e = _exp_minus_abs_logit(p, x, y, w, pw)
        return _bce_with_logits_hess_given_exp(p, x, y, w, pw, e, x)


@math_jit
def _poisson(p, x, y, c, d):
    one = like(x, 1)
    if is_on(p.log_input):
        ex = exp(x)
        loss = ex - y * x
        g = ex - y
        h = ex
    else:
        xe = x + p.eps
        loss = x - y * log(xe)
        g = one - y / xe
        h = (y / xe) / xe  # not y / xe**2, whose xe**2 underflows to 0/0 for y = 0
    if is_on(p.full) and y > one:
        loss += y * log(y) - y + like(x, 0.5) * log(like(x, 2 * np.pi) * y)
    return loss, g, h


class PoissonNLL(namedtuple("PoissonNLL", ["log_input", "full", "eps"])):
    """Second derivative ``exp(x)`` (``log_input``), else ``y / (x + eps)**2``."""

    def __new__(cls, log_input, full, eps):
        return super().__new__(cls, option(log_input), option(full), eps)

    @staticmethod
    @math_jit
    def point(p, x, y, c, d):
        loss, g, h = _poisson(p, x, y, c, d)
        return loss, g, _zero(x), False

    @staticmethod
    @math_jit
    def point_hess(p, x, y, c, d):
        loss, g, h = _poisson(p, x, y, c, d)
        zero = _zero(x)
        return loss, g, zero, h, zero, False


@math_jit
def _gaussian(p, x, y, var, d):
    half = like(x, 0.5)
    eps = p.eps
    v = var
    clamped = v < eps
    if clamped:
        v = eps
    diff = x - y
    inv = like(x, 1) / v
    loss = half * (log(v) + diff * diff * inv)
    if is_on(p.full):
        loss += like(x, 0.5 * np.log(2 * np.pi))
    gv = half * (inv - diff * diff * inv * inv)
    hv = inv * inv * (diff * diff * inv - half)
    if clamped:
        gv = _zero(x)
        hv = _zero(x)
    return loss, diff * inv, gv, inv, hv, var < 0


class GaussianNLL(namedtuple("GaussianNLL", ["full", "eps"])):
    """``a`` input, ``b`` target, ``c`` variance; gradients for input and variance.

    Second derivatives ``1 / v`` (input) and ``(x - y)**2 / v**3 - 1 / (2 v**2)``
    (variance; 0 where the clamp at ``eps`` is active).
    """

    def __new__(cls, full, eps):
        return super().__new__(cls, option(full), eps)

    @staticmethod
    @math_jit
    def point(p, x, y, var, d):
        loss, gx, gv, hx, hv, flag = _gaussian(p, x, y, var, d)
        return loss, gx, gv, flag

    @staticmethod
    @math_jit
    def point_hess(p, x, y, var, d):
        return _gaussian(p, x, y, var, d)


@math_jit
def _kl_div(p, x, t, c, d):
    if is_on(p.log_target):
        et = exp(t)
        return et * (t - x), -et, _zero(x), False
    # xlogy(t, t): 0 where t == 0, t*log(t) elsewhere: NaN for t < 0 (a NaN t
    # passes through the product), inf for t = inf.
    tlogt = t * log_nonnegative(t)
    if t == 0:
        tlogt = _zero(x)
    if t < 0:
        tlogt = like(x, np.nan)
    if t == np.inf:
        tlogt = t
    return tlogt - t * x, -t, _zero(x), False


class KLDiv(namedtuple("KLDiv", ["log_target"])):
    """Linear in the input: its second derivative is 0."""

    def __new__(cls, log_target):
        return super().__new__(cls, option(log_target))

    point = staticmethod(_kl_div)

    @staticmethod
    @math_jit
    def point_hess(p, x, t, c, d):
        loss, g, gb, flag = _kl_div(p, x, t, c, d)
        zero = _zero(x)
        return loss, g, gb, zero, zero, flag


@math_jit
def _margin_ranking(p, x1, x2, y, d):
    z = -y * (x1 - x2) + p.margin
    zero = _zero(x1)
    if z >= 0:
        return z, -y, y, False
    if z < 0:
        return zero, zero, zero, False
    return z, z, z, False  # NaN


class MarginRanking(namedtuple("MarginRanking", ["margin"])):
    """``a`` input1, ``b`` input2, ``c`` target; gradients for both inputs.

    Piecewise linear: its second derivatives are 0 (also at the hinge).
    """

    point = staticmethod(_margin_ranking)

    @staticmethod
    @math_jit
    def point_hess(p, x1, x2, y, d):
        loss, g1, g2, flag = _margin_ranking(p, x1, x2, y, d)
        zero = _zero(x1)
        return loss, g1, g2, zero, zero, flag


@math_jit
def _hinge_embedding(p, x, y, c, d):
    zero = _zero(x)
    one = like(x, 1)
    loss = zero
    g = zero
    if y != -1:
        loss += x
        g += one
    if y != 1:
        m = p.margin - x
        if m >= 0:
            loss += m
            g -= one
        elif m != m:
            loss += m
            g += m
    return loss, g, zero, False


class HingeEmbedding(namedtuple("HingeEmbedding", ["margin"])):
    """PyTorch's definition: targets other than +-1 get both terms.

    Piecewise linear: its second derivative is 0 (also at the hinge).
    """

    point = staticmethod(_hinge_embedding)

    @staticmethod
    @math_jit
    def point_hess(p, x, y, c, d):
        loss, g, gb, flag = _hinge_embedding(p, x, y, c, d)
        zero = _zero(x)
        return loss, g, gb, zero, zero, flag


@math_jit
def sigmoid_focal_parts(x, y):
    """Shared terms of the sigmoid focal loss at logit ``x`` and label ``y``.

    Returns ``(ce, dce, q, ratio, log_p, log_n, s_pos, s_neg)``: the binary cross
    entropy with logits, its derivative ``s(x) - y``, ``q = 1 - p_t``, ``ratio =
    s(x) s(-x) / q`` (exact for ``y`` 0 and 1), ``log s(x)``, ``log s(-x)``, ``s(x)``
    and ``s(-x)``.
    Single assignments only: ``math_jit`` helpers are inlined at numba's IR level,
    where a variable reassigned in a branch can be mistranslated.
    """
    one = 1
    e = exp(-abs(x))
    log_p = (x if x < 0 else 0 * x) - log1p(e)  # log s(x)
    log_n = log_p - x  # log s(-x)
    inv = one / (one + e)
    s_pos = inv if x >= 0 else e * inv  # s(x)
    s_neg = e * inv if x >= 0 else inv  # s(-x)
    ce = -(y * log_p + (one - y) * log_n)
    q = s_pos * (one - y) + s_neg * y  # 1 - p_t
    ratio = s_neg if y == 0 else (s_pos if y == 1 else s_pos * s_neg / q)
    return ce, s_pos - y, q, ratio, log_p, log_n, s_pos, s_neg


@math_jit
def sigmoid_focal_curvature(gamma, ce, dce, y, ratio, s_pos, s_neg):
    """``B`` of the sigmoid focal loss's second derivative ``a_t q**gamma B``.

    With ``v = s(x) s(-x)`` (the cross entropy's second derivative), ``k = 1 - 2y``
    (``dq/dx = k v``) and ``r = v / q`` (``ratio``)::

        B = v + gamma k r (2 (s(x) - y) + ce ((gamma - 1) k r + s(-x) - s(x)))

    the terms ``ce'' f + 2 ce' f' + ce f''`` of ``(ce f)''`` with ``f = q**gamma``
    over ``f``, written with ``r`` so that nothing divides by a vanishing ``q``.
    """
    kr = (1 - 2 * y) * ratio
    return s_pos * s_neg + gamma * kr * (2 * dce + ce * ((gamma - 1) * kr + (s_neg - s_pos)))


@math_jit
def alpha_weight(alpha, x, y):
    """torchvision's ``alpha_t``, 1 when ``alpha < 0``."""
    one = 1
    return alpha * y + (1 - alpha) * (one - y) if alpha >= 0 else one + 0 * x


class SigmoidFocal(namedtuple("SigmoidFocal", ["alpha", "gamma"])):
    """torchvision's sigmoid focal loss, for :func:`numbaloss._core.driver.run_elementwise`.

    ``loss = a_t * ce * q**gamma`` with ``ce = -(y log s(x) + (1 - y) log s(-x))``,
    ``q = s(x) (1 - y) + s(-x) y`` (``1 - p_t``) and ``a_t = alpha y + (1 - alpha)(1 - y)``
    (1 when ``alpha < 0``).  ``d/dx = a_t [(s(x) - y) q**g + g ce (1 - 2y) q**(g-1) s(x) s(-x)]``,
    with ``q**g`` formed in log space (``log q`` is ``log s(-x)`` or ``log s(x)``
    for labels 1 and 0), so |x| in the thousands stays finite.  The second
    derivative is ``a_t q**g B`` (:func:`sigmoid_focal_curvature`).
    """

    @staticmethod
    @math_jit
    def point(params, x, y, c, d):
        one = 1
        gamma = params.gamma
        ce, dce, q, ratio, log_p, log_n, s_pos, s_neg = sigmoid_focal_parts(x, y)
        log_q = log_p if y == 0 else (log_n if y == 1 else log(q))
        q_gamma = exp(gamma * log_q) if gamma != 0 else one + 0 * x
        grad = q_gamma * (dce + gamma * ce * (one - 2 * y) * ratio)
        a_t = alpha_weight(params.alpha, x, y)
        return a_t * ce * q_gamma, a_t * grad, 0 * x, False

    @staticmethod
    @math_jit
    def point_hess(params, x, y, c, d):
        one = 1
        gamma = params.gamma
        ce, dce, q, ratio, log_p, log_n, s_pos, s_neg = sigmoid_focal_parts(x, y)
        log_q = log_p if y == 0 else (log_n if y == 1 else log(q))
        q_gamma = exp(gamma * log_q) if gamma != 0 else one + 0 * x
        grad = q_gamma * (dce + gamma * ce * (one - 2 * y) * ratio)
        a_t = alpha_weight(params.alpha, x, y)
        curv = sigmoid_focal_curvature(gamma, ce, dce, y, ratio, s_pos, s_neg)
        return a_t * ce * q_gamma, a_t * grad, 0 * x, a_t * (q_gamma * curv), 0 * x, False


class SigmoidFocalSquare(namedtuple("SigmoidFocalSquare", ["alpha"])):
    """:class:`SigmoidFocal` with ``gamma = 2`` (the default): ``q**2`` without exp/log."""

    @staticmethod
    @math_jit
    def point(params, x, y, c, d):
        one = 1
        ce, dce, q, ratio, log_p, log_n, s_pos, s_neg = sigmoid_focal_parts(x, y)
        q_square = q * q
        grad = q_square * (dce + 2 * ce * (one - 2 * y) * ratio)
        a_t = alpha_weight(params.alpha, x, y)
        return a_t * ce * q_square, a_t * grad, 0 * x, False

    @staticmethod
    @math_jit
    def point_hess(params, x, y, c, d):
        one = 1
        ce, dce, q, ratio, log_p, log_n, s_pos, s_neg = sigmoid_focal_parts(x, y)
        q_square = q * q
        grad = q_square * (dce + 2 * ce * (one - 2 * y) * ratio)
        a_t = alpha_weight(params.alpha, x, y)
        curv = sigmoid_focal_curvature(2, ce, dce, y, ratio, s_pos, s_neg)
        return a_t * ce * q_square, a_t * grad, 0 * x, a_t * (q_square * curv), 0 * x, False


# --- regression objectives of the gradient-boosting libraries -----------------------------
#
# Each has a helper returning ``(loss, d/dx, d2/dx2, out_of_domain)`` at one element
# (``x`` the prediction, ``y`` the target); ``point`` drops the second derivative (the
# compiler then drops its arithmetic), ``point_hess`` returns it as the Hessian's diagonal.
# Ternaries, not reassignments in branches: these helpers are inlined at numba's IR level.


@math_jit
def _pseudo_huber(p, x, y):
    # delta**2 (sqrt(1 + (r/delta)**2) - 1) without its cancellation near r = 0 and
    # without squaring r/delta (which overflows): with k = min(|r|, delta) / max(|r|,
    # delta) <= 1 and root = sqrt(1 + k**2), s = sqrt(delta**2 + r**2) is delta root
    # (|r| <= delta) or |r| root, the loss is delta r**2 / (s + delta), the gradient
    # r delta / s and the second derivative (delta / s)**3.
    one = like(x, 1)
    delta = like(x, p.delta)
    r = x - y
    a = abs(r)
    big = a > delta
    k = (delta if big else a) / (a if big else delta)
    root = math.sqrt(one + k * k)
    loss = delta * a * (one if big else k) / (root + (k if big else one))
    # (not sign(r) * delta: sign() gives a float64, and the float32 loop would be float64)
    grad = ((delta if r > 0 else -delta) if big else r) / root
    q = (k if big else one) / root
    return loss, grad, q * q * q, False


class PseudoHuber(namedtuple("PseudoHuber", ["delta"])):
    """Pseudo-Huber loss ``delta**2 (sqrt(1 + (r/delta)**2) - 1)``, ``r = x - y``."""

    @staticmethod
    @math_jit
    def point(p, x, y, c, d):
        loss, g, h, flag = _pseudo_huber(p, x, y)
        return loss, g, _zero(x), flag

    @staticmethod
    @math_jit
    def point_hess(p, x, y, c, d):
        loss, g, h, flag = _pseudo_huber(p, x, y)
        zero = _zero(x)
        return loss, g, zero, h, zero, flag


@math_jit
def _quantile(p, x, y):
    # Slope 1 - q above the target, -q below; at r = 0 the slope of r >= 0 (as
    # XGBoost's and LightGBM's quantile objectives); a NaN r keeps its NaN.
    one = like(x, 1)
    q = like(x, p.quantile)
    r = x - y
    above = r >= 0
    grad = (one - q) if above else (-q if r < 0 else r)
    loss = grad * r
    return loss, grad, _zero(x), False


class Quantile(namedtuple("Quantile", ["quantile"])):
    """Pinball loss ``max((1 - q) r, -q r)``, ``r = x - y``; second derivative 0."""

    @staticmethod
    @math_jit
    def point(p, x, y, c, d):
        loss, g, h, flag = _quantile(p, x, y)
        return loss, g, _zero(x), flag

    @staticmethod
    @math_jit
    def point_hess(p, x, y, c, d):
        loss, g, h, flag = _quantile(p, x, y)
        zero = _zero(x)
        return loss, g, zero, h, zero, flag


@math_jit
def _expectile(p, x, y):
    # Weight 1 - tau above the target, tau below; at r = 0 the weight of r >= 0
    # (XGBoost's), where the second derivative jumps from 2 tau to 2 (1 - tau).
    one = like(x, 1)
    tau = like(x, p.expectile)
    r = x - y
    w = (one - tau) if r >= 0 else tau
    wr = w * r
    return wr * r, wr + wr, w + w, False


class Expectile(namedtuple("Expectile", ["expectile"])):
    """Asymmetric squared error ``|tau - 1[r > 0]| r**2``, ``r = x - y``."""

    @staticmethod
    @math_jit
    def point(p, x, y, c, d):
        loss, g, h, flag = _expectile(p, x, y)
        return loss, g, _zero(x), flag

    @staticmethod
    @math_jit
    def point_hess(p, x, y, c, d):
        loss, g, h, flag = _expectile(p, x, y)
        zero = _zero(x)
        return loss, g, zero, h, zero, flag


_LOG_2 = math.log(2.0)


@math_jit
def expm1_given_exp(z, u):
    """``exp(z) - 1`` to a few ulps given ``u = exp(z)`` with ``u > 0`` (Kahan's trick).

    ``(u - 1) z / log(u)``: the rounding error of ``u`` cancels between ``u - 1``
    (exact for ``u`` in [1/2, 2]) and ``log(u)``; ``z`` itself where ``u`` rounds to 1.
    """
    return z if u == 1 else (u - 1) * z / log_unit_interval(u)


@math_jit
def _log_cosh(p, x, y):
    # With a = |r| and e = exp(-2a) (never overflows): tanh(a) = (1 - e) / (1 + e) and
    # sech(r)**2 = 4 e / (1 + e)**2.  For a >= 1/2, log cosh r = a + log1p(e) - log 2;
    # below, where that cancels, -log1p(-tanh(a)**2) / 2, with 1 - e from Kahan's
    # expm1 so that tanh(a) keeps its relative accuracy down to a -> 0.  (The
    # switch at 1/2 gave the smallest largest error, 5 to 6 eps, in float32 and
    # float64 against an extended-precision reference.)
    one = like(x, 1)
    r = x - y
    a = abs(r)
    z = -(a + a)
    e = exp(z)
    small = a < like(x, 0.5)
    em1 = expm1_given_exp(z, e) if small else e - one
    t = -em1 / (em1 + like(x, 2))
    lg = log1p(-t * t if small else e)
    # (|lg| = -lg there: a +0 at r = 0, where -0.5 * lg could give -0 under nsz)
    loss = like(x, 0.5) * abs(lg) if small else a + lg - like(x, _LOG_2)
    u = one + e
    return loss, -t if r < 0 else t, like(x, 4) * e / (u * u), False


class LogCosh(namedtuple("LogCosh", [])):
    """``log(cosh(x - y))``, stable for any |x - y|."""

    @staticmethod
    @math_jit
    def point(p, x, y, c, d):
        loss, g, h, flag = _log_cosh(p, x, y)
        return loss, g, _zero(x), flag

    @staticmethod
    @math_jit
    def point_hess(p, x, y, c, d):
        loss, g, h, flag = _log_cosh(p, x, y)
        zero = _zero(x)
        return loss, g, zero, h, zero, flag


@math_jit
def _on_mean(log_input, x, g, h):
    """The derivatives ``g``, ``h`` with respect to ``log(mu)``, or with respect to
    the mean ``mu = x`` where the input is the mean: ``g / mu``, ``(h - g) / mu**2``."""
    if is_on(log_input):
        return g, h
    # divisions, not products with a shared 1 / mu: LLVM turns a * (1 / mu) into
    # a / mu where the reciprocal has no other use, so the gradient's bits would
    # depend on whether the second derivative is computed
    return g / x, (h - g) / x / x


@math_jit
def _log_mean(log_input, x):
    """``log(mu)``: the input itself (``log_input=True``), else the log of the mean."""
    if is_on(log_input):
        return x
    return log(x)


@math_jit
def _bad_mean(log_input, x):
    """Out of domain: a mean ``x <= 0`` (only where the input is the mean)."""
    if is_on(log_input):
        return False
    return x <= 0


@math_jit
def _tweedie(p, x, y):
    # On the log link, with x = log(mu), e1 = mu**(1-p) and e2 = mu**(2-p):
    # loss = -y e1 / (1-p) + e2 / (2-p), d/dx = e2 - y e1,
    # d2/dx2 = (2-p) e2 - (1-p) y e1; full adds y**(2-p) / ((1-p)(2-p)).
    one = like(x, 1)
    a1 = one - like(x, p.power)
    a2 = a1 + one
    lm = _log_mean(p.log_input, x)
    e1 = exp(a1 * lm)
    e2 = exp(a2 * lm) if is_on(p.log_input) else x * e1
    ye1 = y * e1 if y != 0 else _zero(x)  # y = 0 and mu**(1-p) = inf: 0, not NaN
    constant = exp(a2 * log(y)) / (a1 * a2) if is_on(p.full) else _zero(x)
    g, h = _on_mean(p.log_input, x, e2 - ye1, a2 * e2 - a1 * ye1)
    return e2 / a2 - ye1 / a1 + constant, g, h, (y < 0) | _bad_mean(p.log_input, x)


class Tweedie(namedtuple("Tweedie", ["power", "log_input", "full"])):
    """Tweedie negative log-likelihood for ``1 < power < 2``."""

    def __new__(cls, power, log_input, full):
        return super().__new__(cls, power, option(log_input), option(full))

    @staticmethod
    @math_jit
    def point(p, x, y, c, d):
        loss, g, h, flag = _tweedie(p, x, y)
        return loss, g, _zero(x), flag

    @staticmethod
    @math_jit
    def point_hess(p, x, y, c, d):
        loss, g, h, flag = _tweedie(p, x, y)
        zero = _zero(x)
        return loss, g, zero, h, zero, flag


@math_jit
def _tweedie_poisson(p, x, y):
    # Tweedie with power 1 (Poisson): loss = mu - y log(mu), d/dx = mu - y and
    # d2/dx2 = mu on the log link; full adds y log(y) - y (0 log 0 = 0).
    lm = _log_mean(p.log_input, x)
    mu = exp(x) if is_on(p.log_input) else x
    ylogy = y * log(y) if y != 0 else _zero(x)
    constant = ylogy - y if is_on(p.full) else _zero(x)
    g, h = _on_mean(p.log_input, x, mu - y, mu)
    return mu - y * lm + constant, g, h, (y < 0) | _bad_mean(p.log_input, x)


class TweediePoisson(namedtuple("TweediePoisson", ["log_input", "full"])):
    """Tweedie negative log-likelihood for ``power = 1``: the Poisson case."""

    def __new__(cls, log_input, full):
        return super().__new__(cls, option(log_input), option(full))

    @staticmethod
    @math_jit
    def point(p, x, y, c, d):
        loss, g, h, flag = _tweedie_poisson(p, x, y)
        return loss, g, _zero(x), flag

    @staticmethod
    @math_jit
    def point_hess(p, x, y, c, d):
        loss, g, h, flag = _tweedie_poisson(p, x, y)
        zero = _zero(x)
        return loss, g, zero, h, zero, flag


@math_jit
def _gamma(p, x, y):
    # Gamma (Tweedie power 2): loss = y / mu + log(mu), d/dx = 1 - y / mu and
    # d2/dx2 = y / mu on the log link; full adds -log(y) - 1.
    lm = _log_mean(p.log_input, x)
    ym = y * exp(-x) if is_on(p.log_input) else y / x
    constant = -(log(y) + like(x, 1)) if is_on(p.full) else _zero(x)
    g, h = _on_mean(p.log_input, x, like(x, 1) - ym, ym)
    return ym + lm + constant, g, h, (y <= 0) | _bad_mean(p.log_input, x)


class Gamma(namedtuple("Gamma", ["log_input", "full"])):
    """Gamma negative log-likelihood (Tweedie power 2)."""

    def __new__(cls, log_input, full):
        return super().__new__(cls, option(log_input), option(full))

    @staticmethod
    @math_jit
    def point(p, x, y, c, d):
        loss, g, h, flag = _gamma(p, x, y)
        return loss, g, _zero(x), flag

    @staticmethod
    @math_jit
    def point_hess(p, x, y, c, d):
        loss, g, h, flag = _gamma(p, x, y)
        zero = _zero(x)
        return loss, g, zero, h, zero, flag


@math_jit
def _squared_log_error(p, x, y):
    # d = log1p(x) - log1p(y), computed as log1p((x - y) / (1 + y)): no cancellation
    # where x is close to y, and one logarithm.  loss = d**2, d/dx = 2 d / (1 + x),
    # d2/dx2 = 2 (1 - d) / (1 + x)**2 (negative where d > 1).
    # (Divisions by 1 + x, not products with its reciprocal: see _on_mean.)
    one = like(x, 1)
    dd = log1p((x - y) / (one + y))
    one_x = one + x
    two_d = dd + dd
    return dd * dd, two_d / one_x, (like(x, 2) - two_d) / one_x / one_x, (x <= -1) | (y <= -1)


class SquaredLogError(namedtuple("SquaredLogError", [])):
    """``(log1p(x) - log1p(y))**2`` for ``x, y > -1``."""

    @staticmethod
    @math_jit
    def point(p, x, y, c, d):
        loss, g, h, flag = _squared_log_error(p, x, y)
        return loss, g, _zero(x), flag

    @staticmethod
    @math_jit
    def point_hess(p, x, y, c, d):
        loss, g, h, flag = _squared_log_error(p, x, y)
        zero = _zero(x)
        return loss, g, zero, h, zero, flag
