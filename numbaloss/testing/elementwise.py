"""The elementwise losses' reference table (NumPy formulas and PyTorch calls)."""

from dataclasses import dataclass, field

import numpy as np

import numbaloss as nl
from numbaloss._core import registry


@dataclass(frozen=True)
class Case:
    """One elementwise loss: how to call it, make its inputs and compute it otherwise."""

    name: str
    #: names of the array arguments, predictions first
    arrays: tuple
    make: object
    numpy_ref: object
    #: NumPy formula of the elementwise gradient(s) of the unreduced loss, one per pred
    numpy_grad: object
    options: dict = field(default_factory=dict)
    #: option variants the tests run (beyond ``options``); an array-valued option is
    #: a function of ``(rng, shape, dtype)``
    variants: tuple = ({},)
    #: ``torch -> function(*tensors, reduction=..., **options)`` where PyTorch's
    #: ``torch.nn.functional`` has no function of this name
    torch_function: object = None
    #: NumPy formula of the elementwise second derivative(s) of the unreduced loss,
    #: one per prediction (each with respect to its own prediction), as
    #: ``numpy_grad``; every loss with ``hessian=True`` in the registry has one
    numpy_hess: object = None

    @property
    def func(self):
        return getattr(nl, self.name)

    @property
    def preds(self):
        """The arguments that get a gradient (from the registry)."""
        return registry.entry(self.name).predictions

    def torch_ref(self, torch, arrays, reduction="none", **options):
        if self.torch_function is not None:
            return self.torch_function(torch)(*arrays, reduction=reduction, **options)
        import torch.nn.functional as F

        return getattr(F, self.name)(*arrays, reduction=reduction, **options)


def _uniform(low, high):
    """An option array of the input's shape, uniform in ``[low, high)``."""
    return lambda rng, shape, dtype: rng.uniform(low, high, shape).astype(dtype)


def _last_axis(low, high):
    """An option array along the input's last axis (broadcast), uniform in ``[low, high)``."""
    return lambda rng, shape, dtype: rng.uniform(low, high, shape[-1:]).astype(dtype)


def np_sigmoid_focal(x, y, alpha=0.25, gamma=2.0, reduction="none"):
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    p = 1 / (1 + np.exp(-x))
    ce = np.maximum(x, 0) - x * y + np.log1p(np.exp(-np.abs(x)))
    p_t = p * y + (1 - p) * (1 - y)
    loss = ce * (1 - p_t) ** gamma
    if alpha >= 0:
        loss = (alpha * y + (1 - alpha) * (1 - y)) * loss
    if reduction == "none":
        return loss
    return loss.sum() if reduction == "sum" else (loss.mean() if loss.size else np.nan)


def _sigmoid_focal_grad(x, y, alpha=0.25, gamma=2.0):
    """d/dx of a_t * ce * m**gamma, m = 1 - p_t = p (1 - y) + (1 - p) y, p = sigmoid(x).

    dce/dx = p - y and dm/dx = p (1 - p) (1 - 2 y).
    """
    p = _sigmoid(x)
    ce = _softplus(x) - x * y
    m = p * (1 - y) + (1 - p) * y
    dm = p * (1 - p) * (1 - 2 * y)
    with np.errstate(divide="ignore", invalid="ignore"):
        focal_term = np.where(gamma == 0, 0.0, gamma * m ** (gamma - 1) * dm * ce)
    g = (p - y) * m**gamma + focal_term
    if alpha >= 0:
        g = (alpha * y + (1 - alpha) * (1 - y)) * g
    return (g,)


def torchvision_sigmoid_focal(torch):
    """torchvision.ops.sigmoid_focal_loss, written in PyTorch ops (its implementation).

    Written out so that the comparison needs no torchvision, which does not install
    beside the CPU build of PyTorch 2.13 that the tests use.
    """

    def sigmoid_focal_loss(inputs, targets, alpha=0.25, gamma=2.0, reduction="none"):
        p = torch.sigmoid(inputs)
        ce = torch.nn.functional.binary_cross_entropy_with_logits(inputs, targets, reduction="none")
        p_t = p * targets + (1 - p) * (1 - targets)
        loss = ce * ((1 - p_t) ** gamma)
        if alpha >= 0:
            loss = (alpha * targets + (1 - alpha) * (1 - targets)) * loss
        if reduction == "mean":
            return loss.mean()
        if reduction == "sum":
            return loss.sum()
        return loss

    return sigmoid_focal_loss


def _labels_and_soft_labels(rng, shape, dtype):
    """Mostly 0/1 labels, with some soft labels in between."""
    # np.asarray: a 0-d shape gives a NumPy scalar, which takes no item assignment
    y = np.asarray(rng.random(shape) < 0.3).astype(dtype)
    soft = np.asarray(rng.random(shape) < 0.2)
    y[soft] = rng.uniform(0.05, 0.95, int(soft.sum())).astype(dtype)
    return y


