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
functions into their loops.  The point functions are usable from users' own
``@njit`` code, e.g. ``MSE.point(MSE(), x, y, UNIT, 0.0)``
(:data:`~numbaloss._core.traits.UNIT`: no weight; a number there weighs the loss
and its gradient), or ``MSE.point_hess(...)`` for the second derivative too.
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
