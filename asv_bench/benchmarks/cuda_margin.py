"""Margin family on a CUDA GPU: numbaloss value+gradient beside PyTorch CUDA forward+backward.

Skipped (``NotImplementedError`` in setup, asv's skip) where no GPU is usable.  Each
timed method waits for the GPU before returning, so asv's wall clock covers the
kernels.  Shapes are ``"NxC"`` strings: ``N`` rows of ``C`` float32 scores (or
embeddings of width ``C``), made on the host and copied to the device once in setup,
with int64 class indices (``multi_margin_loss``), ``-1``-padded index rows
(``multilabel_margin_loss``), 0/1 targets (``multilabel_soft_margin_loss``), ±1
labels (``cosine_embedding_loss``) and three embeddings (``triplet_margin_loss``,
p = 2).  All with ``reduction='mean'``.
"""

import numpy as np

from .common import cuda_or_skip, rng

SHAPES = ["1000x10", "16384x512"]
LOSSES = [
    "multi_margin_loss",
    "multilabel_margin_loss",
    "multilabel_soft_margin_loss",
    "cosine_embedding_loss",
    "triplet_margin_loss",
]


def _torch_or_skip():
    try:
        import torch
    except ImportError as exc:
        raise NotImplementedError("PyTorch is not installed") from exc
    if not torch.cuda.is_available():
        raise NotImplementedError("PyTorch has no CUDA device")
    return torch


def _host_arrays(loss, shape):
    """``(predictions, other arguments)`` of one loss, on the host."""
    n, c = (int(v) for v in shape.split("x"))
    gen = rng()
    x = gen.standard_normal((n, c), dtype=np.float32)
    if loss == "multi_margin_loss":
        return [x], [gen.integers(0, c, n)]
    if loss == "multilabel_margin_loss":
        t = np.full((n, c), -1, dtype=np.int64)
        k = min(3, c)
        t[:, :k] = np.argsort(gen.random((n, c)), axis=1)[:, :k]
        return [x], [t]
    if loss == "multilabel_soft_margin_loss":
        return [x], [(gen.random((n, c)) < 0.3).astype(np.float32)]
    if loss == "cosine_embedding_loss":
        x2 = gen.standard_normal((n, c), dtype=np.float32)
        return [x, x2], [gen.choice(np.array([1, -1]), n)]
    p = gen.standard_normal((n, c), dtype=np.float32)
    neg = gen.standard_normal((n, c), dtype=np.float32)
    return [x, p, neg], []


class NumbalossCUDA:
    params = [LOSSES, SHAPES]
    param_names = ["loss", "shape"]
    timeout = 300

    def setup(self, loss, shape):
        import numbaloss as nl

        self.cuda = cuda_or_skip()
        preds, others = _host_arrays(loss, shape)
        self.args = [self.cuda.to_device(a) for a in preds + others]
        self.func = getattr(nl, loss)
        self.func(*self.args, return_grad=True)  # compile
        self.func(*self.args)
        self.cuda.synchronize()

    def time_value(self, loss, shape):
        self.func(*self.args)
        self.cuda.synchronize()

    def time_value_and_grad(self, loss, shape):
        self.func(*self.args, return_grad=True)
        self.cuda.synchronize()


class TorchCUDA:
    """PyTorch forward + backward (autograd) on the same device data."""

    params = [LOSSES, SHAPES]
    param_names = ["loss", "shape"]
    timeout = 300

    def setup(self, loss, shape):
        self.torch = _torch_or_skip()
        preds, others = _host_arrays(loss, shape)
        self.preds = [self.torch.as_tensor(a, device="cuda") for a in preds]
        self.others = [self.torch.as_tensor(a, device="cuda") for a in others]
        self.func = getattr(self.torch.nn.functional, loss)
        self.time_forward_backward(loss, shape)

    def time_forward_backward(self, loss, shape):
        preds = [p.detach().requires_grad_(True) for p in self.preds]
        self.func(*preds, *self.others).backward()
        self.torch.cuda.synchronize()
