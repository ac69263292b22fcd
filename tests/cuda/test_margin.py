"""The margin family on CUDA device arrays, against the CPU path.

Values and gradients, float32 and float64, every reduction, each option path
(``p``, ``margin``, class weights from the host and the device), ``grad_output``
(per row and reduced, also on the device), ``grad_out`` (also in place), Fortran
and strided inputs, unbatched rows, empty batches, and the errors: host/device
mixing, class indices out of range.  Inputs are tiny (the simulator runs every GPU
thread as a Python thread); the conftest's launch configuration (8 threads, at most
3 blocks) makes wide rows span several threads and blocks loop over several rows.
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


# (dtype, reduction, input shape, options); weight "host"/"device"
MULTI_MARGIN_CASES = [
    (np.float32, "mean", (5, 7), {}),
    (np.float64, "none", (5, 7), {"p": 2, "weight": "host"}),
    (np.float32, "sum", (4, 13), {"p": 2, "margin": 0.5, "weight": "device"}),
    (np.float64, "mean", (4, 3), {"margin": 2.0, "weight": "device"}),
    (np.float32, "none", (6,), {"p": 1}),
    (np.float64, "sum", (0, 4), {}),
    (np.float64, "mean", (0, 4), {}),
]


def _options(cuda, rng, options, n_classes, dtype):
    opts = dict(options)
    if "weight" in opts:
        w = rng.uniform(0.2, 2.0, n_classes).astype(dtype)
        opts["weight"] = cuda.to_device(w) if opts["weight"] == "device" else w
    return opts


def _cpu(options):
    return {k: (v.copy_to_host() if is_device_array(v) else v) for k, v in options.items()}


@pytest.mark.parametrize("case", MULTI_MARGIN_CASES)
def test_multi_margin_loss(cuda, rng, case):
    dtype, reduction, shape, options = case
    x = rng.standard_normal(shape).astype(dtype)
    t = rng.integers(0, shape[-1], shape[:-1] if len(shape) == 2 else ())
    opts = _options(cuda, rng, options, shape[-1], dtype)
    loss_shape = shape[:1] if len(shape) == 2 else ()
    gout = rng.uniform(0.5, 1.5, loss_shape).astype(dtype) if reduction == "none" else 0.7
    expected, expected_grad = nl.multi_margin_loss(
        x, t, reduction=reduction, return_grad=True, grad_output=gout, **_cpu(opts)
    )
    dgout = cuda.to_device(gout) if reduction == "none" else gout
    loss, grad = nl.multi_margin_loss(
        cuda.to_device(x), cuda.to_device(t), reduction=reduction, return_grad=True,
        grad_output=dgout, **opts,
    )  # fmt: skip
    assert loss.shape == np.shape(expected) and loss.dtype == dtype
    _compare(loss, expected, dtype)
    assert grad.shape == x.shape and grad.dtype == dtype
    _compare(grad, expected_grad, dtype)
    only = nl.multi_margin_loss(cuda.to_device(x), cuda.to_device(t), reduction=reduction, **opts)
    _compare(only, expected, dtype)


def test_multi_margin_layouts_grad_out(cuda, rng):
    x = np.asfortranarray(rng.standard_normal((5, 6)))
    t = rng.integers(0, 6, 5)
    expected, expected_grad = nl.multi_margin_loss(x, t, p=2, return_grad=True)
    # Fortran input, written in place
    dx = cuda.to_device(x)
    loss, grad = nl.multi_margin_loss(dx, cuda.to_device(t), p=2, return_grad=True, grad_out=dx)
    assert grad is dx
    _compare(loss, expected, np.float64)
    _compare(dx, expected_grad, np.float64)
    # a strided (every other column) view and a C-ordered grad_out
    wide = np.zeros((5, 12))
    wide[:, ::2] = x
    dwide = cuda.to_device(wide)
    out = cuda.device_array((5, 6), dtype=np.float64)
    loss, grad = nl.multi_margin_loss(
        dwide[:, ::2], cuda.to_device(t), p=2, return_grad=True, grad_out=out
    )
    assert grad is out
    _compare(out, expected_grad, np.float64)
    # float16 input (computed in float32) with a float16 grad_out
    h = x.astype(np.float16)
    eh, egh = nl.multi_margin_loss(h, t, return_grad=True)
    hout = cuda.device_array(h.shape, dtype=np.float16)
    loss, grad = nl.multi_margin_loss(
        cuda.to_device(h), cuda.to_device(t), return_grad=True, grad_out=hout
    )
    assert loss.dtype == np.float16 and grad is hout
    np.testing.assert_allclose(_host(hout).astype(float), egh.astype(float), rtol=2e-3, atol=1e-3)
    # a reduced loss's grad_output on the device
    g = cuda.to_device(np.array([2.5]))
    _, grad = nl.multi_margin_loss(
        cuda.to_device(x), cuda.to_device(t), reduction="sum", return_grad=True, grad_output=g
    )
    _compare(
        grad,
        nl.multi_margin_loss(x, t, reduction="sum", return_grad=True, grad_output=2.5)[1],
        np.float64,
    )


def test_multi_margin_errors(cuda, rng):
    x = rng.standard_normal((3, 4))
    dx = cuda.to_device(x)
    bad = np.array([0, 4, 1])
    with pytest.raises(ValueError) as cpu_err:
        nl.multi_margin_loss(x, bad)
    with pytest.raises(ValueError) as dev_err:
        nl.multi_margin_loss(dx, cuda.to_device(bad), return_grad=True)
    assert str(dev_err.value) == str(cpu_err.value)
    with pytest.raises(TypeError, match="target is on the host"):
        nl.multi_margin_loss(dx, np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="p must be 1 or 2"):
        nl.multi_margin_loss(dx, cuda.to_device(np.array([0, 1, 2])), p=3)
    with pytest.raises(TypeError, match="grad_output is on the host"):
        nl.multi_margin_loss(
            dx,
            cuda.to_device(np.array([0, 1, 2])),
            reduction="none",
            return_grad=True,
            grad_output=np.ones(3),
        )
    with pytest.raises(ValueError, match="grad_out for input must have shape"):
        nl.multi_margin_loss(
            dx,
            cuda.to_device(np.array([0, 1, 2])),
            return_grad=True,
            grad_out=cuda.device_array((3, 5)),
        )
    with pytest.raises(ValueError, match="weight must be one-dimensional"):
        nl.multi_margin_loss(dx, cuda.to_device(np.array([0, 1, 2])), weight=np.ones(3))


# (dtype, reduction, input shape, weight)
SOFT_CASES = [
    (np.float32, "mean", (5, 7), None),
    (np.float64, "none", (5, 7), "host"),
    (np.float32, "sum", (2, 3, 11), "device"),
    (np.float64, "none", (6,), "device"),
    (np.float64, "mean", (0, 3), None),
]


@pytest.mark.parametrize("case", SOFT_CASES)
def test_multilabel_soft_margin_loss(cuda, rng, case):
    dtype, reduction, shape, weight = case
    x = (3 * rng.standard_normal(shape)).astype(dtype)
    y = rng.uniform(0, 1, shape).astype(dtype)
    y.reshape(-1)[::3] = 1.0
    y.reshape(-1)[1::3] = 0.0
    opts = _options(cuda, rng, {} if weight is None else {"weight": weight}, shape[-1], dtype)
    loss_shape = shape[:-1]
    gout = rng.uniform(0.5, 1.5, loss_shape).astype(dtype) if reduction == "none" else 1.3
    expected, expected_grad = nl.multilabel_soft_margin_loss(
        x, y, reduction=reduction, return_grad=True, grad_output=gout, **_cpu(opts)
    )
    dgout = cuda.to_device(gout) if reduction == "none" else gout
    loss, grad = nl.multilabel_soft_margin_loss(
        cuda.to_device(x), cuda.to_device(y), reduction=reduction, return_grad=True,
        grad_output=dgout, **opts,
    )  # fmt: skip
    assert loss.shape == np.shape(expected) and loss.dtype == dtype
    _compare(loss, expected, dtype)
    assert grad.shape == x.shape and grad.dtype == dtype
    _compare(grad, expected_grad, dtype)


def test_multilabel_soft_margin_in_place_fortran(cuda, rng):
    x = np.asfortranarray(rng.standard_normal((4, 5)))
    y = np.asfortranarray((rng.uniform(0, 1, (4, 5)) > 0.5).astype(np.float64))
    expected, expected_grad = nl.multilabel_soft_margin_loss(x, y, return_grad=True)
    dx = cuda.to_device(x)
    loss, grad = nl.multilabel_soft_margin_loss(
        dx, cuda.to_device(y), return_grad=True, grad_out=dx
    )
    assert grad is dx
    _compare(loss, expected, np.float64)
    _compare(dx, expected_grad, np.float64)
    with pytest.raises(ValueError, match="must have the same shape"):
        nl.multilabel_soft_margin_loss(dx, cuda.to_device(y[:, :2]))
    with pytest.raises(TypeError, match="target is on the host"):
        nl.multilabel_soft_margin_loss(dx, y)


# (dtype, reduction, shape, margin)
COSINE_CASES = [
    (np.float32, "mean", (6, 11), 0.0),
    (np.float64, "none", (6, 11), 0.2),
    (np.float64, "sum", (5, 3), -0.5),
    (np.float32, "none", (9,), 0.1),
    (np.float64, "mean", (0, 4), 0.0),
]


@pytest.mark.parametrize("case", COSINE_CASES)
def test_cosine_embedding_loss(cuda, rng, case):
    dtype, reduction, shape, margin = case
    x1 = rng.standard_normal(shape).astype(dtype)
    x2 = rng.standard_normal(shape).astype(dtype)
    loss_shape = shape[:1] if len(shape) == 2 else ()
    t = rng.choice([1, -1, 0], loss_shape) if loss_shape else np.array(-1)
    if len(shape) == 2 and shape[0]:
        x1[0] = 0.0  # a zero vector: cos = 0
    gout = rng.uniform(0.5, 1.5, loss_shape).astype(dtype) if reduction == "none" else 0.8
    expected, (eg1, eg2) = nl.cosine_embedding_loss(
        x1, x2, t, margin, reduction, return_grad=True, grad_output=gout
    )
    dgout = cuda.to_device(gout) if reduction == "none" else gout
    loss, (g1, g2) = nl.cosine_embedding_loss(
        cuda.to_device(x1), cuda.to_device(x2), cuda.to_device(t), margin, reduction,
        return_grad=True, grad_output=dgout,
    )  # fmt: skip
    assert loss.shape == np.shape(expected) and loss.dtype == dtype
    _compare(loss, expected, dtype)
    _compare(g1, eg1, dtype)
    _compare(g2, eg2, dtype)


def test_cosine_embedding_in_place_strided(cuda, rng):
    x1 = np.asfortranarray(rng.standard_normal((4, 6)))
    wide = rng.standard_normal((4, 12))
    x2 = wide[:, ::2]
    t = np.array([1, -1, -1, 1])
    expected, (eg1, eg2) = nl.cosine_embedding_loss(x1, x2, t, -0.3, return_grad=True)
    d1 = cuda.to_device(x1)
    view = cuda.to_device(wide)[:, ::2]
    out2 = cuda.device_array((4, 6))
    loss, (g1, g2) = nl.cosine_embedding_loss(
        d1, view, cuda.to_device(t), -0.3, return_grad=True, grad_out=(d1, out2)
    )
    assert g1 is d1 and g2 is out2
    _compare(loss, expected, np.float64)
    _compare(d1, eg1, np.float64)
    _compare(out2, eg2, np.float64)
    with pytest.raises(TypeError, match="input2 is on the host"):
        nl.cosine_embedding_loss(d1, x2, cuda.to_device(t))


def _multilabel_targets(rng, shape):
    """Rows of distinct (and one repeated) class indices padded with -1, junk after it."""
    n_classes = shape[-1]
    rows = int(np.prod(shape[:-1], dtype=np.int64))
    t = np.full((rows, n_classes), -1, dtype=np.int64)
    for i in range(rows):
        k = int(rng.integers(0, n_classes + 1))
        t[i, :k] = rng.permutation(n_classes)[:k]
        if k >= 2 and i % 2:
            t[i, 1] = t[i, 0]  # a class listed twice counts twice
        if k + 1 < n_classes:
            t[i, k + 1 :] = rng.integers(-1, n_classes, n_classes - k - 1)
    return t.reshape(shape)


# (dtype, reduction, shape)
MULTILABEL_CASES = [
    (np.float32, "mean", (5, 6)),
    (np.float64, "none", (5, 11)),
    (np.float64, "sum", (4, 3)),
    (np.float32, "none", (7,)),
    (np.float64, "mean", (0, 3)),
]


@pytest.mark.parametrize("case", MULTILABEL_CASES)
def test_multilabel_margin_loss(cuda, rng, case):
    dtype, reduction, shape = case
    x = rng.standard_normal(shape).astype(dtype)
    t = _multilabel_targets(rng, shape)
    loss_shape = shape[:1] if len(shape) == 2 else ()
    gout = rng.uniform(0.5, 1.5, loss_shape).astype(dtype) if reduction == "none" else 0.9
    expected, expected_grad = nl.multilabel_margin_loss(
        x, t, reduction, return_grad=True, grad_output=gout
    )
    dgout = cuda.to_device(gout) if reduction == "none" else gout
    loss, grad = nl.multilabel_margin_loss(
        cuda.to_device(x), cuda.to_device(t), reduction, return_grad=True, grad_output=dgout
    )
    assert loss.shape == np.shape(expected) and loss.dtype == dtype
    _compare(loss, expected, dtype)
    assert grad.shape == x.shape and grad.dtype == dtype
    _compare(grad, expected_grad, dtype)


def test_multilabel_margin_in_place_and_errors(cuda, rng):
    x = np.asfortranarray(rng.standard_normal((5, 10)))
    t = _multilabel_targets(rng, (5, 10))
    expected, expected_grad = nl.multilabel_margin_loss(x, t, "sum", return_grad=True)
    dx = cuda.to_device(x)
    loss, grad = nl.multilabel_margin_loss(
        dx, cuda.to_device(t), "sum", return_grad=True, grad_out=dx
    )
    assert grad is dx
    _compare(loss, expected, np.float64)
    _compare(dx, expected_grad, np.float64)
    t[3, 7] = 10
    with pytest.raises(ValueError) as cpu_err:
        nl.multilabel_margin_loss(x, t)
    with pytest.raises(ValueError) as dev_err:
        nl.multilabel_margin_loss(cuda.to_device(x), cuda.to_device(t))
    assert str(dev_err.value) == str(cpu_err.value)


# (dtype, reduction, shape, margin, swap)
TRIPLET_CASES = [
    (np.float32, "mean", (4, 9), 1.0, False),
    (np.float64, "none", (4, 5), 2.0, True),
    (np.float64, "sum", (5, 3), 0.5, True),
    (np.float32, "none", (9,), 1.5, False),
    (np.float64, "mean", (0, 4), 1.0, False),
]


@pytest.mark.parametrize("case", TRIPLET_CASES)
def test_triplet_margin_loss(cuda, rng, case):
    dtype, reduction, shape, margin, swap = case
    a, p, n = (rng.standard_normal(shape).astype(dtype) for _ in range(3))
    if len(shape) == 2 and shape[0] > 2:
        n[1] = p[1] + 0.01  # d(p, n) small: the swap picks it
    loss_shape = shape[:-1]
    gout = rng.uniform(0.5, 1.5, loss_shape).astype(dtype) if reduction == "none" else 0.6
    expected, expected_grads = nl.triplet_margin_loss(
        a, p, n, margin, swap=swap, reduction=reduction, return_grad=True, grad_output=gout
    )
    dgout = cuda.to_device(gout) if reduction == "none" else gout
    da, dp, dn = (cuda.to_device(v) for v in (a, p, n))
    loss, grads = nl.triplet_margin_loss(
        da, dp, dn, margin, swap=swap, reduction=reduction, return_grad=True, grad_output=dgout
    )
    assert loss.shape == np.shape(expected) and loss.dtype == dtype
    _compare(loss, expected, dtype)
    for got, want in zip(grads, expected_grads):
        assert got.shape == shape and got.dtype == dtype
        _compare(got, want, dtype)
    # the default distance of triplet_margin_with_distance_loss is the same kernel
    expected = nl.triplet_margin_with_distance_loss(
        a, p, n, margin=margin, swap=swap, reduction=reduction
    )
    got = nl.triplet_margin_with_distance_loss(
        da, dp, dn, margin=margin, swap=swap, reduction=reduction
    )
    _compare(got, expected, dtype)


def test_triplet_in_place_and_errors(cuda, rng):
    a = np.asfortranarray(rng.standard_normal((4, 6)))
    p, n = rng.standard_normal((4, 6)), rng.standard_normal((4, 12))[:, ::2]
    expected, expected_grads = nl.triplet_margin_with_distance_loss(
        a, p, n, distance_function="euclidean", swap=True, margin=3.0, return_grad=True
    )
    da, dp, dn = cuda.to_device(a), cuda.to_device(p), cuda.to_device(np.ascontiguousarray(n))
    loss, grads = nl.triplet_margin_with_distance_loss(
        da, dp, dn, swap=True, margin=3.0, return_grad=True, grad_out=(da, None, dn)
    )
    assert grads[0] is da and grads[2] is dn
    _compare(loss, expected, np.float64)
    for got, want in zip(grads, expected_grads):
        _compare(got, want, np.float64)
    with pytest.raises(TypeError, match="distance_function"):
        nl.triplet_margin_with_distance_loss(da, dp, dn, distance_function=lambda x, y: x)
    with pytest.raises(ValueError, match="p=2"):
        nl.triplet_margin_loss(da, dp, dn, p=1)
    with pytest.raises(ValueError, match="margin must be greater than 0"):
        nl.triplet_margin_loss(da, dp, dn, margin=0.0)
    with pytest.raises(TypeError, match="negative is on the host"):
        nl.triplet_margin_loss(da, dp, n)


# weights broadcastable to the input (2, 3, 5), from the host and the device
SOFT_WEIGHT_SHAPES = [(5,), (3, 5), (2, 1, 5), (2, 3, 1), (2, 3, 5), (1,), ()]


@pytest.mark.parametrize("where", ["host", "device"])
@pytest.mark.parametrize("weight_shape", SOFT_WEIGHT_SHAPES, ids=str)
def test_multilabel_soft_margin_broadcast_weights(cuda, rng, weight_shape, where):
    shape = (2, 3, 5)
    x = 3 * rng.standard_normal(shape)
    y = (rng.uniform(0, 1, shape) > 0.5).astype(np.float64)
    w = rng.uniform(0.2, 2.0, weight_shape)
    dw = cuda.to_device(w) if where == "device" else w
    for reduction in ("none", "sum"):
        gout = rng.uniform(0.5, 1.5, shape[:-1]) if reduction == "none" else 1.3
        expected, expected_grad = nl.multilabel_soft_margin_loss(
            x, y, weight=w, reduction=reduction, return_grad=True, grad_output=gout
        )
        loss, grad = nl.multilabel_soft_margin_loss(
            cuda.to_device(x), cuda.to_device(y), weight=dw, reduction=reduction,
            return_grad=True, grad_output=cuda.to_device(gout) if reduction == "none" else gout,
        )  # fmt: skip
        assert tuple(loss.shape) == np.shape(expected)
        _compare(loss, expected, np.float64)
        assert tuple(grad.shape) == shape
        _compare(grad, expected_grad, np.float64)
    with pytest.raises(ValueError, match="weight of shape"):
        nl.multilabel_soft_margin_loss(
            cuda.to_device(x), cuda.to_device(y), weight=np.ones((4, 2, 3, 5))
        )


@pytest.mark.parametrize("target_shape", [(), (1,)], ids=str)
@pytest.mark.parametrize("name", ["multi_margin_loss", "multilabel_margin_loss"])
def test_0d_input(cuda, name, target_shape):
    """A 0-d score with a 0-d (or (1,)) target: one class, as PyTorch takes it."""
    func = getattr(nl, name)
    x = np.array(0.4)
    for label in (0, -1) if name == "multilabel_margin_loss" else (0,):
        t = np.full(target_shape, label)
        for reduction in ("none", "mean"):
            expected, expected_grad = func(x, t, reduction=reduction, return_grad=True)
            loss, grad = func(
                cuda.to_device(x), cuda.to_device(t), reduction=reduction, return_grad=True
            )
            assert tuple(loss.shape) == np.shape(expected)
            assert tuple(grad.shape) == ()
            _compare(loss, expected, np.float64)
            _compare(grad, expected_grad, np.float64)
