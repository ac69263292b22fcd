"""The regression objectives of the boosting libraries (pseudo-Huber, quantile,
expectile, log-cosh, Tweedie, gamma, squared log error) beyond the common table tests
of ``test_losses.py`` and ``test_hessians.py``: values against scikit-learn and SciPy,
second derivatives of the point functions (``point_hess``, bit for bit ``point``'s
loss and gradient) against PyTorch's double backward, the NumPy formulas, central
differences and ``return_hess=True``, precision at extreme residuals, domains and bad
parameters."""

import numpy as np
import pytest
import scipy.special
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numba import njit

import numbaloss as nl
from numbaloss._core.traits import UNIT
from numbaloss._core.validation import HOST
from numbaloss._jit import KERNEL_FASTMATH
from numbaloss.elementwise import plans
from numbaloss.testing.elementwise import CASES
from tests.conftest import assert_close

OBJECTIVES = [
    "pseudo_huber_loss",
    "quantile_loss",
    "expectile_loss",
    "log_cosh_loss",
    "tweedie_loss",
    "gamma_loss",
    "squared_log_error_loss",
]
DTYPES = [np.float32, np.float64]
SETTINGS = settings(max_examples=30, deadline=None)


def _variants():
    return [
        pytest.param(name, i, id=f"{name}-{i}")
        for name in OBJECTIVES
        for i in range(len(CASES[name].variants))
    ]


def test_the_table_has_every_objective():
    from numbaloss._core import registry

    group = [e.name for e in registry.ENTRIES if e.group == registry.REGRESSION_OBJECTIVES]
    assert group == OBJECTIVES
    for name in OBJECTIVES:
        assert CASES[name].numpy_hess is not None and CASES[name].torch_function is not None


# --- second derivatives, from the point functions (the kernels' math) ---------------------


_LOOPS = {}


def _loops(cls):
    """Compiled loops over ``cls.point_hess`` and over ``cls.point`` (apart, as the
    kernels compile them for ``return_hess`` True and False)."""
    if cls not in _LOOPS:
        func, plain = cls.point_hess, cls.point

        @njit(fastmath=set(KERNEL_FASTMATH), error_model="numpy")
        def with_hess(params, x, y, loss, grad, hess):
            for i in range(x.size):
                loss[i], grad[i], _, hess[i], _, _ = func(params, x[i], y[i], UNIT, UNIT)

        @njit(fastmath=set(KERNEL_FASTMATH), error_model="numpy")
        def without(params, x, y, loss, grad):
            for i in range(x.size):
                loss[i], grad[i], _, _ = plain(params, x[i], y[i], UNIT, UNIT)

        _LOOPS[cls] = with_hess, without
    return _LOOPS[cls]


def _apply_point_hess(name, x, y, options):
    """``point_hess`` of the loss's parameters (as its plan makes them) at each element;
    its loss and gradient are ``point``'s, bit for bit."""
    params = getattr(plans, name)(HOST, x, y, **options).params
    with_hess, without = _loops(type(params))
    loss, grad, hess, loss0, grad0 = (np.empty(x.size, x.dtype) for _ in range(5))
    with_hess(params, x.ravel(), y.ravel(), loss, grad, hess)
    without(params, x.ravel(), y.ravel(), loss0, grad0)
    np.testing.assert_array_equal(loss, loss0)
    np.testing.assert_array_equal(grad, grad0)
    return loss.reshape(x.shape), grad.reshape(x.shape), hess.reshape(x.shape)


def _torch_hess(torch, case, x, y, options):
    """The diagonal of the Hessian by PyTorch's double backward of its formulation."""
    xt = torch.tensor(x, requires_grad=True)
    loss = case.torch_ref(torch, [xt, torch.tensor(y)], reduction="sum", **options)
    (g,) = torch.autograd.grad(loss, xt, create_graph=True)
    if not g.requires_grad:  # piecewise linear (quantile): the gradient is constant
        return g.detach().numpy(), np.zeros_like(x)
    (h,) = torch.autograd.grad(g.sum(), xt)
    return g.detach().numpy(), h.numpy()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("name", "variant"), _variants())
