"""CTC loss on a CUDA GPU: numbaloss value+gradient beside PyTorch CUDA's ctc_loss.

Skipped (``NotImplementedError`` in setup, asv's skip) where no GPU is usable.  Each
timed method waits for the GPU before returning.  float32 log-probabilities of
shape ``(T, N, C)`` with padded targets of length ``S``, made on the host and
copied to the device once in setup.
"""

import numpy as np

from .common import cuda_or_skip, rng

#: (T, N, C, S)
SHAPES = [(50, 16, 20, 10), (200, 32, 40, 50)]


def _host_case(shape):
    t, n, c, s = shape
    gen = rng()
    z = gen.standard_normal((t, n, c)).astype(np.float32)
    z -= z.max(-1, keepdims=True)
    log_probs = z - np.log(np.exp(z).sum(-1, keepdims=True))
    targets = gen.integers(1, c, size=(n, s)).astype(np.int64)
    input_lengths = np.full(n, t, dtype=np.int64)
    target_lengths = np.full(n, s, dtype=np.int64)
    return log_probs, targets, input_lengths, target_lengths


class NumbalossCUDA:
    params = [SHAPES]
    param_names = ["T, N, C, S"]
    timeout = 300

    def setup(self, shape):
        import numbaloss

        self.cuda = cuda_or_skip()
        lp, tg, il, tl = _host_case(shape)
        self.func = numbaloss.ctc_loss
        self.args = (
            self.cuda.to_device(lp),
            self.cuda.to_device(tg),
            self.cuda.to_device(il),
            self.cuda.to_device(tl),
        )
        self.func(*self.args, return_grad=True)  # compile
        self.cuda.synchronize()

    def time_value(self, shape):
        self.func(*self.args)
        self.cuda.synchronize()

    def time_value_and_grad(self, shape):
        self.func(*self.args, return_grad=True)
        self.cuda.synchronize()


class TorchCUDA:
    params = [SHAPES]
    param_names = ["T, N, C, S"]
    timeout = 300

    def setup(self, shape):
        try:
            import torch
        except ImportError as exc:
            raise NotImplementedError("PyTorch is not installed") from exc
        if not torch.cuda.is_available():
            raise NotImplementedError("PyTorch has no CUDA device")
        self.torch = torch
        lp, tg, il, tl = _host_case(shape)
        self.log_probs = torch.as_tensor(lp, device="cuda")
        self.targets = torch.as_tensor(tg, device="cuda")
        self.il = torch.as_tensor(il, device="cuda")
        self.tl = torch.as_tensor(tl, device="cuda")

    def time_forward_backward(self, shape):
        x = self.log_probs.detach().requires_grad_(True)
        self.torch.nn.functional.ctc_loss(x, self.targets, self.il, self.tl).backward()
        self.torch.cuda.synchronize()
