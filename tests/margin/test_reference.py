"""The margin and embedding losses against plain NumPy formulas and finite differences."""

import numpy as np
import pytest

import numbaloss as nl
from numbaloss.testing.margin import finite_difference
from tests.conftest import assert_close


def ref_multi_margin(x, y, p=1, margin=1.0, weight=None):
    n, c = x.shape
    w = np.ones(c) if weight is None else weight
    out = np.zeros(n)
    for i in range(n):
        for j in range(c):
            z = margin - x[i, y[i]] + x[i, j]
            if j != y[i] and z > 0:
                out[i] += w[y[i]] * z**p
    return out / c


def ref_multilabel_margin(x, target):
    n, c = x.shape
    out = np.zeros(n)
    for i in range(n):
        labels = []
        for label in target[i]:
            if label < 0:
                break
            labels.append(label)
        others = [j for j in range(c) if j not in labels]
        out[i] = sum(max(0.0, 1 - x[i, k] + x[i, j]) for k in labels for j in others) / c
    return out


def ref_multilabel_soft_margin(x, y, weight=None):
    w = np.ones(x.shape[-1]) if weight is None else weight
    loss = y * np.logaddexp(0, -x) + (1 - y) * np.logaddexp(0, x)
    return (w * loss).mean(axis=-1)


def ref_cosine_embedding(a, b, t, margin=0.0):
    eps = float(np.float32(1e-12))
    cos = (a * b).sum(-1) / np.sqrt(((a * a).sum(-1) + eps) * ((b * b).sum(-1) + eps))
    return np.where(t == 1, 1 - cos, np.where(t == -1, np.maximum(cos - margin, 0), 0))


def ref_triplet(a, p, n, margin=1.0, norm=2, eps=1e-6, swap=False):
    def dist(u, v):
        return np.linalg.norm(u - v + eps, ord=norm, axis=-1)

    d_neg = dist(a, n)
    if swap:
        d_neg = np.minimum(d_neg, dist(p, n))
    return np.maximum(margin + dist(a, p) - d_neg, 0)


def ref_cosine_distance(x, y):
    nx = np.maximum(np.linalg.norm(x, axis=-1), 1e-8)
    ny = np.maximum(np.linalg.norm(y, axis=-1), 1e-8)
    return 1 - (x * y).sum(-1) / (nx * ny)


def ref_triplet_cosine(a, p, n, margin=1.0, swap=False):
    d_neg = ref_cosine_distance(a, n)
    if swap:
        d_neg = np.minimum(d_neg, ref_cosine_distance(p, n))
    return np.maximum(margin + ref_cosine_distance(a, p) - d_neg, 0)


def check(func, ref, preds, others, kwargs, rng, ref_kwargs=None):
    """Values vs the NumPy formula; gradients of sum(g * loss) vs central differences."""
    ref_kwargs = kwargs if ref_kwargs is None else ref_kwargs
    expected = ref(*preds, *others, **ref_kwargs)
    assert_close(func(*preds, *others, **kwargs, reduction="none"), expected, np.float64)
    assert_close(func(*preds, *others, **kwargs, reduction="sum"), expected.sum(), np.float64)
    assert_close(func(*preds, *others, **kwargs, reduction="mean"), expected.mean(), np.float64)
    g = rng.uniform(0.5, 1.5, size=expected.shape)
    _, grads = func(*preds, *others, **kwargs, reduction="none", return_grad=True, grad_output=g)
    grads = grads if isinstance(grads, tuple) else (grads,)
    numeric = finite_difference(
        lambda *ps: float((g * ref(*ps, *others, **ref_kwargs)).sum()), preds
    )
    for grad, num in zip(grads, numeric):
        assert_close(grad, num, np.float64, rtol=1e-6, atol=1e-7)


def away_from_kinks(values, kinks, distance=1e-3):
    return all(np.min(np.abs(values - k)) > distance for k in kinks)


@pytest.mark.parametrize("p", [1, 2])
def test_multi_margin_reference(rng, p):
    x = rng.normal(size=(6, 5))
    y = rng.integers(0, 5, 6)
    w = rng.uniform(0.5, 2, 5)
    z = 0.8 - x[np.arange(6), y][:, None] + x
    assert away_from_kinks(z, [0])
    check(nl.multi_margin_loss, ref_multi_margin, [x], [y], dict(p=p, margin=0.8, weight=w), rng)


def test_multilabel_margin_reference(rng):
    x = rng.normal(size=(5, 6))
    target = np.array(
        [
            [0, 3, -1, 2, 2, 5],
            [5, -1, 0, 0, 0, 0],
            [-1, 1, 1, 1, 1, 1],
            [1, 2, 3, 0, 4, 5],
            [4, 4, -1, -1, -1, -1],
        ]
    )
    check(nl.multilabel_margin_loss, ref_multilabel_margin, [x], [target], {}, rng)


def test_multilabel_soft_margin_reference(rng):
    x = rng.normal(size=(4, 6)) * 3
    y = rng.uniform(0, 1, size=(4, 6))
    w = rng.uniform(0.5, 2, 6)
    check(nl.multilabel_soft_margin_loss, ref_multilabel_soft_margin, [x], [y], dict(weight=w), rng)
    # any (..., C) shape: the classes are the last axis
    x3, y3 = rng.normal(size=(2, 2, 3, 4))
    assert_close(
        nl.multilabel_soft_margin_loss(x3, y3, reduction="none"),
        ref_multilabel_soft_margin(x3, y3),
        np.float64,
    )


@pytest.mark.parametrize("margin", [0.0, -0.3])
def test_cosine_embedding_reference(rng, margin):
    a, b = rng.normal(size=(2, 6, 4))
    t = np.array([1, -1, 1, -1, -1, 1])
    check(nl.cosine_embedding_loss, ref_cosine_embedding, [a, b], [t], dict(margin=margin), rng)


@pytest.mark.parametrize("norm", [2, 1, 3, 0.7, np.inf])
@pytest.mark.parametrize("swap", [False, True])
def test_triplet_reference(rng, norm, swap):
    a, p, n = rng.normal(size=(3, 5, 4))
    a = a * 0.3  # keep the hinges active in most rows
    kwargs = dict(margin=2.0, p=norm, eps=1e-6, swap=swap)
    check(
        nl.triplet_margin_loss,
        ref_triplet,
        [a, p, n],
        [],
        kwargs,
        rng,
        ref_kwargs=dict(margin=2.0, norm=norm, eps=1e-6, swap=swap),
    )


@pytest.mark.parametrize("swap", [False, True])
def test_triplet_with_distance_reference(rng, swap):
    a, p, n = rng.normal(size=(3, 5, 4))
    check(
        nl.triplet_margin_with_distance_loss,
        ref_triplet_cosine,
        [a, p, n],
        [],
        dict(distance_function="cosine", margin=0.9, swap=swap),
        rng,
        ref_kwargs=dict(margin=0.9, swap=swap),
    )
    check(
        nl.triplet_margin_with_distance_loss,
        ref_triplet,
        [a, p, n],
        [],
        dict(distance_function="euclidean", margin=1.9, swap=swap),
        rng,
        ref_kwargs=dict(margin=1.9, swap=swap),
    )