def test_second_derivative_matches_torch_double_backward(torch, name, variant, dtype, rng):
    case = CASES[name]
    x, y = case.make(rng, (6, 5), dtype)
    options = case.variants[variant]
    loss, grad, hess = _apply_point_hess(name, x, y, options)
    ref_grad, ref_hess = _torch_hess(torch, case, x, y, options)
    assert hess.dtype == dtype
    assert_close(grad, ref_grad, dtype, scale=5)
    assert_close(hess, ref_hess, dtype, scale=5)


@pytest.mark.parametrize(("name", "variant"), _variants())
def test_second_derivative_matches_numpy_and_central_differences(name, variant, rng):
    case = CASES[name]
    x, y = case.make(rng, (4, 5), np.float64)
    options = case.variants[variant]
    _, grad, hess = _apply_point_hess(name, x, y, options)
    (ref,) = case.numpy_hess(x, y, **options)
    assert_close(hess, np.broadcast_to(ref, hess.shape), np.float64, scale=5)
    # central differences of numbaloss's own gradient, one element at a time
    h = 1e-6
    fd = (
        _apply_point_hess(name, x + h, y, options)[1]
        - _apply_point_hess(name, x - h, y, options)[1]
    ) / (2 * h)
    np.testing.assert_allclose(hess, fd, rtol=1e-6, atol=1e-7)
    # and these are the public function's (return_hess=True)
    _, public_grad, public_hess = case.func(
        x, y, reduction="none", **options, return_grad=True, return_hess=True
    )
    assert_close(grad, public_grad, np.float64)
    assert_close(hess, public_hess, np.float64)


def test_second_derivatives_at_the_kinks():
    zero = np.zeros(3)
    x = np.array([0.0, 1.0, -1.0])
    # quantile: 0 everywhere, the kink included; the slope of r >= 0 at r = 0
    _, grad, hess = _apply_point_hess("quantile_loss", x, zero, {"quantile": 0.3})
    np.testing.assert_array_equal(hess, 0.0)
    np.testing.assert_array_equal(grad, [0.7, 0.7, -0.3])
    # expectile: 2 (1 - tau) at r = 0, as for r > 0
    _, grad, hess = _apply_point_hess("expectile_loss", x, zero, {"expectile": 0.3})
    np.testing.assert_allclose(hess, [1.4, 1.4, 0.6])
    np.testing.assert_array_equal(grad[0], 0.0)
    _, _, public = nl.expectile_loss(x, zero, 0.3, "none", return_grad=True, return_hess=True)
    np.testing.assert_array_equal(public, hess)
    # the smooth ones: their curvature at the minimum
    _, _, hess = _apply_point_hess("pseudo_huber_loss", zero, zero, {"delta": 2.0})
    np.testing.assert_array_equal(hess, 1.0)
    _, _, hess = _apply_point_hess("log_cosh_loss", zero, zero, {})
    np.testing.assert_array_equal(hess, 1.0)


# --- values against scikit-learn and SciPy --------------------------------------------------


def _per_element(metric, y, x, **kwargs):
    return np.array([metric(y[i : i + 1], x[i : i + 1], **kwargs) for i in range(len(y))])


@pytest.mark.parametrize("quantile", [0.05, 0.5, 0.8])
def test_quantile_is_sklearns_pinball_loss(sklearn, rng, quantile):
    x, y = rng.standard_normal((2, 40))
    pinball = sklearn.metrics.mean_pinball_loss
    assert_close(nl.quantile_loss(x, y, quantile), pinball(y, x, alpha=quantile), np.float64)
    raw = pinball(y[None], x[None], alpha=quantile, multioutput="raw_values")
    assert_close(nl.quantile_loss(x, y, quantile, reduction="none"), raw, np.float64)


