"""The softmax family on CUDA device arrays, against the CPU path.

Every public function, float32 and float64, every reduction, each option path
(weights from the host and the device, ``ignore_index``, label smoothing, focal
``gamma``, class probabilities, ``(C)``/``(N, C)``/``(N, C, d...)`` inputs, Fortran
order), values and gradients with a ``grad_output``, ``grad_out`` (also in place),
empty inputs, and the errors: host/device mixing, class indices out of range.
Inputs are tiny (the simulator runs every GPU thread as a Python thread); the
conftest's launch configuration (8 threads, at most 3 blocks) makes rows span
several threads, blocks loop over several rows, and short rows (C <= 4) share a
block (groups of 4, 2 or 1 threads per row).
"""

import numpy as np
import pytest

import numbaloss as nl
from numbaloss._core.devices import is_device_array
from tests.conftest import assert_close


def _host(arr):
    assert is_device_array(arr), type(arr)
    return arr.copy_to_host()


def _compare(got, expected, dtype, scale=4.0):
    assert_close(_host(got), expected, dtype, scale=scale)


def _targets(rng, loss_shape, n_classes, ignore=()):
    t = rng.integers(0, n_classes, loss_shape)
    flat = t.reshape(-1)
    for i in ignore:
        flat[i] = -100
    return t


# (dtype, reduction, input shape, ignored rows, options); weight "host"/"device"
CE_CASES = [
    (np.float32, "mean", (5, 7), (), {}),
    (np.float64, "none", (5, 7), (1,), {"weight": "host"}),
    (np.float32, "sum", (2, 5, 3), (0, 4), {"weight": "device", "label_smoothing": 0.2}),
    (
        np.float64,
        "mean",
        (2, 5, 3),
        (2,),
        {"weight": "host", "label_smoothing": 0.1, "ignore_index": -100},
    ),
    (np.float64, "none", (7,), (), {"label_smoothing": 0.3}),
    (np.float64, "sum", (7, 3), (2,), {"weight": "host", "label_smoothing": 0.1}),  # 2 rows/block
    (np.float32, "mean", (4, 13), (3,), {"weight": "device"}),  # C > threads: strided classes
]


def _options(cuda, rng, options, n_classes, dtype):
    opts = dict(options)
    if "weight" in opts:
        w = rng.uniform(0.2, 2.0, n_classes).astype(dtype)
        opts["weight"] = cuda.to_device(w) if opts["weight"] == "device" else w
    return opts


def _cpu_options(options):
    return {k: (_host(v) if is_device_array(v) else v) for k, v in options.items()}


def _run_case(cuda, rng, func, case, make_target, **extra):
    dtype, reduction, shape, ignored, options = case
    x = (3 * rng.standard_normal(shape)).astype(dtype)
    n_classes = shape[1] if len(shape) >= 2 else shape[0]
    loss_shape = (shape[0], *shape[2:]) if len(shape) >= 2 else ()
    target = make_target(rng, loss_shape, n_classes, ignored, shape, dtype)
    opts = {**_options(cuda, rng, options, n_classes, dtype), **extra}
    gout = rng.standard_normal(loss_shape).astype(dtype) if reduction == "none" else 0.75
    gout_device = cuda.to_device(np.asarray(gout)) if reduction == "none" else gout
    got, got_grad = func(
        cuda.to_device(x),
        cuda.to_device(target),
        reduction=reduction,
        return_grad=True,
        grad_output=gout_device,
        **opts,
    )
    want, want_grad = func(
        x, target, reduction=reduction, return_grad=True, grad_output=gout, **_cpu_options(opts)
    )
    assert got.dtype == np.dtype(dtype) and got_grad.dtype == np.dtype(dtype)
    assert tuple(got.shape) == np.shape(want) and tuple(got_grad.shape) == shape
    _compare(got, want, dtype)
    _compare(got_grad, want_grad, dtype)


def _index_target(rng, loss_shape, n_classes, ignored, shape, dtype):
    return _targets(rng, loss_shape, n_classes, ignored)


def _prob_target(rng, loss_shape, n_classes, ignored, shape, dtype):
    p = rng.uniform(0, 1, shape)
    axis = 1 if len(shape) >= 2 else 0
    return (p / p.sum(axis=axis, keepdims=True)).astype(dtype)


@pytest.mark.parametrize("case", CE_CASES, ids=str)
def test_cross_entropy_class_indices(cuda, rng, case):
    _run_case(cuda, rng, nl.cross_entropy, case, _index_target)


