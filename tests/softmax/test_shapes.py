"""The shapes PyTorch 2.13 documents for ``CrossEntropyLoss`` and ``NLLLoss`` (their
"Shape" sections, and the ``(C)`` weight of the Args sections), each against
PyTorch; and the undocumented ones, which both refuse.
"""

import numpy as np
import pytest

import numbaloss as nl
from tests.conftest import compare_with_torch

REDUCTIONS = ["none", "mean", "sum"]

#: "Input: (C), (N, C) or (N, C, d_1, ..., d_K) with K >= 1.  Target: class indices
#: (), (N) or (N, d_1, ..., d_K); or class probabilities of the input's shape."
#: (NLLLoss: the same, without probabilities.)  ``(input shape, index target shape)``.
CLASS_FORMS = [
    ((5,), ()),
    ((4, 5), (4,)),
    ((4, 5, 3), (4, 3)),
    ((2, 5, 3, 2), (2, 3, 2)),
    ((0, 5), (0,)),
    ((4, 1), (4,)),
    ((2, 5, 0), (2, 0)),
]


def _log_softmax(x):
    m = x.max(axis=1 if x.ndim > 1 else 0, keepdims=True)
    z = x - m
    return z - np.log(np.exp(z).sum(axis=1 if x.ndim > 1 else 0, keepdims=True))


def _class_case(rng, xs, ts):
    n_classes = xs[1] if len(xs) > 1 else xs[0]
    x = np.asarray(rng.standard_normal(xs) * 2)
    t = np.asarray(rng.integers(0, n_classes, ts))
    w = rng.uniform(0.2, 2.0, (n_classes,))
    return x, t, w


def _compare(torch, rng, name, args, kwargs):
    for reduction in REDUCTIONS:
        compare_with_torch(
            torch,
            getattr(nl, name),
            getattr(torch.nn.functional, name),
            args,
            (0,),
            reduction=reduction,
            rng=rng,
            kwargs=kwargs,
        )


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize(("xs", "ts"), CLASS_FORMS, ids=str)
@pytest.mark.parametrize("name", ["cross_entropy", "nll_loss"])
def test_class_index_forms(torch, rng, name, xs, ts, weighted):
    x, t, w = _class_case(rng, xs, ts)
    if name == "nll_loss" and x.size:
        x = _log_softmax(x)
    kwargs = {"weight": w} if weighted else {}
    if t.size > 1:
        t.reshape(-1)[0] = 1 % w.size  # one target ignored, one not
        t.reshape(-1)[-1] = -100
    _compare(torch, rng, name, [x, t], kwargs)


@pytest.mark.parametrize("label_smoothing", [0.0, 0.2])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("xs", [f[0] for f in CLASS_FORMS], ids=str)
def test_class_probability_forms(torch, rng, xs, weighted, label_smoothing):
    x, _, w = _class_case(rng, xs, ())
    axis = 1 if len(xs) > 1 else 0
    p = rng.random(xs)
    p = p / np.maximum(p.sum(axis=axis, keepdims=True), 1e-300)
    kwargs = {"label_smoothing": label_smoothing, **({"weight": w} if weighted else {})}
    _compare(torch, rng, "cross_entropy", [x, p], kwargs)


#: Undocumented ``(input, target)`` shapes (class indices): both refuse.
CLASS_REFUSED = [
    ((4, 5), (4, 1)),
    ((4, 5), ()),
    ((4, 5), (5,)),
    ((4, 5, 3), (4,)),
    ((4, 5, 3), (4, 5)),
    ((), ()),
]


@pytest.mark.parametrize(("xs", "ts"), CLASS_REFUSED, ids=str)
@pytest.mark.parametrize("name", ["cross_entropy", "nll_loss"])
def test_class_index_refused(torch, rng, name, xs, ts):
    x = rng.standard_normal(xs)
    t = np.zeros(ts, dtype=np.int64)
    with pytest.raises(ValueError, match="input|target"):
        getattr(nl, name)(x, t)
    with pytest.raises((RuntimeError, ValueError, IndexError)):
        getattr(torch.nn.functional, name)(torch.tensor(x), torch.tensor(t))


@pytest.mark.parametrize("name", ["cross_entropy", "nll_loss"])
def test_weight_must_be_per_class(torch, rng, name):
    x, t, _ = _class_case(rng, (4, 5), (4,))
    for bad in [(4,), (1, 5), ()]:
        w = np.ones(bad)
        with pytest.raises(ValueError, match="weight"):
            getattr(nl, name)(x, t, weight=w)
        with pytest.raises(RuntimeError):
            getattr(torch.nn.functional, name)(
                torch.tensor(x), torch.tensor(t), weight=torch.tensor(w)
            )


def test_class_probabilities_of_another_shape_are_refused(torch, rng):
    x = rng.standard_normal((4, 5))
    with pytest.raises(ValueError, match="shape"):
        nl.cross_entropy(x, rng.random((4, 1)))
    with pytest.raises(RuntimeError):
        torch.nn.functional.cross_entropy(torch.tensor(x), torch.tensor(rng.random((4, 1))))


@pytest.mark.parametrize("name", ["cross_entropy", "nll_loss"])
def test_unbatched_target_must_be_0d(torch, rng, name):
    """An unbatched ``(C,)`` input takes a 0-d target (documented); PyTorch also takes
    ``(1,)`` (undocumented), numbaloss refuses it (docs/migration.rst)."""
    x = rng.standard_normal(5)
    with pytest.raises(ValueError, match=r"target of shape \(1,\)"):
        getattr(nl, name)(x, np.array([2]))
    loss = getattr(torch.nn.functional, name)(torch.tensor(x), torch.tensor([2]))
    assert tuple(loss.shape) == ()
