"""``linear_cross_entropy``: numbaloss beside PyTorch's two paths and the matrix-product floor.

Sizes are ``"NxKxC"`` strings (rows x in_features x classes) of float32 inputs with
int64 class indices, ``reduction='mean'``, no bias; ``"128x64x1000"`` is the smoke
case, ``"2048x512x32000"`` the issue's (a 32000-token vocabulary head).  Each
``time_`` benchmark is a forward and a backward pass (value and the gradients of the
input and the weight):

* ``LinearCrossEntropy``: numbaloss, ``return_grad=True`` (default chunk size);
* ``TorchLinearCrossEntropy``: ``F.linear_cross_entropy(...).backward()`` on the
  reference path (``options=None``: the full logits) and on the chunked path
  (``options=nn.LinearCrossEntropyOptions()``), PyTorch on as many threads as
  numbaloss;
* ``MatmulFloor``: the three matrix products of any implementation, alone, with
  NumPy: ``z = x @ w.T``, ``z @ w`` and ``z.T @ x`` (``z`` standing in for the
  logits' gradient), the floor that the goal (at most 1.10x) is measured against.

``peakmem_`` benchmarks measure the peak resident memory of the benchmark process
(asv runs each in a fresh process; it includes the interpreter, the imported
libraries and the inputs: PyTorch's import alone is larger than numbaloss's, so the
difference between the rows, not their ratio, is the memory of the calls).  The
docs' memory page (``docs/linear_cross_entropy.rst``) has the memory of the calls
alone, measured by ``docs/_scripts/linear_memory.py``.
"""

import numpy as np

import numbaloss as nl

from .common import rng, torch_or_skip

SHAPES = ["128x64x1000", "2048x512x32000"]


def _inputs(shape):
    n, k, c = (int(v) for v in shape.split("x"))
    gen = rng()
    x = gen.standard_normal((n, k), dtype=np.float32)
    w = gen.standard_normal((c, k), dtype=np.float32) / np.float32(np.sqrt(k))
    t = gen.integers(0, c, n)
    return x, w, t


class LinearCrossEntropy:
    params = [SHAPES]
    param_names = ["shape"]
    timeout = 600

    def setup(self, shape):
        self.x, self.w, self.t = _inputs(shape)
        nl.linear_cross_entropy(self.x[:8], self.w, self.t[:8], return_grad=True)  # compile

    def time_value_and_grad(self, shape):
        nl.linear_cross_entropy(self.x, self.w, self.t, return_grad=True)

    def time_value(self, shape):
        nl.linear_cross_entropy(self.x, self.w, self.t)

    def peakmem_value_and_grad(self, shape):
        nl.linear_cross_entropy(self.x, self.w, self.t, return_grad=True)


class TorchLinearCrossEntropy:
    params = [SHAPES, ["reference", "chunked"]]
    param_names = ["shape", "path"]
    timeout = 600

    def setup(self, shape, path):
        self.torch = torch_or_skip()
        x, w, t = _inputs(shape)
        self.x = self.torch.from_numpy(x)
        self.w = self.torch.from_numpy(w)
        self.t = self.torch.from_numpy(t)
        self.options = self.torch.nn.LinearCrossEntropyOptions() if path == "chunked" else None

    def _forward_backward(self):
        x = self.x.detach().requires_grad_(True)
        w = self.w.detach().requires_grad_(True)
        loss = self.torch.nn.functional.linear_cross_entropy(x, w, self.t, options=self.options)
        loss.backward()

    def time_forward_backward(self, shape, path):
        self._forward_backward()

    def peakmem_forward_backward(self, shape, path):
        self._forward_backward()


class MatmulFloor:
    params = [SHAPES]
    param_names = ["shape"]
    timeout = 600

    def setup(self, shape):
        self.x, self.w, _ = _inputs(shape)

    def time_three_products(self, shape):
        z = self.x @ self.w.T
        z @ self.w
        z.T @ self.x

    def peakmem_three_products(self, shape):
        z = self.x @ self.w.T
        z @ self.w
        z.T @ self.x
