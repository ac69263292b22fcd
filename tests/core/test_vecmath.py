"""Accuracy of the vectorizable math, in ulps against NumPy (float64 reference)."""

import numpy as np
import pytest
from numba import njit

from numbaloss._core import vecmath

FUNCS = {
    "exp": (vecmath.exp, np.exp),
    "log": (vecmath.log, np.log),
    "log1p": (vecmath.log1p, np.log1p),
    "softplus": (vecmath.softplus, lambda x: np.logaddexp(0.0, x)),
    "log_sigmoid": (vecmath.log_sigmoid, lambda x: -np.logaddexp(0.0, -x)),
    "sigmoid": (vecmath.sigmoid, lambda x: 1 / (1 + np.exp(-x))),
}

#: Bounds in ulps, against an x87 extended-precision (np.longdouble) reference.
#: Measured maxima: float32 exp 0.89, log 0.86, log1p 1.44, softplus 1.51,
#: log_sigmoid 1.52, sigmoid 2.44; float64 exp 0.88, log 0.76, log1p 1.06,
#: softplus 1.89, log_sigmoid 1.85, sigmoid 2.57.
BOUNDS = {
    np.float32: {
        "exp": 1.0,
        "log": 1.0,
        "log1p": 2.0,
        "softplus": 2.0,
        "log_sigmoid": 2.0,
        "sigmoid": 3.0,
    },
    np.float64: {
        "exp": 1.5,
        "log": 1.5,
        "log1p": 1.5,
        "softplus": 3.0,
        "log_sigmoid": 3.0,
        "sigmoid": 3.0,
    },
}


def _kernel(f):
    @njit
    def apply(x, out):
        for i in range(x.size):
            out[i] = f(x[i])

    return apply


_KERNELS = {name: _kernel(f) for name, (f, _) in FUNCS.items()}


def _apply(name, x):
    out = np.empty_like(x)
    _KERNELS[name](x, out)
    return out


def _ulp_error(actual, reference, dtype):
    """|actual - reference| in units of the last place of the reference rounded to ``dtype``."""
    rounded = reference.astype(dtype)
    ok = np.isfinite(rounded) & np.isfinite(actual) & (rounded != 0)
    spacing = np.spacing(np.abs(rounded[ok])).astype(np.longdouble)
    return np.abs(actual[ok].astype(np.longdouble) - reference[ok]) / spacing


def _samples(dtype, name):
    rng = np.random.default_rng(7)
    info = np.finfo(dtype)
    if name == "exp":
        hi = 88.7 if dtype == np.float32 else 709.7
        lo = -103.9 if dtype == np.float32 else -745.0
        x = np.concatenate(
            [rng.uniform(lo, hi, 200000), rng.uniform(-1, 1, 50000), np.linspace(lo, hi, 50001)]
        )
    elif name in ("log", "log1p"):
        e = rng.uniform(np.log(info.smallest_subnormal), np.log(info.max), 200000)
        x = np.exp(e.astype(np.float64))
        x = np.concatenate([x, rng.uniform(0.5, 2, 50000), rng.uniform(1e-9, 1e-3, 10000)])
        if name == "log1p":
            x = np.concatenate([x, -rng.uniform(0, 1, 50000), rng.uniform(-1e-6, 1e-6, 10000)])
    else:
        x = np.concatenate([rng.uniform(-100, 100, 200000), rng.uniform(-5, 5, 50000)])
    return x.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(FUNCS))
