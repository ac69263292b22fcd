"""Margin and embedding losses: numbaloss value+gradient, PyTorch CPU forward+backward, NumPy.

All three time the same float32 arrays: ``(n, 128)`` embeddings for the metric-learning
losses and ``(n, 100)`` class scores for the multi-class ones.  The NumPy baseline
evaluates each loss and its gradient as plain array expressions.
"""

import numpy as np

import numbaloss as nl
from numbaloss._core import registry

from .common import rng, torch_or_skip

SIZES = [1024, 65536]
EMBED = 128
CLASSES = 100
MARGIN = 1.0
EPS = 1e-6


def _embeddings(n, count):
    return list(rng().standard_normal((count, n, EMBED), dtype=np.float32))


def _scores(n):
    return rng().standard_normal((n, CLASSES), dtype=np.float32)


def _multilabel_targets(n):
    """Up to 5 classes per row, then -1 padding."""
    gen = rng()
    target = np.full((n, CLASSES), -1, dtype=np.int64)
    counts = gen.integers(0, 6, n)
    for k in range(5):
        rows = counts > k
        target[rows, k] = gen.integers(0, CLASSES, rows.sum())
    return target


# --- NumPy baselines: loss and gradient as array expressions ---------------------------------


def _np_triplet(a, p, n):
    dp_vec = a - p + EPS
    dn_vec = a - n + EPS
    dp = np.sqrt((dp_vec * dp_vec).sum(1))
    dn = np.sqrt((dn_vec * dn_vec).sum(1))
    v = MARGIN + dp - dn
    g = ((v >= 0) / len(v)).astype(a.dtype)[:, None]
    up = dp_vec / dp[:, None]
    un = dn_vec / dn[:, None]
    return np.maximum(v, 0).mean(), (g * (up - un), -g * up, g * un)


def _np_cosine_distance_triplet(a, p, n):
    def dist(x, y):
        nx = np.linalg.norm(x, axis=1)
        ny = np.linalg.norm(y, axis=1)
        sim = (x * y).sum(1) / (nx * ny)
        gx = -(y / (nx * ny)[:, None] - (sim / nx**2)[:, None] * x)
        gy = -(x / (nx * ny)[:, None] - (sim / ny**2)[:, None] * y)
        return 1 - sim, gx, gy

    dp, gpa, gpp = dist(a, p)
    dn, gna, gnn = dist(a, n)
    v = MARGIN + dp - dn
    g = ((v >= 0) / len(v)).astype(a.dtype)[:, None]
    return np.maximum(v, 0).mean(), (g * (gpa - gna), g * gpp, -g * gnn)


def _np_cosine_embedding(a, b, t):
    dot = (a * b).sum(1)
    sq1 = (a * a).sum(1) + 1e-12
    sq2 = (b * b).sum(1) + 1e-12
    denom = np.sqrt(sq1 * sq2)
    cos = dot / denom
    loss = np.where(t == 1, 1 - cos, np.maximum(cos, 0))
    slope = np.where(t == 1, -1.0, (cos >= 0) * 1.0) / len(t)
    g1 = (slope / denom)[:, None] * b - (slope * cos / sq1)[:, None] * a
    g2 = (slope / denom)[:, None] * a - (slope * cos / sq2)[:, None] * b
    return loss.mean(), (g1, g2)


def _np_multi_margin(x, y):
    n, c = x.shape
    rows = np.arange(n)
    z = MARGIN - x[rows, y][:, None] + x
    z[rows, y] = 0
    active = z > 0
    loss = (z * active).sum(1) / c
    grad = active / (c * n)
    grad[rows, y] = -active.sum(1) / (c * n)
    return loss.mean(), grad.astype(x.dtype)


def _np_multilabel_soft_margin(x, y):
    loss = (y * np.logaddexp(0, -x) + (1 - y) * np.logaddexp(0, x)).mean(1)
    grad = (1 / (1 + np.exp(-x)) - y) / x.size
    return loss.mean(), grad


def _np_multilabel_margin(x, target):
    n, c = x.shape
    rows = np.arange(n)
    is_target = np.zeros((n, c), dtype=bool)
    leading = np.cumprod(target >= 0, axis=1).astype(bool)
    for k in range(5):
        is_target[rows[leading[:, k]], target[leading[:, k], k]] = True
    loss = np.zeros(n)
    grad = np.zeros_like(x)
    for k in range(5):
        valid = leading[:, k]
        x_y = x[rows, np.where(valid, target[:, k], 0)]
        active = ((1 - x_y[:, None] + x) > 0) & ~is_target & valid[:, None]
        loss += ((1 - x_y[:, None] + x) * active).sum(1)
        grad += active
        grad[rows, np.where(valid, target[:, k], 0)] -= active.sum(1)
    return loss.mean() / c, grad / (n * c)


