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


# --- regression objectives (no PyTorch counterpart: PyTorch formulations of their own) ---


def _torch_objective(formula):
    """``torch -> function(input, target, reduction=..., **options)`` from
    ``formula(torch, input, target, **options)``, the unreduced loss in PyTorch ops
    (for PyTorch's autograd, first and second order)."""

    def make(torch):
        def function(x, y, reduction="mean", **options):
            loss = formula(torch, x, y, **options)
            if reduction == "none":
                return loss
            return loss.sum() if reduction == "sum" else loss.mean()

        return function

    return make


def _pseudo_huber(x, y, delta=1.0):
    return delta**2 * (np.sqrt(1 + ((x - y) / delta) ** 2) - 1)


def _pseudo_huber_grad(x, y, delta=1.0):
    return ((x - y) / np.sqrt(1 + ((x - y) / delta) ** 2),)


def _pseudo_huber_hess(x, y, delta=1.0):
    return ((1 + ((x - y) / delta) ** 2) ** -1.5,)


def _torch_pseudo_huber(torch, x, y, delta=1.0):
    return delta**2 * (torch.sqrt(1 + ((x - y) / delta) ** 2) - 1)


def _quantile(x, y, quantile=0.5):
    r = x - y
    return np.where(r >= 0, (1 - quantile) * r, -quantile * r)


def _quantile_grad(x, y, quantile=0.5):
    return (np.where(x - y >= 0, 1 - quantile, -quantile),)


def _torch_quantile(torch, x, y, quantile=0.5):
    r = x - y
    return torch.where(r >= 0, (1 - quantile) * r, -quantile * r)


def _expectile_weight(r, expectile):
    return np.where(r >= 0, 1 - expectile, expectile)


def _expectile(x, y, expectile=0.5):
    return _expectile_weight(x - y, expectile) * (x - y) ** 2


def _expectile_grad(x, y, expectile=0.5):
    return (2 * _expectile_weight(x - y, expectile) * (x - y),)


def _expectile_hess(x, y, expectile=0.5):
    return (2 * _expectile_weight(x - y, expectile),)


def _torch_expectile(torch, x, y, expectile=0.5):
    r = x - y
    return torch.where(r >= 0, (1 - expectile) * r**2, expectile * r**2)


def _log_cosh(x, y):
    # -log1p(-tanh(r)**2) / 2 where |r| < 1, |r| + log1p(exp(-2|r|)) - log 2 above:
    # each form where it keeps its relative precision
    a = np.abs(x - y)
    with np.errstate(over="ignore", divide="ignore"):
        inner = -0.5 * np.log1p(-(np.tanh(a) ** 2))
    return np.where(a < 1, inner, a + np.log1p(np.exp(-2 * a)) - np.log(2.0))


def _log_cosh_grad(x, y):
    return (np.tanh(x - y),)


def _log_cosh_hess(x, y):
    return (1 / np.cosh(x - y) ** 2,)


def _torch_log_cosh(torch, x, y):
    # the same two forms as the NumPy reference (autograd through both is accurate;
    # log(cosh(r)) loses the digits of small residuals in float32)
    r = x - y
    a = torch.abs(r)
    small = a < 1
    # the inner form only sees small residuals: its derivative is inf where tanh(r)
    # rounds to 1, and torch.where would pass 0 * inf = NaN back from the branch it drops
    inner = -0.5 * torch.log1p(-(torch.tanh(torch.where(small, r, torch.zeros_like(r))) ** 2))
    outer = a + torch.nn.functional.softplus(-2 * a) - np.log(2.0)
    return torch.where(small, inner, outer)


def _tweedie_mean(x, log_input):
    return np.exp(x) if log_input else x


def _tweedie(x, y, power=1.5, log_input=True, full=False):
    p = power
    mu = _tweedie_mean(x, log_input)
    if p == 1:
        loss = mu - y * np.log(mu)
        return loss + (_xlogy(y, y) - y if full else 0.0)
    if p == 2:
        return _gamma(x, y, log_input, full)
    loss = -y * mu ** (1 - p) / (1 - p) + mu ** (2 - p) / (2 - p)
    return loss + (y ** (2 - p) / ((1 - p) * (2 - p)) if full else 0.0)


def _tweedie_derivatives(x, y, power, log_input):
    """First and second derivatives with respect to the input."""
    p = power
    mu = _tweedie_mean(x, log_input)
    # with respect to log(mu)
    g = mu ** (2 - p) - y * mu ** (1 - p)
    h = (2 - p) * mu ** (2 - p) - (1 - p) * y * mu ** (1 - p)
    if log_input:
        return g, h
    # chain rule to mu: d/dmu = (d/dlog mu) / mu, d2/dmu2 = (h - g) / mu**2
    return g / mu, (h - g) / mu**2


def _tweedie_grad(x, y, power=1.5, log_input=True, full=False):
    return (_tweedie_derivatives(x, y, power, log_input)[0],)


def _tweedie_hess(x, y, power=1.5, log_input=True, full=False):
    return (_tweedie_derivatives(x, y, power, log_input)[1],)


def _torch_tweedie(torch, x, y, power=1.5, log_input=True, full=False):
    p = power
    log_mu = x if log_input else torch.log(x)
    if p == 2:
        return _torch_gamma(torch, x, y, log_input, full)
    if p == 1:
        loss = torch.exp(log_mu) - y * log_mu
        return loss + (torch.special.xlogy(y, y) - y if full else 0.0)
    loss = -y * torch.exp((1 - p) * log_mu) / (1 - p) + torch.exp((2 - p) * log_mu) / (2 - p)
    return loss + (y ** (2 - p) / ((1 - p) * (2 - p)) if full else 0.0)