@pytest.mark.parametrize("case", CE_CASES[:6], ids=str)
def test_cross_entropy_class_probabilities(cuda, rng, case):
    dtype, reduction, shape, _, options = case
    options = {k: v for k, v in options.items() if k != "ignore_index"}
    _run_case(cuda, rng, nl.cross_entropy, (dtype, reduction, shape, (), options), _prob_target)


FOCAL_CASES = [
    (np.float32, "mean", (5, 7), (2,), {"gamma": 2.0}),
    (np.float64, "none", (2, 5, 3), (1,), {"gamma": 0.5, "weight": "device"}),
    (np.float64, "sum", (5, 7), (), {"gamma": 1.5, "weight": "host"}),
    (np.float32, "sum", (5, 7), (0,), {"gamma": 0.0}),  # exactly cross_entropy
]


@pytest.mark.parametrize("case", FOCAL_CASES, ids=str)
def test_focal_loss(cuda, rng, case):
    _run_case(cuda, rng, nl.focal_loss, case, _index_target)


NLL_CASES = [
    (np.float32, "none", (5, 7), (3,), {}),
    (np.float64, "mean", (5, 7), (0, 2), {"weight": "device"}),
    (np.float64, "sum", (2, 5, 3), (1,), {"weight": "host"}),
    (np.float32, "mean", (6,), (), {}),
    (np.float64, "none", (9, 2), (4,), {}),  # 4 rows per block
]


@pytest.mark.parametrize("case", NLL_CASES, ids=str)
def test_nll_loss(cuda, rng, case):
    _run_case(cuda, rng, nl.nll_loss, case, _index_target)


def test_all_ignored_and_empty(cuda, rng):
    x = rng.standard_normal((3, 4))
    t = np.full(3, -100)
    dx, dt = cuda.to_device(x), cuda.to_device(t)
    loss, grad = nl.cross_entropy(dx, dt, return_grad=True)
    assert np.isnan(_host(loss)) and not _host(grad).any()
    assert float(_host(nl.nll_loss(dx, dt, reduction="sum"))) == 0.0
    empty = cuda.to_device(np.zeros((0, 4), np.float32))
    no_t = cuda.to_device(np.zeros(0, np.int64))
    assert float(_host(nl.cross_entropy(empty, no_t, reduction="sum"))) == 0.0
    assert np.isnan(_host(nl.cross_entropy(empty, no_t)))
    loss, grad = nl.cross_entropy(empty, no_t, reduction="none", return_grad=True)
    assert tuple(loss.shape) == (0,) and tuple(grad.shape) == (0, 4)


def test_out_of_range_index_raises_before_writing(cuda, rng):
    x = rng.standard_normal((5, 4))
    t = np.array([0, 1, 7, 2, -3])
    with pytest.raises(ValueError) as cpu_error:
        nl.cross_entropy(x, t)
    dx = cuda.to_device(x)
    for func in (nl.cross_entropy, nl.focal_loss, nl.nll_loss):
        with pytest.raises(ValueError, match=r"target 7 is out of bounds") as error:
            func(dx, cuda.to_device(t), return_grad=True, grad_out=dx)
        assert str(error.value) == str(cpu_error.value)
    np.testing.assert_array_equal(_host(dx), x)  # the in-place grad_out is untouched


