"""Softmax losses' second derivatives: value, gradient and the Hessian's diagonal.

float32 logits ``"NxC"`` (``"100x10"`` for smoke runs, ``"65536x1000"`` the
measured case), ``reduction='sum'``.  Baselines:

* ``NumPyCrossEntropyHess``: the hand-written NumPy softmax objective,
  ``p = softmax(x); g = p - onehot; h = p * (1 - p)``;
* ``TorchFuncHessianDiagonal``: ``torch.func.vmap(torch.func.hessian(row loss))`` and
  its diagonal, per row.  It materialises a ``C x C`` Hessian per row (65536 rows of
  1000 classes would need 262 GB), so it runs on 64 rows of the same classes
  (``"64x1000"``): compare per row.
"""

import numpy as np

import numbaloss as nl

from .common import rng, torch_or_skip

SHAPES = ["100x10", "65536x1000"]
TORCH_SHAPES = ["16x10", "64x1000"]


def _logits(shape):
    n, c = (int(v) for v in shape.split("x"))
    gen = rng()
    return gen.standard_normal((n, c), dtype=np.float32), gen.integers(0, c, n)


class CrossEntropyHess:
    params = [SHAPES]
    param_names = ["shape"]
    timeout = 300

    def setup(self, shape):
        self.x, self.t = _logits(shape)
        self.grad_out = np.empty_like(self.x)
        self.hess_out = np.empty_like(self.x)
        self.time_value_grad_hess(shape)  # compile
        self.time_value_grad_hess_into(shape)  # and write the buffers once

    def time_value_grad_hess(self, shape):
        nl.cross_entropy(self.x, self.t, reduction="sum", return_grad=True, return_hess=True)

    def time_value_grad_hess_into(self, shape):
        nl.cross_entropy(
            self.x, self.t, reduction="sum", return_grad=True, return_hess=True,
            grad_out=self.grad_out, hess_out=self.hess_out,
        )  # fmt: skip


class FocalHess:
    params = [SHAPES]
    param_names = ["shape"]
    timeout = 300

    def setup(self, shape):
        self.x, self.t = _logits(shape)
        self.time_value_grad_hess(shape)  # compile

    def time_value_grad_hess(self, shape):
        nl.focal_loss(
            self.x, self.t, gamma=2.0, reduction="sum", return_grad=True, return_hess=True
        )


class NumPyCrossEntropyHess:
    """The hand-written NumPy objective (no value): softmax, ``p - onehot``, ``p (1 - p)``."""

    params = [SHAPES]
    param_names = ["shape"]
    timeout = 300

    def setup(self, shape):
        self.x, self.t = _logits(shape)

    def time_grad_hess(self, shape):
        x = self.x
        e = np.exp(x - x.max(axis=1, keepdims=True))
        p = e / e.sum(axis=1, keepdims=True)
        g = p.copy()
        g[np.arange(x.shape[0]), self.t] -= 1
        h = p * (1 - p)
        return g, h


class TorchFuncHessianDiagonal:
    """``torch.func``: the diagonal of each row's Hessian (64 rows; see the module docs)."""

    params = [TORCH_SHAPES]
    param_names = ["shape"]
    timeout = 300

    def setup(self, shape):
        torch = self.torch = torch_or_skip()
        x, t = _logits(shape)
        self.x = torch.from_numpy(x)
        self.t = torch.from_numpy(t)

        def row_loss(z, target):
            return torch.nn.functional.cross_entropy(z[None], target[None], reduction="sum")

        self.row_hessian = torch.func.vmap(torch.func.hessian(row_loss))

    def time_hessian_diagonal(self, shape):
        full = self.row_hessian(self.x, self.t)
        return self.torch.diagonal(full, dim1=1, dim2=2)
