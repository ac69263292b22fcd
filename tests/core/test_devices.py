"""Routing to the CUDA back end, on a machine without a GPU."""

import os

import numpy as np
import pytest

import numbaloss as nl
from numbaloss._core.devices import any_device_array, is_device_array

NO_GPU = not (
    os.path.exists("/dev/nvidiactl") or os.environ.get("NUMBA_ENABLE_CUDASIM", "0") != "0"
)


class _ForeignDeviceArray:
    """Stands in for a CuPy array or a PyTorch CUDA tensor (never dereferenced here)."""

    __cuda_array_interface__ = {
        "shape": (3,),
        "typestr": "<f4",
        "data": (0, False),
        "version": 3,
    }


class _NumbaDeviceArray:
    """Numba's device arrays carry this marker (the simulator's have no interface)."""

    __cuda_ndarray__ = True


def test_device_arrays_are_recognised():
    assert is_device_array(_ForeignDeviceArray())
    assert is_device_array(_NumbaDeviceArray())
    assert not is_device_array(np.ones(3))
    assert not is_device_array([1.0, 2.0])
    assert any_device_array(np.ones(3), (np.ones(1), _NumbaDeviceArray()))


@pytest.mark.skipif(not NO_GPU, reason="a CUDA device (or the simulator) is present")
def test_a_device_array_without_a_gpu_is_a_clear_runtime_error():
    with pytest.raises(RuntimeError, match="no usable CUDA GPU"):
        nl.mse_loss(_ForeignDeviceArray(), _ForeignDeviceArray())
    with pytest.raises(RuntimeError, match="no usable CUDA GPU"):
        nl.l1_loss(np.ones(3), np.ones(3), return_grad=True, grad_out=_ForeignDeviceArray())


def test_host_calls_are_untouched():
    assert float(nl.mse_loss([1.0, 2.0], [0.0, 4.0])) == 2.5


class _GradTensor:
    """Like a PyTorch CUDA tensor that requires grad: its interface raises RuntimeError."""

    @property
    def __cuda_array_interface__(self):
        raise RuntimeError("Can't export tensors that require gradient, use tensor.detach()")


def test_a_tensor_that_requires_grad_counts_as_a_device_array():
    assert is_device_array(_GradTensor())


GRAD_OUT_CALLS = {
    "mse_loss": lambda x: nl.mse_loss(x, np.zeros(3), grad_out=x),
    "cross_entropy": lambda x: nl.cross_entropy(x.reshape(1, 3), [1], grad_out=x.reshape(1, 3)),
    "multi_margin_loss": lambda x: nl.multi_margin_loss(
        x.reshape(1, 3), [0], grad_out=x.reshape(1, 3)
    ),
    "ctc_loss": lambda x: nl.ctc_loss(
        np.log(np.full((3, 1, 2), 0.5)), [[1]], [3], [1], grad_out=np.zeros((3, 1, 2))
    ),
}


@pytest.mark.parametrize("name", sorted(GRAD_OUT_CALLS))
def test_grad_out_without_return_grad_is_an_error(name):
    x = np.array([0.5, -1.0, 2.0])
    before = x.copy()
    with pytest.raises(ValueError, match=f"{name}: grad_out is only written with return_grad"):
        GRAD_OUT_CALLS[name](x)
    np.testing.assert_array_equal(x, before)
