"""Softmax family on a CUDA GPU: numbaloss value+gradient, PyTorch CUDA, CuPy.

Skipped (``NotImplementedError`` in setup, asv's skip) where no GPU is usable.  Each
timed method waits for the GPU before returning, so asv's wall clock covers the
kernels.  Shapes are ``"NxC"`` strings of float32 logits with int64 class indices,
made on the host (as in ``softmax.py``) and copied to the device once in setup.
Cross entropy and the focal loss (``gamma=2``) are timed with ``reduction='mean'``,
numbaloss also in place (``grad_out=input``: the logits are overwritten by their
gradient, whose values stay small, so later calls do the same work).
"""

import numpy as np

from .common import cuda_or_skip, rng

SHAPES = ["1000x10", "65536x1000"]
GAMMA = 2.0


def _host_logits(shape):
    n, c = (int(v) for v in shape.split("x"))
    gen = rng()
    return gen.standard_normal((n, c), dtype=np.float32), gen.integers(0, c, n)


def _torch_or_skip():
    try:
        import torch
    except ImportError as exc:
        raise NotImplementedError("PyTorch is not installed") from exc
    if not torch.cuda.is_available():
        raise NotImplementedError("PyTorch has no CUDA device")
    return torch


def _cupy_or_skip():
    try:
        import cupy
    except ImportError as exc:
        raise NotImplementedError("CuPy is not installed") from exc
    return cupy


class NumbalossCUDA:
    params = [["cross_entropy", "focal_loss"], SHAPES]
    param_names = ["loss", "shape"]
    timeout = 300

    def setup(self, loss, shape):
        import numbaloss as nl

        self.cuda = cuda_or_skip()
        x, t = _host_logits(shape)
        self.x, self.t = self.cuda.to_device(x), self.cuda.to_device(t)
        self.work = self.cuda.to_device(x)
        self.func = (
            nl.cross_entropy
            if loss == "cross_entropy"
            else (lambda *a, **k: nl.focal_loss(*a, gamma=GAMMA, **k))
        )
        self.func(self.x, self.t, return_grad=True)  # compile
        self.func(self.x, self.t)
        self.func(self.work, self.t, return_grad=True, grad_out=self.work)
        self.cuda.synchronize()

    def time_value(self, loss, shape):
        self.func(self.x, self.t)
        self.cuda.synchronize()

    def time_value_and_grad(self, loss, shape):
        self.func(self.x, self.t, return_grad=True)
        self.cuda.synchronize()

    def time_value_and_grad_in_place(self, loss, shape):
        self.func(self.work, self.t, return_grad=True, grad_out=self.work)
        self.cuda.synchronize()


class TorchCUDA:
    """PyTorch forward + backward (autograd) on the same device data."""

    params = [["cross_entropy", "focal_loss"], SHAPES]
    param_names = ["loss", "shape"]
    timeout = 300

    def setup(self, loss, shape):
        self.torch = _torch_or_skip()
        x, t = _host_logits(shape)
        self.x = self.torch.as_tensor(x, device="cuda")
        self.t = self.torch.as_tensor(t, device="cuda")
        self.loss = loss
        self.time_forward_backward(loss, shape)

    def time_forward_backward(self, loss, shape):
        torch = self.torch
        x = self.x.detach().requires_grad_(True)
        if self.loss == "cross_entropy":
            value = torch.nn.functional.cross_entropy(x, self.t)
        else:
            lsm = torch.nn.functional.log_softmax(x, dim=1)
            value = torch.nn.functional.nll_loss((1 - lsm.exp()) ** GAMMA * lsm, self.t)
        value.backward()
        torch.cuda.synchronize()


class CuPy:
    """The value and gradient as CuPy array expressions (softmax, gather, scatter)."""

    params = [["cross_entropy", "focal_loss"], SHAPES]
    param_names = ["loss", "shape"]
    timeout = 300

    def setup(self, loss, shape):
        cuda_or_skip()
        self.cupy = _cupy_or_skip()
        x, t = _host_logits(shape)
        self.x, self.t = self.cupy.asarray(x), self.cupy.asarray(t)
        self.gamma = 0.0 if loss == "cross_entropy" else GAMMA
        self.time_value_and_grad(loss, shape)

    def time_value_and_grad(self, loss, shape):
        cp = self.cupy
        x, t, gamma = self.x, self.t, self.gamma
        rows = cp.arange(x.shape[0])
        m = x.max(axis=1, keepdims=True)
        e = cp.exp(x - m)
        s = e.sum(axis=1, keepdims=True)
        p = e / s
        lp = (x - m - cp.log(s))[rows, t]
        pt = p[rows, t]
        if gamma == 0:
            value = -lp.mean()
            factor = cp.ones_like(lp)
        else:
            q = 1 - pt
            value = -(q**gamma * lp).mean()
            factor = q**gamma - gamma * pt * q ** (gamma - 1) * lp
        grad = p * factor[:, None]
        grad[rows, t] -= factor
        grad /= x.shape[0]
        cp.cuda.Device().synchronize()
        return value, grad