def _gamma(x, y, log_input=True, full=False):
    mu = _tweedie_mean(x, log_input)
    loss = y / mu + np.log(mu)
    return loss - (np.log(y) + 1 if full else 0.0)


def _gamma_grad(x, y, log_input=True, full=False):
    return (_tweedie_derivatives(x, y, 2.0, log_input)[0],)


def _gamma_hess(x, y, log_input=True, full=False):
    return (_tweedie_derivatives(x, y, 2.0, log_input)[1],)


def _torch_gamma(torch, x, y, log_input=True, full=False):
    loss = y * torch.exp(-x) + x if log_input else y / x + torch.log(x)
    return loss - (torch.log(y) + 1 if full else 0.0)


def _squared_log_error(x, y):
    return (np.log1p(x) - np.log1p(y)) ** 2


def _squared_log_error_grad(x, y):
    return (2 * (np.log1p(x) - np.log1p(y)) / (1 + x),)


def _squared_log_error_hess(x, y):
    return (2 * (1 - (np.log1p(x) - np.log1p(y))) / (1 + x) ** 2,)


def _torch_squared_log_error(torch, x, y):
    # log1p((x - y) / (1 + y)) = log1p(x) - log1p(y), without its cancellation
    return torch.log1p((x - y) / (1 + y)) ** 2


def _log_means(rng, shape, dtype):
    """In [0.2, 2]: valid log-means and valid means (for ``log_input=False``)."""
    return rng.uniform(0.2, 2.0, shape).astype(dtype)


def _positive(rng, shape, dtype):
    return (rng.gamma(2.0, 1.0, shape) + 0.05).astype(dtype)


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
        Case(
            "pseudo_huber_loss",
            ("input", "target"),
            lambda r, s, d: (_normal(r, s, d, 2.0), _normal(r, s, d)),
            _pseudo_huber,
            _pseudo_huber_grad,
            {"delta": 1.0},
            variants=({"delta": 1.0}, {"delta": 0.3}, {"delta": 4.0}),
            torch_function=_torch_objective(_torch_pseudo_huber),
            numpy_hess=_pseudo_huber_hess,
        ),
        Case(
            "quantile_loss",
            ("input", "target"),
            lambda r, s, d: (_normal(r, s, d), _normal(r, s, d)),
            _quantile,
            _quantile_grad,
            {"quantile": 0.9},
            variants=({"quantile": 0.5}, {"quantile": 0.1}, {"quantile": 0.9}),
            torch_function=_torch_objective(_torch_quantile),
            numpy_hess=lambda x, y, quantile=0.5: (0 * x,),
        ),
        Case(
            "expectile_loss",
            ("input", "target"),
            lambda r, s, d: (_normal(r, s, d), _normal(r, s, d)),
            _expectile,
            _expectile_grad,
            {"expectile": 0.2},
            variants=({"expectile": 0.5}, {"expectile": 0.2}, {"expectile": 0.95}),
            torch_function=_torch_objective(_torch_expectile),
            numpy_hess=_expectile_hess,
        ),
        Case(
            "log_cosh_loss",
            ("input", "target"),
            lambda r, s, d: (_normal(r, s, d, 2.0), _normal(r, s, d)),
            _log_cosh,
            _log_cosh_grad,
            torch_function=_torch_objective(_torch_log_cosh),
            numpy_hess=_log_cosh_hess,
        ),
        Case(
            "tweedie_loss",
            ("input", "target"),
            lambda r, s, d: (_log_means(r, s, d), _positive(r, s, d)),
            _tweedie,
            _tweedie_grad,
            variants=(
                {},
                {"power": 1.2, "full": True},
                {"power": 1.8, "log_input": False},
                {"power": 1.5, "log_input": False, "full": True},
                {"power": 1.0},
                {"power": 1.0, "log_input": False, "full": True},
                {"power": 2.0, "full": True},
            ),
            torch_function=_torch_objective(_torch_tweedie),
            numpy_hess=_tweedie_hess,
        ),
        Case(
            "gamma_loss",
            ("input", "target"),
            lambda r, s, d: (_log_means(r, s, d), _positive(r, s, d)),
            _gamma,
            _gamma_grad,
            variants=(
                {},
                {"full": True},
                {"log_input": False},
                {"log_input": False, "full": True},
            ),
            torch_function=_torch_objective(_torch_gamma),
            numpy_hess=_gamma_hess,
        ),
        Case(
            "squared_log_error_loss",
            ("input", "target"),
            lambda r, s, d: (r.uniform(-0.5, 4.0, s).astype(d), r.uniform(-0.5, 4.0, s).astype(d)),
            _squared_log_error,
            _squared_log_error_grad,
            torch_function=_torch_objective(_torch_squared_log_error),
            numpy_hess=_squared_log_error_hess,
        ),
    ]
}

#: The NumPy reference of each loss (see ``tests/core/test_registry.py``).
REFERENCES = {name: case.numpy_ref for name, case in CASES.items()}
#: The NumPy second derivatives of each loss with ``hessian=True`` in the registry
#: (``tests/elementwise/test_hessians.py`` checks that every one has an entry).
HESSIANS = {name: case.numpy_hess for name, case in CASES.items() if case.numpy_hess}
