"""Dask arrays whose chunks are device arrays run the CUDA kernels, chunk by chunk.

A dask array with CuPy blocks is the usual case; here the blocks are numba device
arrays (CuPy is not needed, and the simulator has them), which take the same path:
each chunk's call is routed to the CUDA version, its loss is summed on the device
in float64, and the results match the NumPy call.
"""

import numpy as np
import pytest

import numbaloss as nl
from numbaloss._core import registry

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")


def on_device(cuda, arr, chunks):
    arr = da.from_array(arr, chunks=chunks)
    return arr.map_blocks(cuda.to_device, meta=np.empty((0,) * arr.ndim, dtype=arr.dtype))


def to_host(grad):
    return grad.map_blocks(lambda b: b.copy_to_host(), meta=np.empty((0,) * grad.ndim, grad.dtype))


class _Counting:
    def __init__(self, monkeypatch, name):
        module = __import__(f"numbaloss.{registry.entry(name).family}.cuda", fromlist=[name])
        self.func = getattr(module, name)
        self.calls = 0
        monkeypatch.setattr(module, name, self)

    def __call__(self, *args, **kwargs):
        self.calls += 1
        return self.func(*args, **kwargs)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_elementwise_chunks_on_the_device(cuda, monkeypatch, rng, reduction):
    x = rng.standard_normal((9, 4))
    y = rng.standard_normal((9, 4))
    counting = _Counting(monkeypatch, "mse_loss")
    loss, grad = nl.mse_loss(
        on_device(cuda, x, (4, 4)),
        on_device(cuda, y, (4, 4)),
        reduction=reduction,
        return_grad=True,
    )
    if reduction == "none":
        loss = to_host(loss)
    got_loss, got_grad = dask.compute(loss, to_host(grad), scheduler="sync")
    assert counting.calls == 3
    exp_loss, exp_grad = nl.mse_loss(x, y, reduction=reduction, return_grad=True)
    np.testing.assert_allclose(got_loss, exp_loss, rtol=1e-12)
    np.testing.assert_allclose(got_grad, exp_grad, rtol=1e-12)


def test_weighted_cross_entropy_chunks_on_the_device(cuda, monkeypatch, rng):
    x = rng.standard_normal((11, 5))
    t = rng.integers(0, 5, 11)
    t[:3] = -100
    w = rng.random(5) + 0.5
    counting = _Counting(monkeypatch, "cross_entropy")
    loss, grad = nl.cross_entropy(
        on_device(cuda, x, (3, 5)), on_device(cuda, t, 3), weight=w, return_grad=True
    )
    got_loss, got_grad = dask.compute(loss, to_host(grad), scheduler="sync")
    assert counting.calls == 4
    exp_loss, exp_grad = nl.cross_entropy(x, t, weight=w, return_grad=True)
    np.testing.assert_allclose(got_loss, exp_loss, rtol=1e-12)
    np.testing.assert_allclose(got_grad, exp_grad, rtol=1e-12)
