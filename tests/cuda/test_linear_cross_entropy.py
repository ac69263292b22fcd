"""``linear_cross_entropy`` on CUDA device arrays, against the CPU path.

The matrix products go through ``numbaloss._core.device_blas`` (cuBLAS by way of
CuPy or PyTorch).  Neither exists under numba's CUDA simulator, so these tests put
:class:`HostCopyBlas` under the ``"numba"`` kind: it copies the simulator's arrays to
the host, multiplies with NumPy and copies the product back.  Everything around the
products runs as on a GPU: the layout of the input and of the weight (cast, Fortran
order, the K-dimensional permutation), the bias broadcast, the cross-entropy row
kernel in place over each chunk's buffer, the bias's column sums, the output
contract (``grad_output``, ``grad_out``, in place) and the errors.  On a real GPU
without CuPy the same fixture lets the tests run; with CuPy they use cuBLAS.
"""

import numpy as np
import pytest

import numbaloss as nl
from numbaloss._core import device_blas
from numbaloss._core.devices import is_device_array
from tests.conftest import assert_close


class HostCopyBlas(device_blas.DeviceBlas):
    """``c = op(a) @ op(b) + beta * c`` through the host (tests only, see the module docs)."""

    calls = 0

    def gemm(self, a, b, c, trans_a=False, trans_b=False, beta=0.0):
        ha, hb = a.copy_to_host(), b.copy_to_host()
        ha, hb = (ha.T if trans_a else ha), (hb.T if trans_b else hb)
        product = ha @ hb
        if beta:
            product = product + beta * c.copy_to_host()
        c.copy_to_device(np.ascontiguousarray(product, dtype=c.dtype))
        type(self).calls += 1


@pytest.fixture
def blas(monkeypatch):
    try:
        import cupy  # noqa: F401
    except ImportError:
        monkeypatch.setitem(device_blas.BACKENDS, "numba", HostCopyBlas())
    return device_blas


def _host(arr):
    assert is_device_array(arr), type(arr)
    return arr.copy_to_host()


def _make(rng, n, k, c, dtype, out_features=(), prob=False, batched=True):
    x = rng.standard_normal((n, k) if batched else (k,)).astype(dtype)
    w = (rng.standard_normal((c, *out_features, k))).astype(dtype)
    b = rng.standard_normal((c, *out_features)).astype(dtype)
    cw = (rng.random(c) + 0.5).astype(dtype)
    loss_shape = ((n,) if batched else ()) + tuple(out_features)
    if prob:
        t = rng.random(((n,) if batched else ()) + (c, *out_features))
        t = (t / t.sum(axis=1 if batched else 0, keepdims=True)).astype(dtype)
    else:
        t = rng.integers(0, c, loss_shape)
        if t.ndim:
            t.reshape(-1)[::3] = -100
    return x, w, t, b, cw


# (dtype, reduction, n, k, C, out_features, prob, options)
CASES = [
    (np.float32, "mean", 5, 3, 7, (), False, {"chunk_size": 2}),
    (np.float64, "none", 6, 4, 9, (), False, {"chunk_size": 4, "weight": True}),
    (np.float64, "sum", 5, 2, 6, (), False, {"label_smoothing": 0.2, "weight": True}),
    (np.float64, "mean", 4, 3, 5, (), True, {"chunk_size": 3, "label_smoothing": 0.1}),
    (np.float32, "none", 3, 2, 4, (2,), False, {"chunk_size": 2, "weight": True}),
    (np.float64, "mean", 3, 2, 5, (2,), True, {"chunk_size": 1}),
]


@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("case", CASES, ids=str)
def test_against_the_cpu(cuda, blas, rng, case, bias):
    dtype, reduction, n, k, c, out_features, prob, options = case
    x, w, t, b, cw = _make(rng, n, k, c, dtype, out_features, prob)
    options = dict(options)
    if options.pop("weight", False):
        options["weight"] = cw
    loss_shape = (n, *out_features)
    g = rng.standard_normal(loss_shape).astype(dtype) if reduction == "none" else 0.75
    bias_arg = b if bias else None
    want, want_grads = nl.linear_cross_entropy(
        x,
        w,
        t,
        linear_bias=bias_arg,
        reduction=reduction,
        return_grad=True,
        grad_output=g,
        **options,
    )
    device_options = dict(options)
    if "weight" in device_options:
        device_options["weight"] = cuda.to_device(cw)
    got, got_grads = nl.linear_cross_entropy(
        cuda.to_device(x),
        cuda.to_device(w),
        cuda.to_device(t),
        linear_bias=cuda.to_device(b) if bias else None,
        reduction=reduction,
        return_grad=True,
        grad_output=cuda.to_device(np.asarray(g)) if reduction == "none" else g,
        **device_options,
    )
    assert len(got_grads) == len(want_grads) == (3 if bias else 2)
    assert tuple(got.shape) == np.shape(want)
    assert_close(_host(got), want, dtype, scale=10)
    for grad, expected in zip(got_grads, want_grads):
        assert tuple(grad.shape) == expected.shape and grad.dtype == expected.dtype
        assert_close(_host(grad), expected, dtype, scale=10)


