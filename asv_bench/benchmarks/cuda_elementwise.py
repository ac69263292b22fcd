"""Elementwise losses on a CUDA GPU: numbaloss value+gradient, PyTorch CUDA, CuPy.

Skipped (``NotImplementedError`` in setup, asv's skip) where no GPU is usable.  Each
timed method waits for the GPU before returning, so asv's wall clock covers the
kernels.  The same float32 arrays as ``elementwise.py``, made on the host and
copied to the device once in setup.  ``python -m numbaloss.cuda_check`` prints the
same comparison as one table, with the achieved memory bandwidth.
"""

import numpy as np

from numbaloss.testing.elementwise import CASES, NAMES

from .common import cuda_or_skip, rng

SIZES = [1_000_000, 100_000_000]


def _device_arrays(cuda, name, n):
    case = CASES[name]
    return case, [cuda.to_device(a) for a in case.make(rng(), (n,), np.float32)]


class NumbalossCUDA:
    params = [NAMES, SIZES]
    param_names = ["loss", "n"]
    timeout = 300

    def setup(self, name, n):
        self.cuda = cuda_or_skip()
        self.case, self.arrays = _device_arrays(self.cuda, name, n)
        self.case.func(*self.arrays, **self.case.options, return_grad=True)  # compile
        self.case.func(*self.arrays, **self.case.options)
        self.cuda.synchronize()

    def time_value(self, name, n):
        self.case.func(*self.arrays, **self.case.options)
        self.cuda.synchronize()

    def time_value_and_grad(self, name, n):
        self.case.func(*self.arrays, **self.case.options, return_grad=True)
        self.cuda.synchronize()


class TorchCUDA:
    params = [NAMES, SIZES]
    param_names = ["loss", "n"]
    timeout = 300

    def setup(self, name, n):
        cuda = cuda_or_skip()
        try:
            import torch
        except ImportError as exc:
            raise NotImplementedError("PyTorch is not installed") from exc
        if not torch.cuda.is_available():
            raise NotImplementedError("PyTorch has no CUDA device")
        self.torch = torch
        self.case, arrays = _device_arrays(cuda, name, n)
        self.tensors = [torch.as_tensor(a, device="cuda") for a in arrays]
        self.grad_index = [self.case.arrays.index(p) for p in self.case.preds]

    def time_forward_backward(self, name, n):
        ts = list(self.tensors)
        for i in self.grad_index:
            ts[i] = ts[i].detach().requires_grad_(True)
        self.case.torch_ref(self.torch, ts, reduction="mean", **self.case.options).backward()
        self.torch.cuda.synchronize()


class CuPy:
    params = [NAMES, SIZES]
    param_names = ["loss", "n"]
    timeout = 300

    def setup(self, name, n):
        cuda = cuda_or_skip()
        try:
            import cupy
        except ImportError as exc:
            raise NotImplementedError("CuPy is not installed") from exc
        self.cupy = cupy
        self.case, arrays = _device_arrays(cuda, name, n)
        self.arrays = [cupy.asarray(a) for a in arrays]

    def time_value_and_grad(self, name, n):
        loss = self.case.numpy_ref(*self.arrays, **self.case.options).mean()
        grads = self.case.numpy_grad(*self.arrays, **self.case.options)
        grads = [g / self.arrays[0].size for g in grads]
        self.cupy.cuda.Device().synchronize()
        return loss, grads