def test_accuracy_in_ulps(name, dtype):
    x = _samples(dtype, name)
    actual = _apply(name, x)
    assert actual.dtype == dtype
    with np.errstate(all="ignore"):
        reference = FUNCS[name][1](x.astype(np.longdouble))
    err = _ulp_error(actual, reference, dtype)
    assert err.max() < BOUNDS[dtype][name], float(err.max())
    # overflow to inf (and underflow to 0) at the same places as the rounded reference
    np.testing.assert_array_equal(np.isinf(actual), np.isinf(reference.astype(dtype)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_special_values(dtype):
    info = np.finfo(dtype)
    x = np.array(
        [
            np.nan,
            np.inf,
            -np.inf,
            0.0,
            -0.0,
            info.smallest_subnormal,
            info.tiny,
            info.max,
            -info.max,
            1.0,
            -1.0,
        ],
        dtype=dtype,
    )
    with np.errstate(all="ignore"):
        for name, (_, ref) in FUNCS.items():
            actual = _apply(name, x)
            expected = ref(x.astype(np.float64)).astype(dtype)
            np.testing.assert_array_equal(np.isnan(actual), np.isnan(expected), err_msg=name)
            both = ~np.isnan(expected)
            np.testing.assert_allclose(
                actual[both], expected[both], rtol=4 * info.eps, err_msg=name
            )


def test_exp_subnormal_results_and_overflow_edges():
    x = np.array([-745.13, -740.0, -708.5, 709.78, 709.79, -103.9, -87.5], dtype=np.float64)
    np.testing.assert_array_equal(_apply("exp", x), np.exp(x))
    x32 = np.array([88.72, 88.73, -103.97, -87.4, -100.0], dtype=np.float32)
    with np.errstate(over="ignore"):
        np.testing.assert_array_equal(
            _apply("exp", x32), np.exp(x32.astype(np.float64)).astype(np.float32)
        )


def test_softplus_sigmoid_pair_equals_the_separate_functions():
    @njit
    def pair(x, sp, sg):
        for i in range(x.size):
            sp[i], sg[i] = vecmath.softplus_sigmoid(x[i])

    for dtype in (np.float32, np.float64):
        x = np.linspace(-100, 100, 10001).astype(dtype)
        sp, sg = np.empty_like(x), np.empty_like(x)
        pair(x, sp, sg)
        np.testing.assert_array_equal(sp, _apply("softplus", x))
        np.testing.assert_allclose(sg, _apply("sigmoid", x), rtol=2 * np.finfo(dtype).eps)


def test_softplus_sigmoid_in_two_halves_gives_the_same_bits():
    @njit
    def halves(x, e, sp, sg):
        for i in range(x.size):
            e[i] = vecmath.exp_minus_abs(x[i])
        for i in range(x.size):
            sp[i], sg[i] = vecmath.softplus_sigmoid_given_exp(x[i], e[i])

    @njit
    def whole(x, sp, sg):
        for i in range(x.size):
            sp[i], sg[i] = vecmath.softplus_sigmoid(x[i])

    for dtype in (np.float32, np.float64):
        x = np.concatenate(
            [np.linspace(-120, 120, 20001), [0.0, -0.0, np.inf, -np.inf, np.nan, 1e-30, -1e-30]]
        ).astype(dtype)
        parts = [np.empty_like(x) for _ in range(3)]
        halves(x, *parts)
        sp, sg = np.empty_like(x), np.empty_like(x)
        whole(x, sp, sg)
        np.testing.assert_array_equal(parts[1], sp)
        np.testing.assert_array_equal(parts[2], sg)
        # the plain-Python versions (used where nothing is compiled, e.g. the CUDA
        # simulator) agree with the compiled ones to rounding (subnormal results
        # to their last place)
        tol = {"rtol": 4 * np.finfo(dtype).eps, "atol": 2 * np.finfo(dtype).smallest_subnormal}
        e_py = np.array([vecmath.exp_minus_abs(v) for v in x])
        np.testing.assert_allclose(e_py, parts[0], **tol)
        py = [vecmath.softplus_sigmoid_given_exp(v, ev) for v, ev in zip(x, e_py)]
        np.testing.assert_allclose([p[0] for p in py], sp, **tol)
        np.testing.assert_allclose([p[1] for p in py], sg, **tol)


def test_usable_from_user_njit_code():
    @njit
    def stable_bce(x, y):
        return (1 - y) * x + vecmath.softplus(-x)

    assert abs(stable_bce(1000.0, 1.0)) < 1e-300
    assert stable_bce(np.float32(2.0), np.float32(0.0)) == pytest.approx(2.126928, rel=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_log_nonnegative_is_log_on_finite_nonnegative_numbers(dtype):
    log_nonnegative = _kernel(vecmath.log_nonnegative)
    x = _samples(dtype, "log")
    actual = np.empty_like(x)
    log_nonnegative(x, actual)
    # the same arithmetic as log, without its special cases
    np.testing.assert_array_equal(actual, _apply("log", x))
    zero = np.zeros(2, dtype=dtype)
    zero[1] = -0.0
    out = np.empty_like(zero)
    log_nonnegative(zero, out)
    smallest = np.log(np.finfo(dtype).smallest_subnormal.astype(np.float64))
    assert np.all(np.isfinite(out)) and np.all(out < smallest)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_log_unit_interval_is_log_on_the_unit_interval(dtype):
    log_unit_interval = _kernel(vecmath.log_unit_interval)
    rng = np.random.default_rng(3)
    info = np.finfo(dtype)
    x = np.concatenate(
        [
            rng.uniform(0, 1, 100000),
            np.exp(rng.uniform(np.log(info.smallest_subnormal), 0, 100000).astype(np.float64)),
            [info.smallest_subnormal, info.tiny, 0.5, 1.0, np.nextafter(dtype(1), dtype(0))],
        ]
    ).astype(dtype)
    actual = np.empty_like(x)
    log_unit_interval(x, actual)
    # the same arithmetic as log (subnormal arguments scaled the other way round)
    np.testing.assert_array_equal(actual, _apply("log", x))
    zeros = np.array([0.0, -0.0], dtype=dtype)
    out = np.empty_like(zeros)
    log_unit_interval(zeros, out)
    smallest = np.log(info.smallest_subnormal.astype(np.float64))
    assert np.all(np.isfinite(out)) and np.all(out < smallest)
