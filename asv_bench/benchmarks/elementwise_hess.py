"""Elementwise losses' second derivatives: value, gradient and Hessian from one call.

The gradient-boosting workload: float32 at 2*10^7 (and a small size for smoke
runs), ``reduction='sum'`` (an objective's per-element gradient and Hessian, plus the
summed loss).  Baselines, beside numbaloss in one run:

* ``NumPyObjective``: the objective users write by hand today, computing shared
  terms once (for BCE with logits ``p = 1 / (1 + np.exp(-x)); g = p - y;
  h = p * (1 - p)``), gradient and Hessian only;
* ``TorchDoubleBackward``: PyTorch's value, ``autograd.grad(..., create_graph=True)``
  and the diagonal as the gradient of ``grad.sum()`` (the Hessian is diagonal).

Every loss with ``hessian=True`` in the elementwise family of the registry has a
NumPy objective: written here where shared terms can be computed once, else the test
table's NumPy gradient and Hessian (a module-level check says which is missing).
"""

import numpy as np

import numbaloss as nl
from numbaloss._core import registry
from numbaloss.testing.elementwise import CASES

from .common import as_tuple, rng, torch_or_skip

SIZES = [1000, 20_000_000]
NAMES = registry.names("elementwise", with_hessian=True)


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _l1(x, y):
    return np.sign(x - y), np.zeros_like(x)


def _mse(x, y):
    d = x - y
    return 2 * d, np.full_like(x, 2)


def _smooth_l1(x, y, beta=1.0):
    d = x - y
    inside = np.abs(d) < beta
    return np.where(inside, d / beta, np.sign(d)), np.where(inside, 1 / beta, 0).astype(x.dtype)


def _huber(x, y, delta=1.0):
    d = x - y
    return np.clip(d, -delta, delta), (np.abs(d) < delta).astype(x.dtype)


def _soft_margin(x, y):
    s = _sigmoid(-y * x)
    return -y * s, y * y * s * (1 - s)


def _bce(x, y):
    return (x - y) / (x * (1 - x)), y / x**2 + (1 - y) / (1 - x) ** 2


def _bce_with_logits(x, y):
    p = _sigmoid(x)
    return p - y, p * (1 - p)


def _poisson(x, y, log_input=True, full=False, eps=1e-8):
    ex = np.exp(x)
    return ex - y, ex


def _gaussian(x, y, var, full=False, eps=1e-6):
    inv = 1 / var
    d = x - y
    d2 = d * d
    return (d * inv, 0.5 * (inv - d2 * inv * inv)), (inv, inv * inv * (d2 * inv - 0.5))


def _kl_div(x, y, log_target=False):
    return -y, np.zeros_like(x)


def _margin_ranking(x1, x2, y, margin=0.0):
    g1 = np.where(-y * (x1 - x2) + margin >= 0, -y, 0)
    return (g1, -g1), (np.zeros_like(x1), np.zeros_like(x2))


def _hinge_embedding(x, y, margin=1.0):
    g = (y != -1).astype(x.dtype) - ((y != 1) & (margin - x >= 0))
    return g, np.zeros_like(x)


def _sigmoid_focal(x, y, alpha=0.25, gamma=2.0):
    """The focal objective's gradient and Hessian as LightGBM users derive them."""
    p = _sigmoid(x)
    v = p * (1 - p)
    ce = np.maximum(x, 0) - x * y + np.log1p(np.exp(-np.abs(x)))
    q = p * (1 - y) + (1 - p) * y
    k = 1 - 2 * y
    a_t = alpha * y + (1 - alpha) * (1 - y)
    f = q**gamma
    df = gamma * q ** (gamma - 1) * k * v
    d2f = gamma * (gamma - 1) * q ** (gamma - 2) * (k * v) ** 2 + gamma * q ** (
        gamma - 1
    ) * k * v * (1 - 2 * p)
    return a_t * ((p - y) * f + ce * df), a_t * (v * f + 2 * (p - y) * df + ce * d2f)


#: The hand-written NumPy objective of each loss: ``(grad, hess)`` from the arrays and
#: the benchmark's options.
OBJECTIVES = {
    "l1_loss": _l1,
    "mse_loss": _mse,
    "smooth_l1_loss": _smooth_l1,
    "huber_loss": _huber,
    "soft_margin_loss": _soft_margin,
    "binary_cross_entropy": _bce,
    "binary_cross_entropy_with_logits": _bce_with_logits,
    "poisson_nll_loss": _poisson,
    "gaussian_nll_loss": _gaussian,
    "kl_div": _kl_div,
    "margin_ranking_loss": _margin_ranking,
    "hinge_embedding_loss": _hinge_embedding,
    "sigmoid_focal_loss": _sigmoid_focal,
}


