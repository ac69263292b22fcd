"""The elementwise losses at one element, for users' own ``@njit`` code (:mod:`numbaloss.jit`).

One function per loss of the family, named as the loss, with the loss's own
arguments as scalars (its public signature without ``reduction`` and the gradient
keywords): it builds the loss's parameter tuple (:mod:`.points`) from the options,
as :mod:`.plans` does, and returns the value, gradient and second derivative of
one element from the loss's ``point_hess``, the same code that the kernels
compile into their loops.  Nothing here repeats a formula.

Every function returns ``(loss, grad, hess)``; for the losses with two predictions
(``gaussian_nll_loss``: ``input`` and ``var``; ``margin_ranking_loss``: ``input1``
and ``input2``) ``grad`` and ``hess`` are pairs, as ``return_grad`` gives a tuple of
gradients there.  The results have the dtype of the floating arguments
(:func:`_finish`), and are NaN where the public function raises for the element's
values (an element outside the loss's domain).  Options are not checked here.

Boolean options are passed to the parameter tuples as plain booleans: inside
compiled code :func:`numbaloss._core.traits.is_on` reads them at run time (the
kernels get compile-time ``ON``/``OFF`` instead).  The functions are compiled with
:func:`numbaloss._jit.user_math_jit`: inlined into a caller's ``@njit`` code.
"""

import numpy as np
from numba import typeof, types

from .._core.traits import UNIT, like, point_hess
from .._jit import jit_overload, user_math_jit
from . import points

# --- helpers (compile-time dispatch on the arguments' types) ------------------------------


def _weight(w):
    """An optional weight: :data:`~numbaloss._core.traits.UNIT` for ``None``."""
    return UNIT if w is None else w


@jit_overload(_weight)
def _ov_weight(w):
    if w is None or isinstance(w, (types.NoneType, types.Omitted)):
        return lambda w: UNIT
    return lambda w: w


def _result_type(*tys):
    """NumPy's ``result_type`` of the floating numba types among ``tys`` (the
    public functions' result dtype), float64 where none is floating."""
    floats = [np.dtype(t.name) for t in tys if isinstance(t, types.Float)]
    return np.result_type(*floats).type if floats else np.float64


def _finish(r, a, b, c, d):
    """``(loss, grad, hess)`` from a ``point_hess`` result ``r`` at operands ``a..d``."""
    loss, ga, gb, ha, hb, bad = r
    ctor = _result_type(*map(typeof, (a, b, c, d)))
    return tuple(ctor(np.nan if bad else v) for v in (loss, ga, ha))


@jit_overload(_finish)
def _ov_finish(r, a, b, c, d):
    ctor = _result_type(a, b, c, d)

    def impl(r, a, b, c, d):
        loss, ga, gb, ha, hb, bad = r
        nan = ctor(np.nan)
        if bad:
            return nan, nan, nan
        return ctor(loss), ctor(ga), ctor(ha)

    return impl


def _finish_pair(r, a, b, c, d):
    """``(loss, (grad_a, grad_b), (hess_a, hess_b))``: :func:`_finish` for two predictions."""
    loss, ga, gb, ha, hb, bad = r
    ctor = _result_type(*map(typeof, (a, b, c, d)))
    v = [ctor(np.nan if bad else x) for x in (loss, ga, gb, ha, hb)]
    return v[0], (v[1], v[2]), (v[3], v[4])


@jit_overload(_finish_pair)
def _ov_finish_pair(r, a, b, c, d):
    ctor = _result_type(a, b, c, d)

    def impl(r, a, b, c, d):
        loss, ga, gb, ha, hb, bad = r
        nan = ctor(np.nan)
        if bad:
            return nan, (nan, nan), (nan, nan)
        return ctor(loss), (ctor(ga), ctor(gb)), (ctor(ha), ctor(hb))

    return impl


@user_math_jit
def _element(params, a, b, c, d):
    """``(loss, grad, hess)`` of the loss ``params`` at one element."""
    return _finish(point_hess(params, a, b, c, d), a, b, c, d)


@user_math_jit
def _pair(params, a, b, c, d):
    """``(loss, (grad_a, grad_b), (hess_a, hess_b))`` of a loss with two predictions."""
    return _finish_pair(point_hess(params, a, b, c, d), a, b, c, d)


