"""CTC loss: numbaloss value+gradient, PyTorch CPU forward+backward, and plain NumPy.

The shapes are those of issue 5: speech-like, word-piece-like (large C) and long,
written ``TxNxCxS``.  Every sample uses all ``T`` frames and ``S`` labels; the
log-probabilities are a log_softmax of standard normal logits, in float32.
"""

import numpy as np

import numbaloss as nl
from numbaloss.testing.ctc import ctc_batch

from .common import rng, torch_or_skip

SHAPES = ["500x32x30x100", "250x16x5000x80", "2000x4x40x600"]


def make_inputs(shape):
    T, N, C, S = (int(v) for v in shape.split("x"))
    gen = rng()
    logits = gen.standard_normal((T, N, C)).astype(np.float32)
    log_probs = logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))
    targets = gen.integers(1, C, (N, S))
    return logits, log_probs.astype(np.float32), targets, np.full(N, T), np.full(N, S)


class Numbaloss:
    params = [SHAPES]
    param_names = ["shape"]
    timeout = 300

    def setup(self, shape):
        self.logits, self.log_probs, self.targets, self.il, self.tl = make_inputs(shape)
        self.time_value_and_grad(shape)  # compile (or load from the cache)
        self.time_value(shape)
        self.time_from_logits_value_and_grad(shape)

    def time_value(self, shape):
        nl.ctc_loss(self.log_probs, self.targets, self.il, self.tl)

    def time_value_and_grad(self, shape):
        nl.ctc_loss(self.log_probs, self.targets, self.il, self.tl, return_grad=True)

    def time_from_logits_value_and_grad(self, shape):
        nl.ctc_loss_from_logits(self.logits, self.targets, self.il, self.tl, return_grad=True)

    def peakmem_value_and_grad(self, shape):
        nl.ctc_loss(self.log_probs, self.targets, self.il, self.tl, return_grad=True)


class Torch:
    params = [SHAPES]
    param_names = ["shape"]
    timeout = 300

    def setup(self, shape):
        self.torch = torch_or_skip()
        logits, log_probs, targets, il, tl = make_inputs(shape)
        self.logits = self.torch.from_numpy(logits)
        self.log_probs = self.torch.from_numpy(log_probs)
        self.args = [self.torch.from_numpy(a) for a in (targets, il, tl)]

    def time_forward(self, shape):
        with self.torch.no_grad():
            self.torch.nn.functional.ctc_loss(self.log_probs, *self.args)

    def time_forward_backward(self, shape):
        lp = self.log_probs.detach().requires_grad_(True)
        self.torch.nn.functional.ctc_loss(lp, *self.args).backward()

    def time_log_softmax_forward_backward(self, shape):
        logits = self.logits.detach().requires_grad_(True)
        lp = self.torch.log_softmax(logits, -1)
        self.torch.nn.functional.ctc_loss(lp, *self.args).backward()


class NumPy:
    """The textbook recursion with ``np.logaddexp``, vectorized along the label axis."""

    params = [SHAPES]
    param_names = ["shape"]
    timeout = 600

    def setup(self, shape):
        _, self.log_probs, targets, self.il, _ = make_inputs(shape)
        self.labels = list(targets)

    def time_value_and_grad(self, shape):
        losses, grad = ctc_batch(self.log_probs, self.labels, self.il)
        return losses.mean(), grad