def test_grad_out_in_place_fortran_and_float16(cuda, rng):
    x = np.asfortranarray(rng.standard_normal((2, 5, 3)))
    t = rng.integers(0, 5, (2, 3))
    want, want_grad = nl.cross_entropy(x, t, label_smoothing=0.1, return_grad=True)
    dx = cuda.to_device(x)
    loss, grad = nl.cross_entropy(
        dx, cuda.to_device(t), label_smoothing=0.1, return_grad=True, grad_out=dx
    )
    assert grad is dx
    _compare(loss, want, np.float64)
    _compare(dx, want_grad, np.float64)
    # probabilities and NLL in place, a C-ordered grad_out for a Fortran input
    p = _prob_target(rng, None, 5, (), x.shape, np.float64)
    want, want_grad = nl.cross_entropy(x, p, reduction="sum", return_grad=True)
    dx = cuda.to_device(x)
    nl.cross_entropy(dx, cuda.to_device(p), reduction="sum", return_grad=True, grad_out=dx)
    _compare(dx, want_grad, np.float64)
    want, want_grad = nl.nll_loss(x, t, reduction="none", return_grad=True)
    out = cuda.device_array(x.shape)
    loss, grad = nl.nll_loss(
        cuda.to_device(x), cuda.to_device(t), reduction="none", return_grad=True, grad_out=out
    )
    assert grad is out
    _compare(loss, want, np.float64)
    _compare(out, want_grad, np.float64)
    dx = cuda.to_device(np.ascontiguousarray(x))
    nl.nll_loss(dx, cuda.to_device(t), return_grad=True, grad_out=dx)
    _, want_grad = nl.nll_loss(x, t, return_grad=True)
    _compare(dx, want_grad, np.float64)
    # float16: computed in float32, handed back (and written into grad_out) as float16
    h = rng.standard_normal((4, 6)).astype(np.float16)
    th = rng.integers(0, 6, 4).astype(np.int32)
    want, want_grad = nl.focal_loss(h, th, return_grad=True)
    dh = cuda.to_device(h)
    loss, grad = nl.focal_loss(dh, cuda.to_device(th), return_grad=True, grad_out=dh)
    assert loss.dtype == np.float16 and grad is dh
    np.testing.assert_allclose(_host(loss), want, rtol=2e-3)
    np.testing.assert_allclose(_host(dh), want_grad, rtol=2e-3, atol=1e-4)
    with pytest.raises(ValueError, match="grad_out for input must have dtype"):
        nl.cross_entropy(
            cuda.to_device(x),
            cuda.to_device(t),
            return_grad=True,
            grad_out=cuda.device_array(x.shape, dtype=np.float32),
        )


def test_reduced_grad_output_on_the_device(cuda, rng):
    x = rng.standard_normal((5, 6))
    t = rng.integers(0, 6, 5)
    g = cuda.to_device(np.array(2.5))
    loss, grad = nl.cross_entropy(
        cuda.to_device(x), cuda.to_device(t), return_grad=True, grad_output=g
    )
    want, want_grad = nl.cross_entropy(x, t, return_grad=True, grad_output=2.5)
    _compare(grad, want_grad, np.float64)
    _compare(loss, want, np.float64)


def test_errors_are_the_cpus(cuda, rng):
    x = rng.standard_normal((5, 4))
    t = rng.integers(0, 4, 5)
    dx, dt = cuda.to_device(x), cuda.to_device(t)
    with pytest.raises(TypeError, match="target is on the host"):
        nl.cross_entropy(dx, t)
    with pytest.raises(TypeError, match="input is on the host"):
        nl.nll_loss(x, dt)
    with pytest.raises(TypeError, match="grad_output is on the host"):
        nl.cross_entropy(dx, dt, reduction="none", return_grad=True, grad_output=np.ones(5))
    for call in (
        lambda m: m.cross_entropy(m.x, m.t, reduction="avg"),
        lambda m: m.cross_entropy(m.x, m.t, weight=np.ones(3)),
        lambda m: m.cross_entropy(m.x, m.t, label_smoothing=1.5),
        lambda m: m.cross_entropy(m.x, m.x[:, :2]),
        lambda m: m.nll_loss(m.x, m.t[:3]),
        lambda m: m.focal_loss(m.x, m.t, gamma=-1.0),
        lambda m: m.cross_entropy(m.scalar, m.t),
        lambda m: m.zero_one_loss(m.x, m.t, return_grad=True),
    ):
        messages = []
        for m in (_Args(x, t), _Args(dx, dt)):
            with pytest.raises((ValueError, TypeError)) as error:
                call(m)
            messages.append((type(error.value), str(error.value)))
        assert messages[0] == messages[1]


def cuda_array(host):
    from numba import cuda

    return cuda.to_device(host)


class _Args:
    def __init__(self, x, t):
        self.x, self.t = x, t
        self.scalar = cuda_array(np.array(1.0)) if is_device_array(x) else np.array(1.0)
        self.cross_entropy, self.nll_loss = nl.cross_entropy, nl.nll_loss
        self.focal_loss, self.zero_one_loss = nl.focal_loss, nl.zero_one_loss


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_zero_one_loss(cuda, rng, reduction):
    x = rng.standard_normal((7, 4)).astype(np.float32)
    x[1] = [0.5, 0.5, 0.1, 0.5]  # a tie: the first wins
    x[2, 2] = np.nan  # NaN is the largest
    t = rng.integers(0, 4, 7)
    t[1], t[2] = 0, 2
    got = nl.zero_one_loss(cuda.to_device(np.asfortranarray(x)), cuda.to_device(t), reduction)
    want = nl.zero_one_loss(x, t, reduction)
    assert got.dtype == np.float32
    _compare(got, want, np.float32)
    labels = rng.integers(0, 3, 7)
    got = nl.zero_one_loss(cuda.to_device(labels), cuda.to_device(t), reduction)
    assert got.dtype == np.float64
    _compare(got, nl.zero_one_loss(labels, t, reduction), np.float64)


