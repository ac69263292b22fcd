"""The shared CUDA core: block reductions, finishing kernel, layouts, sums over broadcast axes."""

import math

import numpy as np
import pytest
from numba import cuda as numba_cuda

from numbaloss._core import cuda_support as cs


@numba_cuda.jit
def _block_reductions(values, sums, maxes):
    i = numba_cuda.grid(1)
    inside = i < values.shape[0]
    total = cs.block_sum(values[i] if inside else 0.0)
    top = cs.block_max(values[i] if inside else -math.inf)
    if numba_cuda.threadIdx.x == 0:
        sums[numba_cuda.blockIdx.x] = total
        maxes[numba_cuda.blockIdx.x] = top


def test_block_sum_and_max(cuda, rng):
    threads = cs.get_launch_config()[0]
    values = rng.standard_normal(3 * threads - 2)
    values[threads + 1] = np.nan  # NaN wins the second block's maximum
    blocks = -(-values.size // threads)
    sums = cuda.device_array(blocks)
    maxes = cuda.device_array(blocks)
    _block_reductions[blocks, threads](cuda.to_device(values), sums, maxes)
    padded = np.concatenate([values, np.zeros(blocks * threads - values.size)])
    per_block = padded.reshape(blocks, threads)
    np.testing.assert_allclose(sums.copy_to_host(), np.sum(per_block, axis=1), rtol=1e-13)
    got = maxes.copy_to_host()
    assert got[0] == values[:threads].max() and np.isnan(got[1])
    assert got[2] == values[2 * threads :].max()


@pytest.mark.parametrize("divisor", [4.0, 0.0, "device"])
def test_reduce_partials(cuda, rng, divisor):
    partials = rng.standard_normal(37)
    d = cuda.to_device(np.array([2.0])) if divisor == "device" else divisor
    out = cs.reduce_partials(cuda.to_device(partials), d, np.float32).copy_to_host()
    expected = partials.sum() / (2.0 if divisor == "device" else divisor or np.nan)
    assert out.dtype == np.float32 and out.shape == (1,)
    np.testing.assert_allclose(out[0], expected, rtol=1e-6)


def test_gather_orders_broadcasts_and_converts(cuda, rng):
    shape = (3, 4, 5)
    c = rng.standard_normal(shape)
    f = np.asfortranarray(c)
    # same layout and dtype: a view, no copy
    dc = cuda.to_device(c)
    np.testing.assert_array_equal(cs.gather(dc, shape, False, c.dtype).copy_to_host(), c.ravel())
    # C array in Fortran kernel order, and the reverse
    np.testing.assert_array_equal(
        cs.gather(dc, shape, True, c.dtype).copy_to_host(), c.ravel(order="F")
    )
    np.testing.assert_array_equal(
        cs.gather(cuda.to_device(f), shape, False, c.dtype).copy_to_host(), c.ravel()
    )
    # broadcast operands, converted to float32
    for small in (rng.standard_normal((4, 1)), rng.standard_normal(5), np.arange(20).reshape(4, 5)):
        want = np.broadcast_to(small, shape).astype(np.float32)
        got = cs.gather(cuda.to_device(small), shape, False, np.dtype(np.float32))
        np.testing.assert_array_equal(got.copy_to_host(), want.ravel())
        got = cs.gather(cuda.to_device(small), shape, True, np.dtype(np.float32))
        np.testing.assert_array_equal(got.copy_to_host(), want.ravel(order="F"))


def test_sum_to_shape(cuda, rng):
    shape = (3, 4, 5)
    full = rng.standard_normal(shape)
    flat = cuda.to_device(full.ravel())
    for target in [(3, 1, 5), (1, 4, 1), (5,), (), (3, 4, 5)]:
        padded = (1,) * (3 - len(target)) + target
        got = cs.sum_to_shape(flat, shape, padded, np.dtype(np.float64)).copy_to_host()
        axes = tuple(k for k in range(3) if padded[k] == 1 and shape[k] != 1)
        want = full.sum(axis=axes, keepdims=True).reshape(padded)
        np.testing.assert_allclose(got, want, rtol=1e-13)


def test_non_contiguous_device_arrays_are_refused(cuda, rng):
    arr = cuda.to_device(rng.standard_normal((4, 6)))[:, ::2]
    with pytest.raises(ValueError, match="not contiguous"):
        cs.contiguous_order(arr)