def _from_formulas(case):
    """The objective from the test table's NumPy gradient and Hessian (one expression each).

    For the regression objectives (``pseudo_huber_loss``, ``quantile_loss``, ...) those
    are what a user writes by hand: each derivative is one NumPy expression of the
    residual or the mean, with little to share between the two.
    """

    def objective(*arrays, **options):
        return case.numpy_grad(*arrays, **options), case.numpy_hess(*arrays, **options)

    return objective


for _name in NAMES:
    if _name not in OBJECTIVES and CASES[_name].numpy_hess is not None:
        OBJECTIVES[_name] = _from_formulas(CASES[_name])
_MISSING = sorted(set(NAMES) - set(OBJECTIVES))
if _MISSING:
    raise RuntimeError(f"asv elementwise_hess: no NumPy objective for {_MISSING}")


def _workload(name, n):
    """``(function, arrays, options, names of the predictions, all argument names)``."""
    if name == "sigmoid_focal_loss":
        gen = rng()
        x = gen.standard_normal(n, dtype=np.float32) * 3
        y = (gen.random(n) < 0.1).astype(np.float32)
        return nl.sigmoid_focal_loss, (x, y), {}, ("inputs",), ("inputs", "targets")
    case = CASES[name]
    arrays = case.make(rng(), (n,), np.float32)
    return case.func, arrays, dict(case.options), case.preds, case.arrays


class Numbaloss:
    """Value, gradient and Hessian in one call (into reused buffers, as a training loop)."""

    params = [NAMES, SIZES]
    param_names = ["loss", "n"]
    timeout = 300

    def setup(self, name, n):
        self.func, self.arrays, self.options, preds, names = _workload(name, n)
        outs = [np.empty_like(self.arrays[names.index(p)]) for p in preds]
        houts = [np.empty_like(o) for o in outs]
        self.grad_out = outs[0] if len(outs) == 1 else tuple(outs)
        self.hess_out = houts[0] if len(houts) == 1 else tuple(houts)
        self.time_value_grad_hess(name, n)  # compile
        self.time_value_grad_hess_into(name, n)  # and write the buffers once

    def time_value_grad_hess(self, name, n):
        self.func(*self.arrays, reduction="sum", return_grad=True, return_hess=True, **self.options)

    def time_value_grad_hess_into(self, name, n):
        self.func(
            *self.arrays,
            reduction="sum",
            return_grad=True,
            return_hess=True,
            grad_out=self.grad_out,
            hess_out=self.hess_out,
            **self.options,
        )


class NumPyObjective:
    """The hand-written NumPy gradient and Hessian (no value)."""

    params = [NAMES, SIZES]
    param_names = ["loss", "n"]
    timeout = 300

    def setup(self, name, n):
        _, self.arrays, self.options, _, _ = _workload(name, n)
        self.objective = OBJECTIVES[name]

    def time_grad_hess(self, name, n):
        with np.errstate(all="ignore"):
            return self.objective(*self.arrays, **self.options)


class TorchDoubleBackward:
    """PyTorch: value, gradient with ``create_graph=True``, then the Hessian's diagonal."""

    params = [NAMES, SIZES]
    param_names = ["loss", "n"]
    timeout = 300

    def setup(self, name, n):
        self.torch = torch_or_skip()
        _, arrays, self.options, preds, names = _workload(name, n)
        self.tensors = [self.torch.from_numpy(a) for a in arrays]
        self.grad_index = [names.index(p) for p in preds]
        self.name = name

    def _loss(self, tensors):
        torch = self.torch
        if self.name == "sigmoid_focal_loss":
            x, y = tensors
            p = torch.sigmoid(x)
            ce = torch.nn.functional.binary_cross_entropy_with_logits(x, y, reduction="none")
            p_t = p * y + (1 - p) * (1 - y)
            return ((0.25 * y + 0.75 * (1 - y)) * ce * (1 - p_t) ** 2.0).sum()
        return CASES[self.name].torch_ref(torch, tensors, reduction="sum", **self.options)

    def time_value_grad_hess(self, name, n):
        torch = self.torch
        ts = list(self.tensors)
        for i in self.grad_index:
            ts[i] = ts[i].detach().requires_grad_(True)
        wrt = [ts[i] for i in self.grad_index]
        loss = self._loss(ts)
        grads = torch.autograd.grad(loss, wrt, create_graph=True)
        hess = []
        for g, t in zip(grads, wrt):
            if g.requires_grad:
                (h,) = torch.autograd.grad(g.sum(), t, retain_graph=True, allow_unused=True)
            else:  # the gradient does not depend on the prediction
                h = torch.zeros_like(t)
            hess.append(h)
        return loss.detach(), as_tuple(tuple(grads)), hess