def np_sigmoid_focal_hess(x, y, alpha=0.25, gamma=2.0):
    """The second derivative of :func:`np_sigmoid_focal` (unreduced) in ``x``, from
    ``(ce f)'' = ce'' f + 2 ce' f' + ce f''`` with ``f = q**gamma``, ``q = 1 - p_t``."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    s = _sigmoid(x)
    v = s * (1 - s)
    ce = np.maximum(x, 0) - x * y + np.log1p(np.exp(-np.abs(x)))
    q = s * (1 - y) + (1 - s) * y
    dq = (1 - 2 * y) * v
    d2q = (1 - 2 * y) * v * (1 - 2 * s)
    with np.errstate(divide="ignore", invalid="ignore"):
        f = q**gamma
        df = gamma * q ** (gamma - 1) * dq if gamma else 0 * x
        d2f = (
            gamma * (gamma - 1) * q ** (gamma - 2) * dq**2 + gamma * q ** (gamma - 1) * d2q
            if gamma
            else 0 * x
        )
    h = v * f + 2 * (s - y) * df + ce * d2f
    if alpha >= 0:
        h = (alpha * y + (1 - alpha) * (1 - y)) * h
    return h


def _normal(rng, shape, dtype, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(dtype)


def _signs(rng, shape, dtype):
    return np.where(rng.random(shape) < 0.5, -1.0, 1.0).astype(dtype)


def _probs(rng, shape, dtype):
    return rng.uniform(0.02, 0.98, shape).astype(dtype)


def _softplus(x):
    return np.logaddexp(0.0, x)


def _sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _xlogy(x, y):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x == 0, 0.0, x * np.log(y))


def _l1(x, y, weight=None):
    w = 1.0 if weight is None else weight
    return w * np.abs(x - y)


def _mse(x, y, weight=None):
    w = 1.0 if weight is None else weight
    return w * (x - y) ** 2


def _smooth_l1(x, y, beta=1.0):
    d = np.abs(x - y)
    if beta == 0:
        return d
    return np.where(d < beta, 0.5 * d**2 / beta, d - 0.5 * beta)


def _huber(x, y, delta=1.0, weight=None):
    d = np.abs(x - y)
    w = 1.0 if weight is None else weight
    return w * np.where(d < delta, 0.5 * d**2, delta * (d - 0.5 * delta))


def _soft_margin(x, y):
    return _softplus(-y * x)


def _bce(x, y, weight=None):
    with np.errstate(divide="ignore"):
        lx = np.maximum(np.log(x), -100.0)
        l1x = np.maximum(np.log1p(-x), -100.0)
    w = 1.0 if weight is None else weight
    return -w * (y * lx + (1 - y) * l1x)


def _bce_logits(x, y, weight=None, pos_weight=None):
    w = 1.0 if weight is None else weight
    pw = 1.0 if pos_weight is None else pos_weight
    return w * ((1 - y) * x + (1 + (pw - 1) * y) * _softplus(-x))


def _poisson(x, y, log_input=True, full=False, eps=1e-8):
    loss = np.exp(x) - y * x if log_input else x - y * np.log(x + eps)
    if full:
        with np.errstate(divide="ignore", invalid="ignore"):
            stirling = y * np.log(y) - y + 0.5 * np.log(2 * np.pi * y)
        loss = loss + np.where(y > 1, stirling, 0.0)
    return loss


def _gaussian(x, y, var, full=False, eps=1e-6):
    v = np.maximum(np.asarray(var, dtype=np.float64), eps)
    if v.ndim == x.ndim - 1 and v.shape == x.shape[:-1]:
        v = v[..., None]
    loss = 0.5 * (np.log(v) + (x - y) ** 2 / v)
    if full:
        loss = loss + 0.5 * np.log(2 * np.pi)
    return np.broadcast_to(loss, x.shape)


def _kl(x, y, log_target=False):
    if log_target:
        return np.exp(y) * (y - x)
    return _xlogy(y, y) - y * x


def _margin_ranking(x1, x2, y, margin=0.0):
    return np.maximum(0.0, -y * (x1 - x2) + margin)


def _hinge_embedding(x, y, margin=1.0):
    return np.where(y != -1, x, 0.0) + np.where(y != 1, np.maximum(0.0, margin - x), 0.0)


def _smooth_l1_grad(x, y, beta=1.0):
    d = x - y
    if beta == 0:
        return (np.sign(d),)
    return (np.where(np.abs(d) < beta, d / beta, np.sign(d)),)


def _huber_grad(x, y, delta=1.0, weight=None):
    w = 1.0 if weight is None else weight
    return (w * np.clip(x - y, -delta, delta),)


def _bce_grad(x, y, weight=None):
    w = 1.0 if weight is None else weight
    return (w * (-y / x + (1 - y) / (1 - x)),)


def _bce_logits_grad(x, y, weight=None, pos_weight=None):
    w = 1.0 if weight is None else weight
    pw = 1.0 if pos_weight is None else pos_weight
    return (w * ((1 - y) - (1 + (pw - 1) * y) * _sigmoid(-x)),)


def _poisson_grad(x, y, log_input=True, full=False, eps=1e-8):
    return (np.exp(x) - y,) if log_input else (1 - y / (x + eps),)


def _gaussian_grad(x, y, var, full=False, eps=1e-6):
    v = np.asarray(var, dtype=np.float64)
    active = v >= eps
    v = np.maximum(v, eps)
    d2 = (x - y) ** 2
    return ((x - y) / v, np.where(active, 0.5 * (1 / v - d2 / v**2), 0.0))


def _margin_ranking_grad(x1, x2, y, margin=0.0):
    active = (-y * (x1 - x2) + margin) >= 0
    return (np.where(active, -y, 0.0), np.where(active, y, 0.0))


def _hinge_embedding_grad(x, y, margin=1.0):
    return ((y != -1) - ((y != 1) & (margin - x >= 0)).astype(np.float64),)


# --- second derivatives (0 on the linear pieces and at the kinks) ----------------------


def _zero_hess(x, *args, **options):
    return (np.zeros_like(x),)


def _mse_hess(x, y, weight=None):
    return ((1.0 if weight is None else weight) * 2.0 + 0 * x,)


def _smooth_l1_hess(x, y, beta=1.0):
    if beta == 0:
        return (np.zeros_like(x),)
    return (np.where(np.abs(x - y) < beta, 1.0 / beta, 0.0),)


def _huber_hess(x, y, delta=1.0, weight=None):
    w = 1.0 if weight is None else weight
    return (w * np.where(np.abs(x - y) < delta, 1.0, 0.0),)


def _soft_margin_hess(x, y):
    return (y**2 * _sigmoid(y * x) * _sigmoid(-y * x),)


def _bce_hess(x, y, weight=None):
    w = 1.0 if weight is None else weight
    return (w * (y / x**2 + (1 - y) / (1 - x) ** 2),)


def _bce_logits_hess(x, y, weight=None, pos_weight=None):
    w = 1.0 if weight is None else weight
    pw = 1.0 if pos_weight is None else pos_weight
    return (w * (1 + (pw - 1) * y) * _sigmoid(x) * _sigmoid(-x),)


def _poisson_hess(x, y, log_input=True, full=False, eps=1e-8):
    return (np.exp(x),) if log_input else (y / (x + eps) ** 2,)


def _gaussian_hess(x, y, var, full=False, eps=1e-6):
    v = np.asarray(var, dtype=np.float64)
    active = v >= eps
    v = np.maximum(v, eps)
    d2 = (x - y) ** 2
    return (1 / v + 0 * x, np.where(active, d2 / v**3 - 0.5 / v**2, 0.0))


def _margin_ranking_hess(x1, x2, y, margin=0.0):
    return (np.zeros_like(x1), np.zeros_like(x2))


#: The elementwise losses of the registry, which the table below drives through the
#: common tests (``tests/core/test_registry.py`` fails naming any without a Case).
NAMES = registry.names("elementwise")

CASES = {
    c.name: c
    for c in [
        Case(
            "l1_loss",
            ("input", "target"),
            lambda r, s, d: (_normal(r, s, d), _normal(r, s, d)),
            _l1,
            lambda x, y, weight=None: ((1.0 if weight is None else weight) * np.sign(x - y),),
            variants=({}, {"weight": _uniform(0.1, 2)}),
            numpy_hess=_zero_hess,
        ),
        Case(
            "mse_loss",
            ("input", "target"),
            lambda r, s, d: (_normal(r, s, d), _normal(r, s, d)),
            _mse,
            lambda x, y, weight=None: ((1.0 if weight is None else weight) * 2 * (x - y),),
            variants=({}, {"weight": _uniform(0.1, 2)}),
            numpy_hess=_mse_hess,
        ),
        Case(
            "smooth_l1_loss",
            ("input", "target"),
            lambda r, s, d: (_normal(r, s, d), _normal(r, s, d)),
            _smooth_l1,
            _smooth_l1_grad,
            {"beta": 0.7},
            variants=({"beta": 1.0}, {"beta": 0.25}, {"beta": 0.0}),
            numpy_hess=_smooth_l1_hess,
        ),
        Case(
            "huber_loss",
            ("input", "target"),
            lambda r, s, d: (_normal(r, s, d), _normal(r, s, d)),
            _huber,
            _huber_grad,
            {"delta": 0.8},
            variants=({"delta": 1.0}, {"delta": 0.3}, {"delta": 0.5, "weight": _uniform(0.1, 2)}),
            numpy_hess=_huber_hess,
        ),
        Case(
            "soft_margin_loss",
            ("input", "target"),
            lambda r, s, d: (_normal(r, s, d, 2.0), _signs(r, s, d)),
            _soft_margin,
            lambda x, y: (-y * _sigmoid(-y * x),),
            variants=({},),
            numpy_hess=_soft_margin_hess,
        ),
        Case(
            "binary_cross_entropy",
            ("input", "target"),
            lambda r, s, d: (_probs(r, s, d), _probs(r, s, d)),
            _bce,
            _bce_grad,
            variants=({}, {"weight": _last_axis(0.2, 2)}, {"weight": _uniform(0.2, 2)}),
            numpy_hess=_bce_hess,
        ),
        Case(
            "binary_cross_entropy_with_logits",
            ("input", "target"),
            lambda r, s, d: (_normal(r, s, d, 3.0), _probs(r, s, d)),
            _bce_logits,
            _bce_logits_grad,
            variants=(
                {},
                {"weight": _uniform(0.2, 2)},
                {"pos_weight": _last_axis(0.5, 3)},
                {"weight": _last_axis(0.2, 2), "pos_weight": _last_axis(0.5, 3)},
            ),
            numpy_hess=_bce_logits_hess,
        ),
        Case(
            "poisson_nll_loss",
            ("input", "target"),
            lambda r, s, d: (_normal(r, s, d), r.poisson(2.0, s).astype(d)),
            _poisson,
            _poisson_grad,
            variants=(
                {"log_input": True, "full": False},
                {"log_input": True, "full": True},
                {"log_input": False, "full": False, "eps": 1e-3},
                {"log_input": False, "full": True},
            ),
            numpy_hess=_poisson_hess,
        ),
        Case(
            "gaussian_nll_loss",
            ("input", "target", "var"),
            lambda r, s, d: (_normal(r, s, d), _normal(r, s, d), r.uniform(0.2, 2.0, s).astype(d)),
            _gaussian,
            _gaussian_grad,
            variants=({}, {"full": True}, {"eps": 0.5}),
            numpy_hess=_gaussian_hess,
        ),
        Case(
            "kl_div",
            ("input", "target"),
            lambda r, s, d: (np.log(_probs(r, s, d)), _probs(r, s, d)),
            _kl,
            lambda x, y, log_target=False: (-(np.exp(y) if log_target else y) + 0 * x,),
            variants=({"log_target": False}, {"log_target": True}),
            numpy_hess=_zero_hess,
        ),
        Case(
            "margin_ranking_loss",
            ("input1", "input2", "target"),
            lambda r, s, d: (_normal(r, s, d), _normal(r, s, d), _signs(r, s, d)),
            _margin_ranking,
            _margin_ranking_grad,
            {"margin": 0.3},
            variants=({"margin": 0.0}, {"margin": 0.5}),
            numpy_hess=_margin_ranking_hess,
        ),
        Case(
            "hinge_embedding_loss",
            ("input", "target"),
            lambda r, s, d: (_normal(r, s, d, 2.0), _signs(r, s, d)),
            _hinge_embedding,
            _hinge_embedding_grad,
            variants=({"margin": 1.0}, {"margin": 0.25}),
            numpy_hess=_zero_hess,
        ),
        Case(
            "sigmoid_focal_loss",
            ("inputs", "targets"),
            lambda r, s, d: (_normal(r, s, d, 3.0), _labels_and_soft_labels(r, s, d)),
            lambda x, y, alpha=0.25, gamma=2.0: np_sigmoid_focal(x, y, alpha, gamma),
            _sigmoid_focal_grad,
            variants=(
                {},
                {"alpha": -1.0, "gamma": 0.0},
                {"alpha": 0.5, "gamma": 0.5},
                {"alpha": 0.25, "gamma": 3.0},
            ),
            torch_function=torchvision_sigmoid_focal,
            numpy_hess=lambda x, y, alpha=0.25, gamma=2.0: (
                np_sigmoid_focal_hess(x, y, alpha, gamma),
            ),
        ),
    ]
}

#: The NumPy reference of each loss (see ``tests/core/test_registry.py``).
REFERENCES = {name: case.numpy_ref for name, case in CASES.items()}
#: The NumPy second derivatives of each loss with ``hessian=True`` in the registry
#: (``tests/elementwise/test_hessians.py`` checks that every one has an entry).
HESSIANS = {name: case.numpy_hess for name, case in CASES.items() if case.numpy_hess}