@pytest.mark.parametrize("power", [1.0, 1.1, 1.5, 1.9, 2.0])
@pytest.mark.parametrize("log_input", [True, False])
def test_tweedie_full_is_half_sklearns_deviance(sklearn, rng, power, log_input):
    n = 30
    mu = rng.uniform(0.1, 5.0, n)
    y = rng.gamma(1.5, 2.0, n)
    if power < 2:
        y[::4] = 0.0  # the point mass at 0 of the compound Poisson-gamma distribution
    x = np.log(mu) if log_input else mu
    deviance = sklearn.metrics.mean_tweedie_deviance
    loss = nl.tweedie_loss(x, y, power, log_input, full=True, reduction="none")
    assert_close(2 * loss, _per_element(deviance, y, mu, power=power), np.float64, scale=10)
    mean = nl.tweedie_loss(x, y, power, log_input, full=True)
    assert_close(2 * mean, deviance(y, mu, power=power), np.float64, scale=10)
    # 0 where the mean is the target, and the deviance's minimum there
    at_target = nl.tweedie_loss(
        np.log(y[1:4]) if log_input else y[1:4], y[1:4], power, log_input, True, "none"
    )
    np.testing.assert_allclose(at_target, 0.0, atol=1e-12)


@pytest.mark.parametrize("log_input", [True, False])
def test_gamma_full_is_half_sklearns_deviance(sklearn, rng, log_input):
    mu = rng.uniform(0.1, 5.0, 30)
    y = rng.gamma(2.0, 1.0, 30) + 0.01
    x = np.log(mu) if log_input else mu
    deviance = sklearn.metrics.mean_gamma_deviance
    loss = nl.gamma_loss(x, y, log_input, full=True, reduction="none")
    assert_close(2 * loss, _per_element(deviance, y, mu), np.float64, scale=10)
    assert_close(2 * nl.gamma_loss(x, y, log_input, True), deviance(y, mu), np.float64, scale=10)
    # tweedie's power 2 is the gamma loss, and its deviance sklearn's gamma deviance
    for full in (False, True):
        assert_close(
            nl.tweedie_loss(x, y, 2.0, log_input, full, "none"),
            nl.gamma_loss(x, y, log_input, full, "none"),
            np.float64,
        )


def test_squared_log_error_is_sklearns(sklearn, rng):
    x, y = rng.uniform(0.0, 20.0, (2, 40))
    msle = sklearn.metrics.mean_squared_log_error
    assert_close(nl.squared_log_error_loss(x, y), msle(y, x), np.float64)
    raw = msle(y[None], x[None], multioutput="raw_values")
    assert_close(nl.squared_log_error_loss(x, y, reduction="none"), raw, np.float64)


@pytest.mark.parametrize("delta", [0.1, 1.0, 7.5])
def test_pseudo_huber_is_scipys(rng, delta):
    r = rng.standard_normal(50) * 5
    r[:3] = [0.0, 1e-3, -1e-3]
    y = rng.standard_normal(50)
    loss = nl.pseudo_huber_loss(y + r, y, delta, reduction="none")
    # scipy's formula cancels for |r| << delta: compare where it has its digits
    assert_close(loss, scipy.special.pseudo_huber(delta, (y + r) - y), np.float64, atol=1e-12)


# --- options that are other losses ---------------------------------------------------------


def test_special_cases_are_the_other_losses(rng):
    x, y = rng.standard_normal((2, 5, 6))
    assert_close(nl.quantile_loss(x, y, 0.5, "none"), 0.5 * np.abs(x - y), np.float64)
    assert_close(nl.expectile_loss(x, y, 0.5, "none"), 0.5 * (x - y) ** 2, np.float64)
    assert_close(nl.pseudo_huber_loss(x * 1e-7, 0 * y, 1.0), np.mean(0.5e-14 * x**2), np.float64)
    # quantile and expectile are mirrored by swapping the arguments and the level
    assert_close(
        nl.quantile_loss(x, y, 0.3, "none"), nl.quantile_loss(y, x, 0.7, "none"), np.float64
    )
    assert_close(
        nl.expectile_loss(x, y, 0.3, "none"), nl.expectile_loss(y, x, 0.7, "none"), np.float64
    )
    # tweedie with power 1 is poisson_nll_loss (log link, without Stirling's term)
    counts = rng.poisson(2.0, x.shape).astype(np.float64)
    loss, grad = nl.tweedie_loss(x, counts, 1.0, reduction="sum", return_grad=True)
    want, want_grad = nl.poisson_nll_loss(x, counts, reduction="sum", return_grad=True)
    assert_close(loss, want, np.float64)
    assert_close(grad, want_grad, np.float64)