# --- the losses, in the registry's order ------------------------------------------------


@user_math_jit
def l1_loss(input, target, weight=None):
    return _element(points.L1(), input, target, _weight(weight), like(input, 0))


@user_math_jit
def mse_loss(input, target, weight=None):
    return _element(points.MSE(), input, target, _weight(weight), like(input, 0))


@user_math_jit
def smooth_l1_loss(input, target, beta=1.0):
    if beta == 0:
        return _element(points.L1(), input, target, UNIT, like(input, 0))
    return _element(points.SmoothL1(float(beta)), input, target, UNIT, like(input, 0))


@user_math_jit
def huber_loss(input, target, delta=1.0, weight=None):
    return _element(points.Huber(float(delta)), input, target, _weight(weight), like(input, 0))


@user_math_jit
def soft_margin_loss(input, target):
    return _element(points.SoftMargin(), input, target, UNIT, like(input, 0))


@user_math_jit
def binary_cross_entropy(input, target, weight=None):
    return _element(points.BCE(), input, target, _weight(weight), like(input, 0))


@user_math_jit
def binary_cross_entropy_with_logits(input, target, weight=None, pos_weight=None):
    return _element(points.BCEWithLogits(), input, target, _weight(weight), _weight(pos_weight))


@user_math_jit
def poisson_nll_loss(input, target, log_input=True, full=False, eps=1e-8):
    params = points.PoissonNLL(bool(log_input), bool(full), float(eps))
    return _element(params, input, target, UNIT, like(input, 0))


@user_math_jit
def gaussian_nll_loss(input, target, var, full=False, eps=1e-6):
    params = points.GaussianNLL(bool(full), float(eps))
    return _pair(params, input, target, var, like(input, 0))


@user_math_jit
def kl_div(input, target, log_target=False):
    return _element(points.KLDiv(bool(log_target)), input, target, UNIT, like(input, 0))


@user_math_jit
def margin_ranking_loss(input1, input2, target, margin=0.0):
    return _pair(points.MarginRanking(float(margin)), input1, input2, target, like(input1, 0))


@user_math_jit
def hinge_embedding_loss(input, target, margin=1.0):
    params = points.HingeEmbedding(float(margin))
    return _element(params, input, target, UNIT, like(input, 0))


@user_math_jit
def sigmoid_focal_loss(inputs, targets, alpha=0.25, gamma=2.0):
    if gamma == 2:
        params = points.SigmoidFocalSquare(float(alpha))
        return _element(params, inputs, targets, UNIT, like(inputs, 0))
    params2 = points.SigmoidFocal(float(alpha), float(gamma))
    return _element(params2, inputs, targets, UNIT, like(inputs, 0))


@user_math_jit
def pseudo_huber_loss(input, target, delta=1.0):
    return _element(points.PseudoHuber(float(delta)), input, target, UNIT, like(input, 0))


@user_math_jit
def quantile_loss(input, target, quantile=0.5):
    return _element(points.Quantile(float(quantile)), input, target, UNIT, like(input, 0))


@user_math_jit
def expectile_loss(input, target, expectile=0.5):
    return _element(points.Expectile(float(expectile)), input, target, UNIT, like(input, 0))


@user_math_jit
def log_cosh_loss(input, target):
    return _element(points.LogCosh(), input, target, UNIT, like(input, 0))


@user_math_jit
def tweedie_loss(input, target, power=1.5, log_input=True, full=False):
    # the parameter tuples of tweedie_loss's plan: Poisson at power 1, Gamma at 2
    if power == 1:
        poisson = points.TweediePoisson(bool(log_input), bool(full))
        return _element(poisson, input, target, UNIT, like(input, 0))
    if power == 2:
        gamma = points.Gamma(bool(log_input), bool(full))
        return _element(gamma, input, target, UNIT, like(input, 0))
    params = points.Tweedie(float(power), bool(log_input), bool(full))
    return _element(params, input, target, UNIT, like(input, 0))


@user_math_jit
def gamma_loss(input, target, log_input=True, full=False):
    params = points.Gamma(bool(log_input), bool(full))
    return _element(params, input, target, UNIT, like(input, 0))


@user_math_jit
def squared_log_error_loss(input, target):
    return _element(points.SquaredLogError(), input, target, UNIT, like(input, 0))
