"""Elementwise losses: numbaloss value and value+gradient, PyTorch forward+backward, NumPy.

All three time the same float32 arrays from the reference table in
``numbaloss.testing.elementwise``; the NumPy baseline evaluates the loss formula and
its gradient formula as plain array expressions.  Every call names
``reduction='mean'``, the default of all but ``sigmoid_focal_loss`` (whose default,
as torchvision's, is ``'none'``).
"""

import numpy as np

from numbaloss.testing.elementwise import CASES, NAMES

from .common import as_tuple, rng, torch_or_skip

SIZES = [100_000, 1_000_000, 20_000_000]


def _arrays(name, n):
    case = CASES[name]
    arrays = case.make(rng(), (n,), np.float32)
    return case, arrays


class Numbaloss:
    params = [NAMES, SIZES]
    param_names = ["loss", "n"]
    timeout = 300

    def setup(self, name, n):
        self.case, self.arrays = _arrays(name, n)
        # Gradient buffers reused by every call, as in a training loop that passes
        # ``grad_out``: the gradient is written once, with no fresh pages for the
        # operating system to zero (which a new array of 2*10^7 float32 costs).
        grads = tuple(
            np.empty_like(self.arrays[self.case.arrays.index(p)]) for p in self.case.preds
        )
        self.grad_out = grads[0] if len(grads) == 1 else grads
        self.case.func(
            *self.arrays, reduction="mean", **self.case.options, return_grad=True
        )  # compile
        self.case.func(*self.arrays, reduction="mean", **self.case.options)
        # Write the buffers once, as a training loop's previous step has: asv runs
        # setup before every sample, and the first write to fresh pages would time
        # the operating system's page faults and zeroing, as a new array does.
        self.time_value_and_grad_into(name, n)

    def time_value(self, name, n):
        self.case.func(*self.arrays, reduction="mean", **self.case.options)

    def time_value_and_grad(self, name, n):
        self.case.func(*self.arrays, reduction="mean", **self.case.options, return_grad=True)

    def time_value_and_grad_into(self, name, n):
        self.case.func(
            *self.arrays,
            reduction="mean",
            **self.case.options,
            return_grad=True,
            grad_out=self.grad_out,
        )

    def peakmem_value_and_grad(self, name, n):
        self.case.func(*self.arrays, reduction="mean", **self.case.options, return_grad=True)


class Torch:
    params = [NAMES, SIZES]
    param_names = ["loss", "n"]
    timeout = 300

    def setup(self, name, n):
        self.torch = torch_or_skip()
        self.case, arrays = _arrays(name, n)
        self.tensors = [self.torch.from_numpy(a) for a in arrays]
        self.grad_index = [self.case.arrays.index(p) for p in self.case.preds]

    def _inputs(self):
        ts = list(self.tensors)
        for i in self.grad_index:
            ts[i] = ts[i].detach().requires_grad_(True)
        return ts

    def time_forward(self, name, n):
        with self.torch.no_grad():
            self.case.torch_ref(self.torch, self.tensors, reduction="mean", **self.case.options)

    def time_forward_backward(self, name, n):
        ts = self._inputs()
        self.case.torch_ref(self.torch, ts, reduction="mean", **self.case.options).backward()


class NumPy:
    params = [NAMES, SIZES]
    param_names = ["loss", "n"]
    timeout = 300

    def setup(self, name, n):
        self.case, self.arrays = _arrays(name, n)

    def time_value_and_grad(self, name, n):
        with np.errstate(all="ignore"):
            loss = self.case.numpy_ref(*self.arrays, **self.case.options).mean()
            grads = as_tuple(self.case.numpy_grad(*self.arrays, **self.case.options))
            grads = [g / self.arrays[0].size for g in grads]
        return loss, grads