def test_one_dimensional_input_host_bias_and_class_form(cuda, blas, rng):
    x, w, t, b, cw = _make(rng, 1, 4, 6, np.float64, batched=False)
    t = np.array(2)
    want, want_grads = nl.linear_cross_entropy(x, w, t, linear_bias=b, weight=cw, return_grad=True)
    loss_fn = nl.LinearCrossEntropyLoss(weight=cw)
    got, got_grads = loss_fn(
        cuda.to_device(x), cuda.to_device(w), cuda.to_device(t), linear_bias=b, return_grad=True
    )
    assert_close(_host(got), want, np.float64)
    assert tuple(got_grads[0].shape) == (4,)
    for grad, expected in zip(got_grads, want_grads):
        assert_close(_host(grad), expected, np.float64)


def test_grad_out_in_place_fortran_and_float16(cuda, blas, rng):
    x, w, t, b, cw = _make(rng, 5, 3, 7, np.float64)
    want, want_grads = nl.linear_cross_entropy(
        x, w, t, linear_bias=b, chunk_size=2, return_grad=True
    )
    dx = cuda.to_device(x)
    dw = cuda.to_device(np.asfortranarray(w))  # a Fortran-ordered weight
    gw = cuda.device_array(w.shape, dtype=np.float64)
    loss, grads = nl.linear_cross_entropy(
        dx,
        dw,
        cuda.to_device(t),
        linear_bias=cuda.to_device(b),
        chunk_size=2,
        return_grad=True,
        grad_out=(dx, gw, cuda.device_array(b.shape)),
    )
    assert grads[0] is dx and grads[1] is gw
    assert_close(_host(loss), want, np.float64)
    for grad, expected in zip(grads, want_grads):
        assert_close(_host(grad), expected, np.float64)
    # the weight's gradient over the weight (read by every chunk: accumulated apart)
    dw = cuda.to_device(w)
    nl.linear_cross_entropy(
        cuda.to_device(x),
        dw,
        cuda.to_device(t),
        linear_bias=cuda.to_device(b),
        chunk_size=2,
        return_grad=True,
        grad_out=(cuda.device_array(x.shape), dw, cuda.device_array(b.shape)),
    )
    assert_close(_host(dw), want_grads[1], np.float64)
    # float16 in, float32 inside, float16 out
    h = [a.astype(np.float16) for a in (x, w, b)]
    want, want_grads = nl.linear_cross_entropy(h[0], h[1], t, linear_bias=h[2], return_grad=True)
    got, got_grads = nl.linear_cross_entropy(
        *(cuda.to_device(a) for a in h[:2]),
        cuda.to_device(t),
        linear_bias=cuda.to_device(h[2]),
        return_grad=True,
    )
    assert got.dtype == np.float16 and all(g.dtype == np.float16 for g in got_grads)
    np.testing.assert_allclose(_host(got), want, rtol=2e-3)
    for grad, expected in zip(got_grads, want_grads):
        np.testing.assert_allclose(_host(grad), expected, rtol=5e-3, atol=5e-4)


def test_empty_batch_and_all_ignored(cuda, blas, rng):
    x, w, t, b, _ = _make(rng, 0, 3, 4, np.float64)
    loss, (gx, gw, gb) = nl.linear_cross_entropy(
        cuda.to_device(x),
        cuda.to_device(w),
        cuda.to_device(t),
        linear_bias=cuda.to_device(b),
        return_grad=True,
    )
    assert np.isnan(_host(loss)) and tuple(gx.shape) == (0, 3)
    assert not _host(gw).any() and not _host(gb).any()
    x, w, t, b, _ = _make(rng, 4, 3, 4, np.float64)
    t[:] = -100
    loss, grads = nl.linear_cross_entropy(
        cuda.to_device(x), cuda.to_device(w), cuda.to_device(t), return_grad=True
    )
    assert np.isnan(_host(loss)) and not any(_host(g).any() for g in grads)


def test_errors(cuda, blas, rng):
    x, w, t, b, _ = _make(rng, 4, 3, 5, np.float64)
    t[2] = 9
    with pytest.raises(ValueError) as cpu_error:
        nl.linear_cross_entropy(x, w, t)
    dx = cuda.to_device(x)
    with pytest.raises(ValueError, match="target 9 is out of bounds") as error:
        nl.linear_cross_entropy(
            dx,
            cuda.to_device(w),
            cuda.to_device(t),
            return_grad=True,
            grad_out=(dx, cuda.device_array(w.shape)),
        )
    assert str(error.value) == str(cpu_error.value)
    np.testing.assert_array_equal(_host(dx), x)
    with pytest.raises(TypeError, match="linear_weight is on the host"):
        nl.linear_cross_entropy(dx, w, cuda.to_device(t))
    with pytest.raises(ValueError, match="same last dimension"):
        nl.linear_cross_entropy(dx, cuda.to_device(w[:, :2].copy()), cuda.to_device(t))


def test_numba_arrays_without_cupy_say_so(cuda, rng, monkeypatch):
    """Without CuPy (and without the tests' stand-in) numba device arrays get a TypeError."""
    monkeypatch.setattr(device_blas, "_cupy_or_none", lambda: None)
    x, w, t, _, _ = _make(rng, 3, 2, 4, np.float64)
    with pytest.raises(TypeError, match="needs CuPy"):
        nl.linear_cross_entropy(cuda.to_device(x), cuda.to_device(w), cuda.to_device(t))
