"""The elementwise losses on CUDA device arrays, against the CPU path.

Every loss, float32 and float64, every reduction, values and gradients (with a
random ``grad_output``), plus the device-specific promises: results stay on the
device, host/device mixing is a ``TypeError`` naming the argument, reductions are
reproducible bit for bit.  Inputs are small; the launch configuration of the
conftest (8 threads, at most 3 blocks) makes them span several blocks with several
elements per thread.
"""

import numpy as np
import pytest

import numbaloss as nl
from numbaloss._core import cuda_support
from numbaloss._core.devices import is_device_array
from numbaloss.testing.elementwise import CASES, NAMES
from tests.conftest import assert_close

DTYPES = [np.float32, np.float64]
REDUCTIONS = ["none", "mean", "sum"]
SHAPE = (5, 7)  # 35 elements: more than the 24 threads of the test grid


def _tuple(g):
    return g if isinstance(g, tuple) else (g,)


def _host(arr):
    assert is_device_array(arr), type(arr)
    return arr.copy_to_host()


def _compare(got, expected, dtype, scale=4.0):
    assert_close(_host(got), expected, dtype, scale=scale)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", NAMES)
def test_matches_cpu(cuda, rng, name, dtype, reduction):
    case = CASES[name]
    arrays = case.make(rng, SHAPE, dtype)
    device = [cuda.to_device(a) for a in arrays]
    if reduction == "none":
        gout = rng.standard_normal(SHAPE).astype(dtype)
        gout_device = cuda.to_device(gout)
    else:
        gout = gout_device = 0.75
    loss, grad = case.func(
        *device, **case.options, reduction=reduction, return_grad=True, grad_output=gout_device
    )
    expected_loss, expected_grad = case.func(
        *arrays, **case.options, reduction=reduction, return_grad=True, grad_output=gout
    )
    assert loss.dtype == np.dtype(dtype)
    assert tuple(loss.shape) == (SHAPE if reduction == "none" else ())
    _compare(loss, expected_loss, dtype)
    for g, e in zip(_tuple(grad), _tuple(expected_grad), strict=True):
        assert g.dtype == np.dtype(dtype) and tuple(g.shape) == SHAPE
        _compare(g, e, dtype)
    if reduction == "mean":  # the value alone, with the default reduction
        _compare(case.func(*device, **case.options), case.func(*arrays, **case.options), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_weights_from_host_and_device(cuda, rng, dtype):
    x, y = (rng.standard_normal(SHAPE).astype(dtype) for _ in range(2))
    w = rng.uniform(0.1, 2.0, SHAPE).astype(dtype)
    dx, dy, dw = (cuda.to_device(a) for a in (x, y, w))
    for func in (nl.l1_loss, nl.mse_loss, nl.huber_loss):
        for weight, reductions in ((w, ["mean"]), (dw, ["mean", "none"])):  # host or device
            for reduction in reductions:
                loss, grad = func(dx, dy, reduction=reduction, weight=weight, return_grad=True)
                want, want_grad = func(x, y, reduction=reduction, weight=w, return_grad=True)
                _compare(loss, want, dtype)
                _compare(grad, want_grad, dtype)


def test_broadcast_weight_and_pos_weight(cuda, rng):
    x = rng.standard_normal(SHAPE)
    y = rng.uniform(0, 1, SHAPE)
    p = rng.uniform(0.05, 0.95, SHAPE)
    w = rng.uniform(0.5, 2.0, SHAPE[-1])
    pw = rng.uniform(0.5, 3.0, (1, SHAPE[-1]))
    dx, dy, dp = (cuda.to_device(a) for a in (x, y, p))
    got = nl.binary_cross_entropy_with_logits(
        dx, dy, weight=cuda.to_device(w), pos_weight=pw, return_grad=True, reduction="sum"
    )
    want = nl.binary_cross_entropy_with_logits(
        x, y, weight=w, pos_weight=pw, return_grad=True, reduction="sum"
    )
    _compare(got[0], want[0], np.float64)
    _compare(got[1], want[1], np.float64)
    got = nl.binary_cross_entropy(dp, dy, weight=w, return_grad=True, reduction="none")
    want = nl.binary_cross_entropy(p, y, weight=w, return_grad=True, reduction="none")
    _compare(got[0], want[0], np.float64)
    _compare(got[1], want[1], np.float64)


@pytest.mark.parametrize(
    "var_shape", [SHAPE, SHAPE[:-1], (SHAPE[0], 1), (1, SHAPE[1]), "float"], ids=str
)
def test_gaussian_var_broadcasts_and_its_gradient_sums_back(cuda, rng, var_shape):
    x, y = (rng.standard_normal(SHAPE).astype(np.float32) for _ in range(2))
    var = 0.7 if var_shape == "float" else rng.uniform(0.2, 2.0, var_shape).astype(np.float32)
    dvar = var if var_shape == "float" else cuda.to_device(var)
    loss, (gx, gv) = nl.gaussian_nll_loss(
        cuda.to_device(x), cuda.to_device(y), dvar, return_grad=True, grad_output=1.5
    )
    want, (wx, wv) = nl.gaussian_nll_loss(x, y, var, return_grad=True, grad_output=1.5)
    _compare(loss, want, np.float32)
    _compare(gx, wx, np.float32)
    assert tuple(gv.shape) == np.shape(wv)
    _compare(gv, wv, np.float32)


def test_fortran_order_float16_and_integer_targets(cuda, rng):
    x = np.asfortranarray(rng.standard_normal(SHAPE))
    y = rng.integers(-2, 3, SHAPE)  # integer targets, C order: laid out to x's order
    loss, grad = nl.mse_loss(cuda.to_device(x), cuda.to_device(y), "none", return_grad=True)
    want, want_grad = nl.mse_loss(x, y, "none", return_grad=True)
    _compare(loss, want, np.float64)
    _compare(grad, want_grad, np.float64)
    h = rng.standard_normal(SHAPE).astype(np.float16)
    t = rng.standard_normal(SHAPE).astype(np.float16)
    loss, grad = nl.smooth_l1_loss(cuda.to_device(h), cuda.to_device(t), return_grad=True)
    want, want_grad = nl.smooth_l1_loss(h, t, return_grad=True)
    assert loss.dtype == np.float16 and grad.dtype == np.float16
    np.testing.assert_allclose(_host(loss), want, rtol=1e-3)
    np.testing.assert_allclose(_host(grad), want_grad, rtol=1e-3)


def test_grad_out_preallocated_and_in_place(cuda, rng):
    x, y = rng.standard_normal(SHAPE), rng.standard_normal(SHAPE)
    want_loss, want_grad = nl.soft_margin_loss(x, y, return_grad=True)
    out = cuda.device_array(SHAPE, dtype=np.float64)
    loss, grad = nl.soft_margin_loss(
        cuda.to_device(x), cuda.to_device(y), return_grad=True, grad_out=out
    )
    assert grad is out
    _compare(grad, want_grad, np.float64)
    dx = cuda.to_device(x)
    loss, grad = nl.soft_margin_loss(dx, cuda.to_device(y), return_grad=True, grad_out=dx)
    assert grad is dx
    _compare(dx, want_grad, np.float64)
    _compare(loss, want_loss, np.float64)
    out_f = cuda.to_device(np.asfortranarray(np.zeros(SHAPE)))  # other layout: copied into
    nl.soft_margin_loss(cuda.to_device(x), cuda.to_device(y), return_grad=True, grad_out=out_f)
    _compare(out_f, want_grad, np.float64)
    with pytest.raises(ValueError, match="grad_out for input must have dtype"):
        nl.soft_margin_loss(
            cuda.to_device(x),
            cuda.to_device(y),
            return_grad=True,
            grad_out=cuda.device_array(SHAPE, dtype=np.float32),
        )


def test_two_predictions_get_two_gradients(cuda, rng):
    case = CASES["margin_ranking_loss"]
    arrays = case.make(rng, SHAPE, np.float64)
    outs = (cuda.device_array(SHAPE), cuda.device_array(SHAPE))
    loss, grads = nl.margin_ranking_loss(
        *(cuda.to_device(a) for a in arrays), margin=0.3, return_grad=True, grad_out=outs
    )
    want, want_grads = nl.margin_ranking_loss(*arrays, margin=0.3, return_grad=True)
    assert grads[0] is outs[0] and grads[1] is outs[1]
    _compare(grads[0], want_grads[0], np.float64)
    _compare(grads[1], want_grads[1], np.float64)


def test_reduced_grad_output_may_be_a_device_scalar(cuda, rng):
    x, y = rng.standard_normal(SHAPE), rng.standard_normal(SHAPE)
    g = cuda.to_device(np.array(2.5))
    loss, grad = nl.l1_loss(cuda.to_device(x), cuda.to_device(y), return_grad=True, grad_output=g)
    _, want = nl.l1_loss(x, y, return_grad=True, grad_output=2.5)
    _compare(grad, want, np.float64)
    with pytest.raises(ValueError, match="grad_output"):
        nl.l1_loss(
            cuda.to_device(x),
            cuda.to_device(y),
            return_grad=True,
            grad_output=cuda.to_device(np.ones(3)),
        )


def test_mixing_host_and_device_arrays_names_the_host_one(cuda, rng):
    x, y = rng.standard_normal(SHAPE), rng.standard_normal(SHAPE)
    with pytest.raises(TypeError, match="target is on the host"):
        nl.mse_loss(cuda.to_device(x), y)
    with pytest.raises(TypeError, match="input is on the host"):
        nl.mse_loss(x, cuda.to_device(y))
    with pytest.raises(TypeError, match="input2 is on the host"):
        nl.margin_ranking_loss(cuda.to_device(x), x, cuda.to_device(y))
    with pytest.raises(TypeError, match="grad_output is on the host"):
        nl.mse_loss(cuda.to_device(x), cuda.to_device(y), "none", grad_output=y, return_grad=True)


def test_validation_is_the_cpus(cuda, rng):
    x = cuda.to_device(rng.uniform(0.1, 0.9, SHAPE))
    y = cuda.to_device(rng.uniform(0.1, 0.9, SHAPE))
    with pytest.raises(ValueError, match="reduction must be one of"):
        nl.mse_loss(x, y, reduction="avg")
    with pytest.raises(ValueError, match="same shape"):
        nl.mse_loss(x, cuda.to_device(np.ones(3)))
    with pytest.raises(ValueError, match="delta must be positive"):
        nl.huber_loss(x, y, delta=0.0)
    with pytest.raises(ValueError, match="between 0 and 1"):
        nl.binary_cross_entropy(cuda.to_device(np.full(SHAPE, 1.5)), y)
    with pytest.raises(ValueError, match="var has negative"):
        nl.gaussian_nll_loss(x, y, cuda.to_device(np.full(SHAPE, -1.0)))
    with pytest.raises(ValueError, match="grad_output of shape"):
        nl.mse_loss(x, y, "none", return_grad=True, grad_output=cuda.to_device(np.ones(3)))
    with pytest.raises(ValueError, match="weight of shape"):
        nl.binary_cross_entropy(x, y, weight=np.ones(3))
    with pytest.raises(TypeError, match="must hold real numbers"):
        nl.mse_loss(x, y, weight=np.array(["a"] * 35).reshape(SHAPE))


def test_empty_inputs(cuda):
    x = cuda.to_device(np.zeros((0, 3), np.float32))
    assert float(_host(nl.mse_loss(x, x, reduction="sum"))) == 0.0
    assert np.isnan(_host(nl.mse_loss(x, x, reduction="mean")))
    loss, grad = nl.mse_loss(x, x, reduction="none", return_grad=True)
    assert tuple(loss.shape) == (0, 3) and tuple(grad.shape) == (0, 3)


def test_nan_and_inf_propagate(cuda):
    x = np.array([np.nan, np.inf, -np.inf, 1.0])
    y = np.zeros(4)
    for name in ("mse_loss", "l1_loss", "soft_margin_loss"):
        func = getattr(nl, name)
        got = func(cuda.to_device(x), cuda.to_device(y), "none", return_grad=True)
        want = func(x, y, "none", return_grad=True)
        np.testing.assert_array_equal(_host(got[0]), want[0])
        np.testing.assert_array_equal(_host(got[1]), want[1])


def test_reductions_are_reproducible_and_accurate(cuda, rng):
    x = rng.uniform(0, 1, 500).astype(np.float32)
    dx, dz = cuda.to_device(x), cuda.to_device(np.zeros_like(x))
    first = _host(nl.l1_loss(dx, dz, reduction="sum")).tobytes()
    for _ in range(2):
        assert _host(nl.l1_loss(dx, dz, reduction="sum")).tobytes() == first
    exact = np.sum(x.astype(np.float64))
    assert abs(float(np.frombuffer(first, np.float32)[0]) - exact) / exact < 1e-6


def test_launch_config_is_validated():
    with pytest.raises(ValueError, match="power of two"):
        cuda_support.set_launch_config(threads=48)
    with pytest.raises(ValueError, match="max_blocks"):
        cuda_support.set_launch_config(max_blocks=0)
    assert cuda_support.launch_config(0) == (1, cuda_support.get_launch_config()[0])


def _torch_cuda():
    try:
        import torch
    except ImportError:
        return None
    return torch if torch.cuda.is_available() else None


@pytest.mark.skipif(_torch_cuda() is None, reason="needs PyTorch with a CUDA device")
def test_torch_tensors_in_torch_tensors_out(rng):
    torch = _torch_cuda()
    x = torch.randn(SHAPE, device="cuda")
    y = torch.randn(SHAPE, device="cuda")
    loss, grad = nl.mse_loss(x, y, return_grad=True)
    assert isinstance(loss, torch.Tensor) and loss.is_cuda and loss.shape == ()
    assert isinstance(grad, torch.Tensor) and grad.device == x.device
    xr = x.detach().clone().requires_grad_(True)
    torch.nn.functional.mse_loss(xr, y).backward()
    torch.testing.assert_close(grad, xr.grad)


def _cupy():
    try:
        import cupy
    except ImportError:
        return None
    try:
        return cupy if cupy.cuda.runtime.getDeviceCount() else None
    except Exception:
        return None


@pytest.mark.skipif(_cupy() is None, reason="needs CuPy with a CUDA device")
def test_cupy_arrays_in_cupy_arrays_out(rng):
    cupy = _cupy()
    x, y = rng.standard_normal(SHAPE), rng.standard_normal(SHAPE)
    loss, grad = nl.l1_loss(cupy.asarray(x), cupy.asarray(y), "none", return_grad=True)
    assert isinstance(loss, cupy.ndarray) and isinstance(grad, cupy.ndarray)
    want, want_grad = nl.l1_loss(x, y, "none", return_grad=True)
    np.testing.assert_allclose(cupy.asnumpy(loss), want)
    np.testing.assert_allclose(cupy.asnumpy(grad), want_grad)


OPTION_CASES = [
    ("poisson_nll_loss", {"log_input": False, "full": True}, "sum"),
    ("kl_div", {"log_target": True}, "batchmean"),
    ("kl_div", {}, "batchmean"),
    ("smooth_l1_loss", {"beta": 0.0}, "mean"),
    ("gaussian_nll_loss", {"full": True, "eps": 0.5}, "mean"),
    ("hinge_embedding_loss", {"margin": 0.5}, "none"),
    ("huber_loss", {"delta": 2.5}, "sum"),
    ("pseudo_huber_loss", {"delta": 0.3}, "none"),
    ("quantile_loss", {"quantile": 0.1}, "sum"),
    ("expectile_loss", {"expectile": 0.9}, "none"),
    ("tweedie_loss", {"power": 1.2, "full": True}, "none"),
    ("tweedie_loss", {"power": 1.7, "log_input": False, "full": True}, "mean"),
    ("tweedie_loss", {"power": 1.0, "log_input": False}, "sum"),
    ("tweedie_loss", {"power": 2.0, "full": True}, "none"),
    ("gamma_loss", {"log_input": False, "full": True}, "none"),
    ("gamma_loss", {"full": True}, "mean"),
]


@pytest.mark.parametrize(("name", "options", "reduction"), OPTION_CASES, ids=str)
def test_options_match_cpu(cuda, rng, name, options, reduction):
    case = CASES[name]
    arrays = case.make(rng, SHAPE, np.float64)
    if name == "poisson_nll_loss":
        arrays = (np.abs(arrays[0]), arrays[1])  # rates, not log-rates
    if name == "kl_div" and options.get("log_target"):
        arrays = (arrays[0], np.log(arrays[1]))
    loss, grad = case.func(
        *(cuda.to_device(a) for a in arrays), **options, reduction=reduction, return_grad=True
    )
    want, want_grad = case.func(*arrays, **options, reduction=reduction, return_grad=True)
    _compare(loss, want, np.float64)
    for g, e in zip(_tuple(grad), _tuple(want_grad), strict=True):
        _compare(g, e, np.float64)


def test_loss_classes_take_device_arrays(cuda, rng):
    x, y = rng.standard_normal(SHAPE), rng.standard_normal(SHAPE)
    loss, grad = nl.MSELoss(reduction="sum")(cuda.to_device(x), cuda.to_device(y), return_grad=True)
    want, want_grad = nl.MSELoss(reduction="sum")(x, y, return_grad=True)
    _compare(loss, want, np.float64)
    _compare(grad, want_grad, np.float64)


def test_gaussian_grad_out_for_a_broadcast_var(cuda, rng):
    x, y = rng.standard_normal(SHAPE), rng.standard_normal(SHAPE)
    var = rng.uniform(0.2, 2.0, SHAPE[:-1])
    outs = (cuda.device_array(SHAPE), cuda.device_array(SHAPE[:-1]))
    _, grads = nl.gaussian_nll_loss(
        cuda.to_device(x), cuda.to_device(y), var, return_grad=True, grad_out=outs
    )
    _, want = nl.gaussian_nll_loss(x, y, var, return_grad=True)
    assert grads[0] is outs[0] and grads[1] is outs[1]
    _compare(outs[0], want[0], np.float64)
    _compare(outs[1], want[1], np.float64)
    with pytest.raises(ValueError, match="grad_out for var must be"):
        nl.gaussian_nll_loss(
            cuda.to_device(x),
            cuda.to_device(y),
            var,
            return_grad=True,
            grad_out=(outs[0], cuda.device_array(SHAPE)),
        )


@pytest.mark.parametrize(
    ("dtype", "reduction", "gamma"),
    [(np.float32, "none", 2.0), (np.float64, "mean", 1.5), (np.float64, "sum", 0.0)],
)
def test_sigmoid_focal_loss(cuda, rng, dtype, reduction, gamma):
    x = (3 * rng.standard_normal((4, 5))).astype(dtype)
    y = rng.integers(0, 2, (4, 5)).astype(dtype)
    gout = rng.standard_normal((4, 5)).astype(dtype) if reduction == "none" else 1.25
    dg = cuda.to_device(gout) if reduction == "none" else gout
    got, got_grad = nl.sigmoid_focal_loss(
        cuda.to_device(x),
        cuda.to_device(y),
        0.3,
        gamma,
        reduction,
        return_grad=True,
        grad_output=dg,
    )
    want, want_grad = nl.sigmoid_focal_loss(
        x, y, 0.3, gamma, reduction, return_grad=True, grad_output=gout
    )
    _compare(got, want, dtype)
    _compare(got_grad, want_grad, dtype)


# (target shape, var shape) of gaussian_nll_loss's documented forms for SHAPE = (5, 7):
# the target broadcast along one axis of size 1, with each form of var
GAUSSIAN_TARGET_FORMS = [
    ((SHAPE[0], 1), SHAPE),
    ((1, SHAPE[1]), SHAPE[:-1]),
    ((SHAPE[0], 1), (1, SHAPE[1])),
    ((1, SHAPE[1]), "float"),
    ((1, SHAPE[1]), "0-d"),
]


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize(("target_shape", "var_shape"), GAUSSIAN_TARGET_FORMS, ids=str)
def test_gaussian_target_broadcasts(cuda, rng, target_shape, var_shape, order):
    x = np.asarray(rng.standard_normal(SHAPE), order=order)
    y = rng.standard_normal(target_shape)
    if var_shape == "float":
        var, dvar = 0.7, 0.7
    else:
        var = rng.uniform(0.2, 2.0, () if var_shape == "0-d" else var_shape)
        dvar = cuda.to_device(var)
    for reduction in REDUCTIONS:
        gout = rng.uniform(0.5, 1.5, SHAPE) if reduction == "none" else 1.5
        want, (wx, wv) = nl.gaussian_nll_loss(
            x, y, var, reduction=reduction, return_grad=True, grad_output=gout
        )
        loss, (gx, gv) = nl.gaussian_nll_loss(
            cuda.to_device(x), cuda.to_device(y), dvar, reduction=reduction,
            return_grad=True, grad_output=cuda.to_device(gout) if reduction == "none" else gout,
        )  # fmt: skip
        assert tuple(loss.shape) == np.shape(want)
        _compare(loss, want, np.float64)
        assert tuple(gx.shape) == SHAPE and tuple(gv.shape) == np.shape(wv)
        _compare(gx, wx, np.float64)
        _compare(gv, wv, np.float64)


def test_gaussian_undocumented_target_is_refused(cuda, rng):
    x = cuda.to_device(rng.standard_normal(SHAPE))
    for bad in [(SHAPE[1],), (1, 1), (SHAPE[0], 2)]:
        with pytest.raises(ValueError, match="target of shape"):
            nl.gaussian_nll_loss(x, cuda.to_device(np.zeros(bad)), 1.0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_regression_objectives_out_of_domain_raise_as_on_the_cpu(cuda, rng, dtype):
    x = cuda.to_device(rng.uniform(0.2, 2.0, SHAPE).astype(dtype))
    bad = np.abs(rng.standard_normal(SHAPE)).astype(dtype)
    bad[2, 3] = -0.5
    with pytest.raises(ValueError, match="tweedie_loss with power=1.5 needs target >= 0"):
        nl.tweedie_loss(x, cuda.to_device(bad), return_grad=True)
    with pytest.raises(ValueError, match="gamma_loss needs target > 0"):
        nl.gamma_loss(x, cuda.to_device(bad), reduction="none")
    with pytest.raises(ValueError, match="input > -1 and target > -1"):
        nl.squared_log_error_loss(x, cuda.to_device(bad - 1))
    with pytest.raises(ValueError, match=r"quantile must be in the open interval \(0, 1\)"):
        nl.quantile_loss(x, x, 1.0)
    with pytest.raises(ValueError, match=r"power must be in \[1, 2\]"):
        nl.tweedie_loss(x, x, 2.5)
    # in the domain (zero targets for Tweedie below power 2): values as on the CPU
    host = x.copy_to_host()
    zeros = np.where(bad > 0, bad, 0).astype(dtype)
    got = nl.tweedie_loss(x, cuda.to_device(zeros), 1.3, reduction="none", return_grad=True)
    want = nl.tweedie_loss(host, zeros, 1.3, reduction="none", return_grad=True)
    _compare(got[0], want[0], dtype)
    _compare(got[1], want[1], dtype)


def test_log_cosh_and_pseudo_huber_extremes_match_cpu(cuda):
    r = np.array([0.0, 1e-20, -1e-5, 0.5, -0.999, 1.0, 30.0, -1e300, np.inf, np.nan])
    y = np.zeros_like(r)
    for func in (nl.log_cosh_loss, nl.pseudo_huber_loss):
        got = func(cuda.to_device(r), cuda.to_device(y), reduction="none", return_grad=True)
        want = func(r, y, reduction="none", return_grad=True)
        _compare(got[0], want[0], np.float64)
        _compare(got[1], want[1], np.float64)
