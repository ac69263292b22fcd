"""The elementwise losses' device-neutral math: their parameter tuples and point functions.

Each loss is a parameter ``namedtuple`` whose ``point`` is a compiled function of
one element::

    point(params, a, b, c, d) -> (loss, dloss/da, dloss/db, out_of_domain)

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
and its gradient).
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


class MSE(namedtuple("MSE", [])):
    """Squared error; ``c`` is the weight."""

    @staticmethod
    @math_jit
    def point(p, x, y, w, d):
        diff = x - y
        return weigh(w, diff * diff), weigh(w, diff + diff), _zero(x), False


class SmoothL1(namedtuple("SmoothL1", ["beta"])):
    @staticmethod
    @math_jit
    def point(p, x, y, c, d):
        diff = x - y
        ad = abs(diff)
        beta = p.beta
        half = like(x, 0.5)
        if ad < beta:
            return half * diff * diff / beta, diff / beta, _zero(x), False
        return ad - half * beta, sign(diff), _zero(x), False


class Huber(namedtuple("Huber", ["delta"])):
    """Huber loss; ``c`` is the weight."""

    @staticmethod
    @math_jit
    def point(p, x, y, w, d):
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
        return weigh(w, loss), weigh(w, g), _zero(x), False


@math_jit
def _exp_minus_abs_margin(p, x, y, c, d):
    return exp_minus_abs(-y * x)


@math_jit
def _soft_margin_given_exp(p, x, y, c, d, e, unused):
    loss, s = softplus_sigmoid_given_exp(-y * x, e)
    return loss, -y * s, _zero(x), False


class SoftMargin(namedtuple("SoftMargin", [])):
    """log(1 + exp(-y x)); its exp is a prepass (see :mod:`numbaloss._core.traits`)."""

    prepasses = (_exp_minus_abs_margin,)
    after_prepasses = staticmethod(_soft_margin_given_exp)

    @staticmethod
    @math_jit
    def point(p, x, y, c, d):
        return _soft_margin_given_exp(p, x, y, c, d, _exp_minus_abs_margin(p, x, y, c, d), x)


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


class BCE(namedtuple("BCE", [])):
    """Binary cross entropy on probabilities; ``c`` is the weight.

    Its two logarithms are prepasses (see :mod:`numbaloss._core.traits`).
    """

    prepasses = (_bce_log_x, _bce_log_1mx)
    after_prepasses = staticmethod(_bce_after_logs)

    @staticmethod
    @math_jit
    def point(p, x, y, w, d):
        return _bce_after_logs(
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


class BCEWithLogits(namedtuple("BCEWithLogits", [])):
    """Binary cross entropy on logits; ``c`` is the weight, ``d`` the pos_weight.

    Its exp is a prepass (see :mod:`numbaloss._core.traits`).
    """

    prepasses = (_exp_minus_abs_logit,)
    after_prepasses = staticmethod(_bce_with_logits_given_exp)

    @staticmethod
    @math_jit
    def point(p, x, y, w, pw):
        e = _exp_minus_abs_logit(p, x, y, w, pw)
        return _bce_with_logits_given_exp(p, x, y, w, pw, e, x)


class PoissonNLL(namedtuple("PoissonNLL", ["log_input", "full", "eps"])):
    def __new__(cls, log_input, full, eps):
        return super().__new__(cls, option(log_input), option(full), eps)

    @staticmethod
    @math_jit
    def point(p, x, y, c, d):
        one = like(x, 1)
        if is_on(p.log_input):
            ex = exp(x)
            loss = ex - y * x
            g = ex - y
        else:
            xe = x + p.eps
            loss = x - y * log(xe)
            g = one - y / xe
        if is_on(p.full) and y > one:
            loss += y * log(y) - y + like(x, 0.5) * log(like(x, 2 * np.pi) * y)
        return loss, g, _zero(x), False


class GaussianNLL(namedtuple("GaussianNLL", ["full", "eps"])):
    """``a`` input, ``b`` target, ``c`` variance; gradients for input and variance."""

    def __new__(cls, full, eps):
        return super().__new__(cls, option(full), eps)

    @staticmethod
    @math_jit
    def point(p, x, y, var, d):
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
        if clamped:
            gv = _zero(x)
        return loss, diff * inv, gv, var < 0


class KLDiv(namedtuple("KLDiv", ["log_target"])):
    def __new__(cls, log_target):
        return super().__new__(cls, option(log_target))

    @staticmethod
    @math_jit
    def point(p, x, t, c, d):
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


class MarginRanking(namedtuple("MarginRanking", ["margin"])):
    """``a`` input1, ``b`` input2, ``c`` target; gradients for both inputs."""

    @staticmethod
    @math_jit
    def point(p, x1, x2, y, d):
        z = -y * (x1 - x2) + p.margin
        zero = _zero(x1)
        if z >= 0:
            return z, -y, y, False
        if z < 0:
            return zero, zero, zero, False
        return z, z, z, False  # NaN


class HingeEmbedding(namedtuple("HingeEmbedding", ["margin"])):
    """PyTorch's definition: targets other than +-1 get both terms."""

    @staticmethod
    @math_jit
    def point(p, x, y, c, d):
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


@math_jit
def sigmoid_focal_parts(x, y):
    """Shared terms of the sigmoid focal loss at logit ``x`` and label ``y``.

    Returns ``(ce, dce, q, ratio, log_p, log_n)``: the binary cross entropy with
    logits, its derivative ``s(x) - y``, ``q = 1 - p_t``, ``ratio =
    s(x) s(-x) / q`` (exact for ``y`` 0 and 1) and ``log s(x)``, ``log s(-x)``.
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
    return ce, s_pos - y, q, ratio, log_p, log_n


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
    for labels 1 and 0), so |x| in the thousands stays finite.
    """

    @staticmethod
    @math_jit
    def point(params, x, y, c, d):
        one = 1
        gamma = params.gamma
        ce, dce, q, ratio, log_p, log_n = sigmoid_focal_parts(x, y)
        log_q = log_p if y == 0 else (log_n if y == 1 else log(q))
        q_gamma = exp(gamma * log_q) if gamma != 0 else one + 0 * x
        grad = q_gamma * (dce + gamma * ce * (one - 2 * y) * ratio)
        a_t = alpha_weight(params.alpha, x, y)
        return a_t * ce * q_gamma, a_t * grad, 0 * x, False


class SigmoidFocalSquare(namedtuple("SigmoidFocalSquare", ["alpha"])):
    """:class:`SigmoidFocal` with ``gamma = 2`` (the default): ``q**2`` without exp/log."""

    @staticmethod
    @math_jit
    def point(params, x, y, c, d):
        one = 1
        ce, dce, q, ratio, log_p, log_n = sigmoid_focal_parts(x, y)
        q_square = q * q
        grad = q_square * (dce + 2 * ce * (one - 2 * y) * ratio)
        a_t = alpha_weight(params.alpha, x, y)
        return a_t * ce * q_square, a_t * grad, 0 * x, False
