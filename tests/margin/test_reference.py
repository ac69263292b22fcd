"""The margin and embedding losses against plain NumPy formulas and finite differences."""

import numpy as np
import pytest

import numbaloss as nl
from numbaloss.testing.margin import (
    finite_difference,
    ref_cosine_embedding,
    ref_multi_margin,
    ref_multilabel_margin,
    ref_multilabel_soft_margin,
    ref_triplet,
    ref_triplet_cosine,
)
from tests.conftest import assert_close


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