@pytest.mark.parametrize("log_input", [True, False])
def test_tweedie_full_is_continuous_in_power(rng, log_input):
    x = rng.uniform(0.3, 2.0, 20)
    y = rng.gamma(2.0, 1.0, 20) + 0.1
    for end, inside in ((1.0, 1.0 + 1e-7), (2.0, 2.0 - 1e-7)):
        at_end = nl.tweedie_loss(x, y, end, log_input, True, "none", return_grad=True)
        near = nl.tweedie_loss(x, y, inside, log_input, True, "none", return_grad=True)
        np.testing.assert_allclose(near[0], at_end[0], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(near[1], at_end[1], rtol=1e-5, atol=1e-6)


def test_classes_match_functions(rng):
    x, y = rng.uniform(0.2, 2.0, (2, 10))
    assert nl.QuantileLoss(0.9)(x, y) == nl.quantile_loss(x, y, 0.9)
    assert nl.ExpectileLoss(0.2, "sum")(x, y) == nl.expectile_loss(x, y, 0.2, "sum")
    assert nl.PseudoHuberLoss(delta=2.0)(x, y) == nl.pseudo_huber_loss(x, y, 2.0)
    assert nl.LogCoshLoss()(x, y) == nl.log_cosh_loss(x, y)
    assert nl.TweedieLoss(1.3, full=True)(x, y) == nl.tweedie_loss(x, y, 1.3, full=True)
    assert nl.GammaLoss(log_input=False)(x, y) == nl.gamma_loss(x, y, log_input=False)
    assert nl.SquaredLogErrorLoss("none")(x, y).shape == (10,)
    assert "power=1.3" in repr(nl.TweedieLoss(1.3))


# --- precision at extreme residuals --------------------------------------------------------


def _log_cosh_long(r):
    """log cosh r in extended precision (each form where it keeps its digits)."""
    a = np.abs(np.asarray(r, dtype=np.longdouble))
    with np.errstate(all="ignore"):
        inner = -0.5 * np.log1p(-(np.tanh(a) ** 2))
        outer = a + np.log1p(np.exp(-2 * a)) - np.log(np.longdouble(2))
    return np.where(a < 1, inner, outer), np.tanh(np.asarray(r, np.longdouble))


@pytest.mark.parametrize("dtype", DTYPES)
def test_log_cosh_keeps_its_digits_for_every_residual(dtype):
    tiny = np.finfo(dtype).tiny
    mags = np.geomspace(np.sqrt(tiny) * 4, 1e4 if dtype == np.float32 else 1e300, 400)
    r = np.concatenate([mags, -mags, [0.0, 0.49, 0.5, 0.51, 1.0]]).astype(dtype)
    loss, grad = nl.log_cosh_loss(r, np.zeros_like(r), reduction="none", return_grad=True)
    ref, tanh = _log_cosh_long(r)
    eps = np.finfo(dtype).eps
    # (the largest errors measured: 5 to 6 eps for the value, 2 to 3 for the gradient)
    np.testing.assert_allclose(loss, ref.astype(np.float64), rtol=10 * eps, atol=0)
    np.testing.assert_allclose(grad, tanh.astype(np.float64), rtol=5 * eps, atol=0)
    assert np.isfinite(loss).all()
    big = np.array([np.inf, -np.inf, np.nan], dtype)
    loss, grad = nl.log_cosh_loss(big, np.zeros_like(big), reduction="none", return_grad=True)
    assert loss[0] == loss[1] == np.inf and np.isnan(loss[2])
    assert grad.tolist()[:2] == [1.0, -1.0] and np.isnan(grad[2])


@pytest.mark.parametrize("dtype", DTYPES)
def test_pseudo_huber_has_no_overflow_or_cancellation(dtype):
    huge = np.finfo(dtype).max / 4
    r = np.array([1e-15, -1e-12, huge, -huge, np.inf], dtype)
    loss, grad = nl.pseudo_huber_loss(r, np.zeros_like(r), 2.0, reduction="none", return_grad=True)
    np.testing.assert_allclose(loss[:2], 0.5 * r[:2].astype(np.float64) ** 2, rtol=4e-7)
    np.testing.assert_allclose(grad[:2], r[:2], rtol=4e-7)
    # delta |r| - delta**2 far out; finite up to the largest residual
    np.testing.assert_allclose(loss[2:4], 2.0 * huge, rtol=1e-6)
    np.testing.assert_allclose(grad[2:4], [2.0, -2.0], rtol=1e-6)
    assert loss[4] == np.inf and grad[4] == 2.0


def test_squared_log_error_without_cancellation():
    y = np.array([1.0, 1e3, 1e8])
    x = y * (1 + 1e-9)
    loss = nl.squared_log_error_loss(x, y, reduction="none")
    ratio = np.log1p((np.longdouble(x) - np.longdouble(y)) / (1 + np.longdouble(y)))
    np.testing.assert_allclose(loss, (ratio**2).astype(np.float64), rtol=1e-12)


def test_tweedie_zero_targets_and_extreme_means():
    x = np.array([-1600.0, -50.0, 0.0, 50.0])  # mu**(1-p) = exp(800) overflows
    y = np.zeros(4)
    loss, grad = nl.tweedie_loss(x, y, 1.5, reduction="none", return_grad=True)
    assert not np.isnan(loss).any() and not np.isnan(grad).any()
    np.testing.assert_allclose(loss, np.exp(0.5 * x) / 0.5)


# --- properties ----------------------------------------------------------------------------

residuals = hnp.arrays(
    np.float64, hnp.array_shapes(max_dims=2, max_side=6), elements=st.floats(-50, 50)
)


@SETTINGS
@given(r=residuals, level=st.floats(0.01, 0.99), delta=st.floats(0.01, 20))
def test_residual_losses_are_nonnegative_and_zero_at_the_target(r, level, delta):
    y = np.linspace(-3, 3, r.size).reshape(r.shape)
    x = y + r
    r = x - y  # the residual the loss sees
    for name, options in (
        ("pseudo_huber_loss", {"delta": delta}),
        ("quantile_loss", {"quantile": level}),
        ("expectile_loss", {"expectile": level}),
        ("log_cosh_loss", {}),
    ):
        loss, grad = CASES[name].func(x, y, reduction="none", **options, return_grad=True)
        assert (loss >= 0).all(), name
        np.testing.assert_array_equal(loss[r == 0], 0.0)
        # the gradient has the residual's sign (the loss grows away from the target)
        assert (np.sign(grad[r != 0]) == np.sign(r[r != 0])).all(), name
        assert_close(loss, CASES[name].numpy_ref(x, y, **options), np.float64, scale=10, atol=1e-12)


def _tweedie_terms(mu, y, p):
    """The magnitude of the terms of the full Tweedie loss (what its rounding scales with)."""
    if p in (1.0, 2.0):
        return mu + y + np.abs(np.log(mu)) * (1 + y) + np.abs(np.log(y)) * (1 + y) + y / mu + 1
    return (y * mu ** (1 - p) + mu ** (2 - p) + y ** (2 - p)) / ((p - 1) * (2 - p))


@SETTINGS
@given(
    mu=hnp.arrays(np.float64, st.integers(1, 8), elements=st.floats(1e-3, 1e3)),
    power=st.sampled_from([1.0, 1.5, 2.0]) | st.floats(1.01, 1.99),
    data=st.data(),
)
def test_deviances_are_nonnegative_with_minimum_at_the_target(mu, power, data):
    y = data.draw(hnp.arrays(np.float64, mu.shape, elements=st.floats(1e-3, 1e3)))
    loss, grad = nl.tweedie_loss(
        np.log(mu), y, power, full=True, reduction="none", return_grad=True
    )
    assert (loss >= -1e-13 * _tweedie_terms(mu, y, power)).all()
    # on the log link the gradient is mu**(1-p) (mu - y): the sign of mu - y
    moved = np.abs(mu - y) > 1e-9 * np.maximum(mu, y)
    assert (np.sign(grad[moved]) == np.sign(mu - y)[moved]).all()


@SETTINGS
@given(
    x=hnp.arrays(np.float32, st.integers(0, 8), elements=st.floats(width=32)),
    name=st.sampled_from(["pseudo_huber_loss", "log_cosh_loss", "quantile_loss"]),
)
def test_extreme_float32_values(x, name):
    """inf gives inf (and a finite gradient), NaN gives NaN, never a NaN from overflow."""
    y = np.zeros_like(x)
    loss, grad = CASES[name].func(x, y, reduction="none", return_grad=True, **CASES[name].options)
    assert loss.dtype == np.float32
    np.testing.assert_array_equal(np.isnan(loss), np.isnan(x))
    assert (loss[np.isinf(x)] == np.inf).all()
    assert np.isfinite(grad[~np.isnan(x)]).all()
    assert np.isnan(grad[np.isnan(x)]).all()


# --- bad parameters and out-of-domain data -------------------------------------------------


def test_bad_parameters_are_named():
    x = np.ones(4)
    for q in (0.0, 1.0, -0.5, 1.5, np.nan):
        with pytest.raises(ValueError, match=r"quantile must be in the open interval \(0, 1\)"):
            nl.quantile_loss(x, x, q)
        with pytest.raises(ValueError, match=r"expectile must be in the open interval \(0, 1\)"):
            nl.expectile_loss(x, x, expectile=q)
    for delta in (0.0, -1.0):
        with pytest.raises(ValueError, match="delta must be positive"):
            nl.pseudo_huber_loss(x, x, delta)
    with pytest.raises(ValueError, match="delta must be finite"):
        nl.pseudo_huber_loss(x, x, np.inf)
    for power in (0.0, 0.99, 2.01, 3.0, np.nan):
        with pytest.raises(ValueError, match=r"power must be in \[1, 2\]"):
            nl.tweedie_loss(x, x, power)
    with pytest.raises(TypeError, match="quantile must be a real number"):
        nl.quantile_loss(x, x, "0.5")
    with pytest.raises(TypeError, match="^log_input must be a bool"):
        nl.gamma_loss(x, x, log_input=1)
    with pytest.raises(TypeError, match="^full must be a bool"):
        nl.tweedie_loss(x, x, full=None)
    with pytest.raises(ValueError, match="input and target must have the same shape"):
        nl.log_cosh_loss(x, np.ones(3))


@pytest.mark.parametrize("return_grad", [False, True])
def test_out_of_domain_data_raises(return_grad):
    x = np.array([0.5, 1.0, 2.0])
    ok = np.array([1.0, 2.0, 3.0])
    kw = {"return_grad": return_grad}
    with pytest.raises(ValueError, match=r"tweedie_loss with power=1.5 needs target >= 0$"):
        nl.tweedie_loss(x, np.array([1.0, -0.1, 2.0]), **kw)
    with pytest.raises(ValueError, match=r"tweedie_loss with power=1 needs target >= 0"):
        nl.tweedie_loss(x, np.array([1.0, -0.1, 2.0]), 1.0, **kw)
    with pytest.raises(ValueError, match=r"tweedie_loss with power=2 needs target > 0"):
        nl.tweedie_loss(x, np.array([1.0, 0.0, 2.0]), 2.0, **kw)
    with pytest.raises(ValueError, match=r"needs target >= 0 and input > 0 \(the mean"):
        nl.tweedie_loss(np.array([0.5, 0.0, 1.0]), ok, log_input=False, **kw)
    with pytest.raises(ValueError, match=r"gamma_loss needs target > 0$"):
        nl.gamma_loss(x, np.array([1.0, 0.0, 2.0]), **kw)
    with pytest.raises(ValueError, match=r"gamma_loss needs target > 0 and input > 0"):
        nl.gamma_loss(np.array([1.0, -1.0, 1.0]), ok, log_input=False, **kw)
    with pytest.raises(ValueError, match="needs input > -1 and target > -1"):
        nl.squared_log_error_loss(np.array([0.0, -1.0, 2.0]), ok, **kw)
    with pytest.raises(ValueError, match="needs input > -1 and target > -1"):
        nl.squared_log_error_loss(ok, np.array([0.0, -2.0, 2.0]), reduction="none", **kw)
    # a zero target is in Tweedie's domain below power 2, and NaN propagates
    assert np.isfinite(nl.tweedie_loss(x, np.array([0.0, 0.0, 1.0]), 1.5))
    assert np.isnan(nl.gamma_loss(x, np.array([np.nan, 1.0, 1.0])))
    assert np.isnan(nl.squared_log_error_loss(np.array([np.nan, 1.0, 1.0]), ok))
