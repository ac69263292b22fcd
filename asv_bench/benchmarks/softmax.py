"""Softmax family: numbaloss value+gradient, PyTorch CPU forward+backward, NumPy/SciPy.

Sizes are ``"NxC"`` strings (rows x classes) of float32 logits; ``"100x10"`` is a
small case for smoke runs.  ``peakmem_`` benchmarks compare a gradient written to
a new array with one written over the logits (``grad_out=input``).
"""

import numpy as np
import scipy.special

import numbaloss as nl

from .common import rng, torch_or_skip

SHAPES = ["100x10", "1000000x10", "65536x1000", "2048x32768"]
FOCAL_SHAPES = ["100x10", "65536x1000"]


def _logits(shape):
    n, c = (int(v) for v in shape.split("x"))
    gen = rng()
    x = gen.standard_normal((n, c), dtype=np.float32)
    t = gen.integers(0, c, n)
    return x, t


def _numpy_cross_entropy(x, t, gamma=0.0):
    """Value and gradient of (focal) cross entropy with NumPy/SciPy array expressions."""
    rows = np.arange(x.shape[0])
    lsm = scipy.special.log_softmax(x, axis=1)
    p = np.exp(lsm)
    lp = lsm[rows, t]
    pt = p[rows, t]
    if gamma == 0:
        loss = -lp.mean()
        factor = np.ones_like(lp)
    else:
        q = 1 - pt
        loss = -(q**gamma * lp).mean()
        factor = q**gamma - gamma * pt * q ** (gamma - 1) * lp
    grad = p * factor[:, None]
    grad[rows, t] -= factor
    return loss, grad / x.shape[0]


class CrossEntropy:
    params = [SHAPES]
    param_names = ["shape"]
    timeout = 300

    def setup(self, shape):
        self.x, self.t = _logits(shape)
        self.work = self.x.copy()
        nl.cross_entropy(self.x, self.t, return_grad=True)  # compile
        nl.cross_entropy(self.work, self.t, return_grad=True, grad_out=self.work)
        nl.cross_entropy(self.x, self.t)

    def time_value(self, shape):
        nl.cross_entropy(self.x, self.t)

    def time_value_and_grad(self, shape):
        nl.cross_entropy(self.x, self.t, return_grad=True)

    def time_value_and_grad_in_place(self, shape):
        nl.cross_entropy(self.work, self.t, return_grad=True, grad_out=self.work)

    def peakmem_value_and_grad(self, shape):
        nl.cross_entropy(self.x, self.t, return_grad=True)

    def peakmem_value_and_grad_in_place(self, shape):
        nl.cross_entropy(self.work, self.t, return_grad=True, grad_out=self.work)


class TorchCrossEntropy:
    params = [SHAPES]
    param_names = ["shape"]
    timeout = 300

    def setup(self, shape):
        self.torch = torch_or_skip()
        x, t = _logits(shape)
        self.x = self.torch.from_numpy(x)
        self.t = self.torch.from_numpy(t)

    def time_forward_backward(self, shape):
        x = self.x.detach().requires_grad_(True)
        self.torch.nn.functional.cross_entropy(x, self.t).backward()

    def peakmem_forward_backward(self, shape):
        x = self.x.detach().requires_grad_(True)
        self.torch.nn.functional.cross_entropy(x, self.t).backward()


class NumPyCrossEntropy:
    params = [SHAPES]
    param_names = ["shape"]
    timeout = 300

    def setup(self, shape):
        self.x, self.t = _logits(shape)

    def time_value_and_grad(self, shape):
        _numpy_cross_entropy(self.x, self.t)


class NLL:
    params = [SHAPES[:3]]
    param_names = ["shape"]

    def setup(self, shape):
        self.x, self.t = _logits(shape)
        nl.nll_loss(self.x, self.t, return_grad=True)

    def time_value_and_grad(self, shape):
        nl.nll_loss(self.x, self.t, return_grad=True)


class TorchNLL:
    params = [SHAPES[:3]]
    param_names = ["shape"]

    def setup(self, shape):
        self.torch = torch_or_skip()
        x, t = _logits(shape)
        self.x = self.torch.from_numpy(x)
        self.t = self.torch.from_numpy(t)

    def time_forward_backward(self, shape):
        x = self.x.detach().requires_grad_(True)
        self.torch.nn.functional.nll_loss(x, self.t).backward()


class Focal:
    params = [FOCAL_SHAPES]
    param_names = ["shape"]
    timeout = 300

    def setup(self, shape):
        self.x, self.t = _logits(shape)
        nl.focal_loss(self.x, self.t, gamma=2.0, return_grad=True)

    def time_value_and_grad(self, shape):
        nl.focal_loss(self.x, self.t, gamma=2.0, return_grad=True)


class TorchFocal:
    """The usual composite: ``nll_loss((1 - p)**gamma * log_softmax(x), t)``."""

    params = [FOCAL_SHAPES]
    param_names = ["shape"]
    timeout = 300

    def setup(self, shape):
        self.torch = torch_or_skip()
        x, t = _logits(shape)
        self.x = self.torch.from_numpy(x)
        self.t = self.torch.from_numpy(t)

    def time_forward_backward(self, shape):
        F = self.torch.nn.functional
        x = self.x.detach().requires_grad_(True)
        lsm = F.log_softmax(x, 1)
        F.nll_loss((1 - lsm.exp()) ** 2.0 * lsm, self.t).backward()


class NumPyFocal:
    params = [FOCAL_SHAPES]
    param_names = ["shape"]
    timeout = 300

    def setup(self, shape):
        self.x, self.t = _logits(shape)

    def time_value_and_grad(self, shape):
        _numpy_cross_entropy(self.x, self.t, gamma=2.0)


class ZeroOne:
    params = [SHAPES[:3]]
    param_names = ["shape"]

    def setup(self, shape):
        self.x, self.t = _logits(shape)

    def time_zero_one_loss(self, shape):
        nl.zero_one_loss(self.x, self.t)

    def time_numpy(self, shape):
        np.mean(np.argmax(self.x, axis=1) != self.t)


class Primitives:
    params = [SHAPES]
    param_names = ["shape"]
    timeout = 300

    def setup(self, shape):
        self.x, _ = _logits(shape)
        nl.log_softmax(self.x, axis=1)
        nl.logsumexp(self.x, axis=1)

    def time_log_softmax(self, shape):
        nl.log_softmax(self.x, axis=1)

    def time_scipy_log_softmax(self, shape):
        scipy.special.log_softmax(self.x, axis=1)

    def time_logsumexp(self, shape):
        nl.logsumexp(self.x, axis=1)

    def time_scipy_logsumexp(self, shape):
        scipy.special.logsumexp(self.x, axis=1)