PRIMITIVE_CASES = [
    (np.float32, (3, 4, 5), None, "C"),
    (np.float64, (3, 4, 5), 1, "F"),
    (np.float64, (3, 4, 5), (0, 2), "C"),
    (np.float32, (6, 9), -1, "C"),
    (np.float64, (7, 3), 1, "C"),
    (np.float64, (5, 1), -1, "F"),
    (np.float64, (), None, "C"),
]


@pytest.mark.parametrize("case", PRIMITIVE_CASES, ids=str)
def test_stable_primitives(cuda, rng, case):
    dtype, shape, axis, order = case
    x = (5 * rng.standard_normal(shape)).astype(dtype)
    x = np.asfortranarray(x) if order == "F" else x
    dx = cuda.to_device(x)
    for func in (nl.log_softmax, nl.softmax):
        got = func(dx, axis=axis)
        assert got.dtype == np.dtype(dtype) and tuple(got.shape) == shape
        _compare(got, func(x, axis=axis), dtype)
    for keepdims in (False, True):
        got = nl.logsumexp(dx, axis=axis, keepdims=keepdims)
        want = nl.logsumexp(x, axis=axis, keepdims=keepdims)
        assert tuple(got.shape) == np.shape(want)
        _compare(got, want, dtype)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the simulator's NumPy scalars
def test_primitives_edge_values(cuda):
    x = np.array([[1000.0, 1.0, -np.inf], [np.inf, 0.0, 1.0], [-np.inf, -np.inf, -np.inf]])
    dx = cuda.to_device(x)
    for func in (nl.logsumexp, nl.log_softmax, nl.softmax):
        np.testing.assert_array_equal(_host(func(dx, axis=1)), func(x, axis=1))


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the simulator's NumPy scalars
def test_device_promises(cuda, rng):
    x = rng.standard_normal((5, 4))
    t = rng.integers(0, 4, 5)
    dx, dt = cuda.to_device(x), cuda.to_device(t)
    # bitwise reproducible reductions
    first = _host(nl.focal_loss(dx, dt, reduction="sum")).tobytes()
    assert _host(nl.focal_loss(dx, dt, reduction="sum")).tobytes() == first
    # the loss classes, any integer targets
    module = nl.CrossEntropyLoss(label_smoothing=0.1)
    loss, grad = module(dx, cuda.to_device(t.astype(np.uint8)), return_grad=True)
    want, want_grad = module(x, t, return_grad=True)
    _compare(loss, want, np.float64)
    _compare(grad, want_grad, np.float64)
    # NaN propagates into its row only
    xn = x.copy()
    xn[1, 2] = np.nan
    loss, grad = nl.cross_entropy(cuda.to_device(xn), dt, reduction="none", return_grad=True)
    want, want_grad = nl.cross_entropy(xn, t, reduction="none", return_grad=True)
    np.testing.assert_array_equal(np.isnan(_host(loss)), np.isnan(want))
    np.testing.assert_array_equal(np.isnan(_host(grad)), np.isnan(want_grad))
    # device arrays must be contiguous
    with pytest.raises(ValueError, match="not contiguous"):
        nl.softmax(dx[:, ::2], axis=1)
    # empty axes
    empty = np.zeros((3, 0))
    np.testing.assert_array_equal(
        _host(nl.logsumexp(cuda.to_device(empty), axis=1)), nl.logsumexp(empty, axis=1)
    )


def _torch_cuda():
    try:
        import torch
    except ImportError:
        return None
    return torch if torch.cuda.is_available() else None


@pytest.mark.skipif(_torch_cuda() is None, reason="needs PyTorch with a CUDA device")
def test_torch_tensors_in_torch_tensors_out(rng):
    torch = _torch_cuda()
    x = torch.randn((6, 5, 3), device="cuda")
    t = torch.randint(0, 5, (6, 3), device="cuda")
    loss, grad = nl.cross_entropy(x, t, label_smoothing=0.1, return_grad=True)
    assert isinstance(loss, torch.Tensor) and loss.is_cuda and loss.shape == ()
    assert isinstance(grad, torch.Tensor) and grad.device == x.device
    xr = x.detach().clone().requires_grad_(True)
    want = torch.nn.functional.cross_entropy(xr, t, label_smoothing=0.1)
    want.backward()
    torch.testing.assert_close(loss, want.detach())
    torch.testing.assert_close(grad, xr.grad)