# --- the cases: (make arrays, numbaloss, torch, numpy) -------------------------------------------


def _case_triplet(n):
    return _embeddings(n, 3)


def _case_cosine(n):
    a, b = _embeddings(n, 2)
    t = np.where(rng().random(n) < 0.5, 1.0, -1.0).astype(np.float32)
    return [a, b, t]


def _case_multi_margin(n):
    return [_scores(n), rng().integers(0, CLASSES, n)]


def _case_soft_margin(n):
    return [_scores(n), (rng().random((n, CLASSES)) < 0.1).astype(np.float32)]


def _case_multilabel(n):
    return [_scores(n), _multilabel_targets(n)]


CASES = {
    "triplet_margin_loss": (
        _case_triplet,
        3,
        lambda arrays, **kw: nl.triplet_margin_loss(*arrays, **kw),
        lambda F, ts: F.triplet_margin_loss(*ts),
        _np_triplet,
    ),
    "triplet_margin_with_distance_loss(cosine)": (
        _case_triplet,
        3,
        lambda arrays, **kw: nl.triplet_margin_with_distance_loss(
            *arrays, distance_function="cosine", **kw
        ),
        lambda F, ts: F.triplet_margin_with_distance_loss(
            *ts, distance_function=lambda x, y: 1 - F.cosine_similarity(x, y)
        ),
        _np_cosine_distance_triplet,
    ),
    "cosine_embedding_loss": (
        _case_cosine,
        2,
        lambda arrays, **kw: nl.cosine_embedding_loss(*arrays, **kw),
        lambda F, ts: F.cosine_embedding_loss(*ts),
        _np_cosine_embedding,
    ),
    "multi_margin_loss": (
        _case_multi_margin,
        1,
        lambda arrays, **kw: nl.multi_margin_loss(*arrays, **kw),
        lambda F, ts: F.multi_margin_loss(*ts),
        _np_multi_margin,
    ),
    "multilabel_soft_margin_loss": (
        _case_soft_margin,
        1,
        lambda arrays, **kw: nl.multilabel_soft_margin_loss(*arrays, **kw),
        lambda F, ts: F.multilabel_soft_margin_loss(*ts),
        _np_multilabel_soft_margin,
    ),
    "multilabel_margin_loss": (
        _case_multilabel,
        1,
        lambda arrays, **kw: nl.multilabel_margin_loss(*arrays, **kw),
        lambda F, ts: F.multilabel_margin_loss(*ts),
        _np_multilabel_margin,
    ),
}
NAMES = list(CASES)
# Every margin loss of the registry has a case here (a new one fails at import).
_MISSING = set(registry.names("margin")) - {name.split("(")[0] for name in CASES}
assert not _MISSING, f"no margin benchmark case for {sorted(_MISSING)}"


class Numbaloss:
    params = [NAMES, SIZES]
    param_names = ["loss", "n"]
    timeout = 300

    def setup(self, name, n):
        make, _, self.func, _, _ = CASES[name]
        self.arrays = make(n)
        self.func(self.arrays, return_grad=True)  # compile (or load from the cache)
        self.func(self.arrays)

    def time_value(self, name, n):
        self.func(self.arrays)

    def time_value_and_grad(self, name, n):
        self.func(self.arrays, return_grad=True)


class Torch:
    params = [NAMES, SIZES]
    param_names = ["loss", "n"]
    timeout = 300

    def setup(self, name, n):
        self.torch = torch_or_skip()
        self.F = self.torch.nn.functional
        make, self.n_preds, _, self.func, _ = CASES[name]
        self.tensors = [self.torch.from_numpy(np.ascontiguousarray(a)) for a in make(n)]

    def _inputs(self):
        return [
            t.detach().requires_grad_(True) if i < self.n_preds else t
            for i, t in enumerate(self.tensors)
        ]

    def time_forward(self, name, n):
        with self.torch.no_grad():
            self.func(self.F, self.tensors)

    def time_forward_backward(self, name, n):
        self.func(self.F, self._inputs()).backward()


class NumPy:
    params = [NAMES, SIZES]
    param_names = ["loss", "n"]
    timeout = 300

    def setup(self, name, n):
        make, _, _, _, self.func = CASES[name]
        self.arrays = make(n)

    def time_value_and_grad(self, name, n):
        self.func(*self.arrays)
