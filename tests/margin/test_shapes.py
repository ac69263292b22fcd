"""The shapes PyTorch 2.13 documents for its margin and embedding losses (the "Shape"
sections of ``torch.nn``'s classes, and the ``weight`` of the Args sections), each
against PyTorch; and what happens to the others.

Every documented form (and the 0-d input that PyTorch's kernels take for the two
multi-class hinge losses) is accepted with PyTorch's value and gradient, of the
input's shape.  An undocumented form raises ``ValueError``; where PyTorch broadcasts
instead, the difference is listed in ``docs/migration.rst`` ("Differences from
PyTorch") and PyTorch's side is pinned here too.
"""

import numpy as np
import pytest

import numbaloss as nl
from tests.conftest import compare_with_torch

REDUCTIONS = ["none", "mean", "sum"]


def _scores(rng, shape):
    return np.asarray(rng.standard_normal(shape))


def _labels(rng, shape, n_classes):
    return np.asarray(rng.integers(0, n_classes, shape))


def _compare(torch, rng, name, args, grad_args, kwargs=None):
    empty_hinge = name in ("multi_margin_loss", "multilabel_margin_loss") and args[0].size == 0
    if empty_hinge:
        # An empty batch's 'mean' is NaN, as every empty mean in numbaloss (PyTorch:
        # an uninitialised value, or 0; docs/migration.rst).
        assert np.isnan(getattr(nl, name)(*args, **(kwargs or {})))
    for reduction in ["none", "sum"] if empty_hinge else REDUCTIONS:
        compare_with_torch(
            torch,
            getattr(nl, name),
            getattr(torch.nn.functional, name),
            args,
            grad_args,
            reduction=reduction,
            rng=rng,
            kwargs=kwargs,
        )


# --- multi_margin_loss --------------------------------------------------------------------

#: MultiMarginLoss: "Input: (N, C) or (C). Target: (N) or ()."  PyTorch's kernel also
#: takes an unbatched target of shape (1,), and a 0-d input (one class).
MULTI_MARGIN_FORMS = [
    ((4, 5), (4,)),
    ((5,), ()),
    ((5,), (1,)),
    ((0, 5), (0,)),
    ((4, 1), (4,)),
    ((), ()),
    ((), (1,)),
]


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize(("xs", "ts"), MULTI_MARGIN_FORMS, ids=str)
def test_multi_margin_forms(torch, rng, xs, ts, p, weighted):
    n_classes = xs[-1] if xs else 1
    x = _scores(rng, xs)
    t = _labels(rng, ts, n_classes)
    kwargs = {"p": p, "margin": 0.7}
    if weighted:
        kwargs["weight"] = np.asarray(rng.uniform(0.2, 2.0, (n_classes,)))
    _compare(torch, rng, "multi_margin_loss", [x, t], (0,), kwargs)


def test_multi_margin_0d_input_gradient_is_0d(torch):
    """The issue's case: a 0-d score and a 0-d class index (one class, loss 0)."""
    loss, grad = nl.multi_margin_loss(np.array(0.3), np.array(0), return_grad=True)
    assert float(loss) == 0.0 and grad.shape == () and float(grad) == 0.0
    loss, grad = nl.multi_margin_loss(
        np.array(0.3), np.array(0), reduction="none", return_grad=True
    )
    assert np.shape(loss) == () and grad.shape == ()
    with pytest.raises(ValueError, match="class index 1"):
        nl.multi_margin_loss(np.array(0.3), np.array(1))
    with pytest.raises(RuntimeError):
        torch.nn.functional.multi_margin_loss(torch.tensor(0.3), torch.tensor(1))


MULTI_MARGIN_REFUSED = [
    ((4, 5), (4, 1)),
    ((4, 5), ()),
    ((4, 5), (5,)),
    ((5,), (2,)),
    ((), (2,)),
    ((2, 4, 5), (2, 4)),
    ((4, 0), (4,)),
]


@pytest.mark.parametrize(("xs", "ts"), MULTI_MARGIN_REFUSED, ids=str)
def test_multi_margin_refused(torch, rng, xs, ts):
    x, t = _scores(rng, xs), np.zeros(ts, dtype=np.int64)
    with pytest.raises(ValueError, match="input|target"):
        nl.multi_margin_loss(x, t)
    with pytest.raises(RuntimeError):
        torch.nn.functional.multi_margin_loss(torch.tensor(x), torch.tensor(t))


# --- multilabel_margin_loss ---------------------------------------------------------------

#: MultiLabelMarginLoss: "Input: (C) or (N, C). Target: (C) or (N, C), label targets
#: padded by -1 ensuring same shape as the input."  PyTorch's kernel also takes a 0-d
#: input (one class) with a 0-d or (1,) target.
MULTILABEL_MARGIN_FORMS = [
    ((4, 5), (4, 5)),
    ((5,), (5,)),
    ((0, 5), (0, 5)),
    ((4, 1), (4, 1)),
    ((), ()),
    ((), (1,)),
]


def _multilabel_targets(rng, shape, n_classes):
    """Class indices padded with -1: a random number of leading labels per row."""
    t = np.full(shape, -1, dtype=np.int64)
    rows = t.reshape(-1, n_classes) if t.size else t.reshape(0, n_classes)
    for row in rows:
        k = rng.integers(0, n_classes + 1)
        row[:k] = rng.permutation(n_classes)[:k]
    return t


@pytest.mark.parametrize(("xs", "ts"), MULTILABEL_MARGIN_FORMS, ids=str)
def test_multilabel_margin_forms(torch, rng, xs, ts):
    n_classes = xs[-1] if xs else 1
    x = _scores(rng, xs)
    for _ in range(3):  # several label sets, for the one-class forms both 0 and -1
        t = _multilabel_targets(rng, ts, n_classes)
        _compare(torch, rng, "multilabel_margin_loss", [x, t], (0,))


def test_multilabel_margin_0d_input_gradient_is_0d():
    for label in (0, -1):
        loss, grad = nl.multilabel_margin_loss(np.array(1.5), np.array(label), return_grad=True)
        assert float(loss) == 0.0 and grad.shape == ()


MULTILABEL_MARGIN_REFUSED = [
    ((4, 5), (4,)),
    ((4, 5), (4, 4)),
    ((5,), (4,)),
    ((), (2,)),
    ((2, 4, 5), (2, 4, 5)),
    ((4, 0), (4, 0)),
]


@pytest.mark.parametrize(("xs", "ts"), MULTILABEL_MARGIN_REFUSED, ids=str)
def test_multilabel_margin_refused(torch, rng, xs, ts):
    x, t = _scores(rng, xs), np.zeros(ts, dtype=np.int64)
    with pytest.raises(ValueError, match="input|target"):
        nl.multilabel_margin_loss(x, t)
    with pytest.raises(RuntimeError):
        torch.nn.functional.multilabel_margin_loss(torch.tensor(x), torch.tensor(t))


# --- multilabel_soft_margin_loss ----------------------------------------------------------

#: MultiLabelSoftMarginLoss: "Input: (N, C). Target: (N, C)."  PyTorch sums over the
#: last axis of any input, so (C,) and (A, B, C) work alike; ``weight`` multiplies the
#: elementwise losses, so any weight broadcastable to the input is one: per class
#: (the documented (C)), per element, per row, a scalar.
SOFT_MARGIN_FORMS = [
    ((4, 5), None),
    ((4, 5), (5,)),
    ((4, 5), (4, 5)),
    ((4, 5), (4, 1)),
    ((4, 5), (1, 5)),
    ((4, 5), (1,)),
    ((4, 5), ()),
    ((5,), None),
    ((5,), (5,)),
    ((5,), ()),
    ((2, 3, 5), (5,)),
    ((2, 3, 5), (3, 5)),
    ((2, 3, 5), (2, 1, 5)),
    ((2, 3, 5), (2, 3, 1)),
    ((0, 5), (0, 5)),
    ((0, 5), (5,)),
]


@pytest.mark.parametrize(("xs", "ws"), SOFT_MARGIN_FORMS, ids=str)
def test_multilabel_soft_margin_forms(torch, rng, xs, ws):
    x = _scores(rng, xs) * 2
    y = (rng.random(xs) < 0.4).astype(np.float64)
    kwargs = {} if ws is None else {"weight": np.asarray(rng.uniform(0.2, 2.0, ws))}
    _compare(torch, rng, "multilabel_soft_margin_loss", [x, y], (0,), kwargs)


def test_multilabel_soft_margin_refused(torch, rng):
    x = _scores(rng, (4, 5))
    y = (rng.random((4, 5)) < 0.4).astype(np.float64)
    F = torch.nn.functional
    # a weight that does not broadcast: both refuse
    with pytest.raises(ValueError, match=r"weight of shape \(3,\)"):
        nl.multilabel_soft_margin_loss(x, y, weight=np.ones(3))
    with pytest.raises(RuntimeError):
        F.multilabel_soft_margin_loss(torch.tensor(x), torch.tensor(y), weight=torch.ones(3))
    # a weight that enlarges the input: PyTorch returns a larger loss, numbaloss refuses
    with pytest.raises(ValueError, match=r"weight of shape \(2, 4, 5\)"):
        nl.multilabel_soft_margin_loss(x, y, weight=np.ones((2, 4, 5)))
    big = F.multilabel_soft_margin_loss(
        torch.tensor(x), torch.tensor(y), weight=torch.ones((2, 4, 5)), reduction="none"
    )
    assert tuple(big.shape) == (2, 5)  # summed over axis 1, the input's class axis
    # a target of another shape: PyTorch broadcasts it silently, numbaloss refuses
    with pytest.raises(ValueError, match=r"input \(4, 5\), target \(5,\)"):
        nl.multilabel_soft_margin_loss(x, y[0])
    loss = F.multilabel_soft_margin_loss(torch.tensor(x), torch.tensor(y[0]), reduction="none")
    assert tuple(loss.shape) == (4,)
    # a 0-d input has no class axis
    with pytest.raises(ValueError, match="class axis"):
        nl.multilabel_soft_margin_loss(np.array(1.0), np.array(1.0))


# --- cosine_embedding_loss ----------------------------------------------------------------

#: CosineEmbeddingLoss: "Input1: (N, D) or (D). Input2: (N, D) or (D), same shape as
#: Input1. Target: (N) or ()."
COSINE_FORMS = [((4, 3), (4,)), ((3,), ()), ((0, 3), (0,)), ((4, 1), (4,))]


@pytest.mark.parametrize(("xs", "ts"), COSINE_FORMS, ids=str)
def test_cosine_embedding_forms(torch, rng, xs, ts):
    x1, x2 = _scores(rng, xs), _scores(rng, xs)
    t = np.asarray(np.where(rng.random(ts) < 0.5, -1.0, 1.0))
    _compare(torch, rng, "cosine_embedding_loss", [x1, x2, t], (0, 1), {"margin": 0.1})


COSINE_REFUSED = [
    ((4, 3), (4, 3), ()),
    ((3,), (3,), (1,)),
    ((4, 3), (4, 3), (4, 1)),
    ((4, 3), (3,), (4,)),
    ((2, 4, 3), (2, 4, 3), (2, 4)),
]


@pytest.mark.parametrize(("s1", "s2", "ts"), COSINE_REFUSED, ids=str)
def test_cosine_embedding_refused(torch, rng, s1, s2, ts):
    x1, x2, t = _scores(rng, s1), _scores(rng, s2), np.ones(ts)
    with pytest.raises(ValueError, match="target|input"):
        nl.cosine_embedding_loss(x1, x2, t)
    with pytest.raises(RuntimeError):
        torch.nn.functional.cosine_embedding_loss(
            torch.tensor(x1), torch.tensor(x2), torch.tensor(t)
        )


# --- triplet losses -----------------------------------------------------------------------

#: TripletMarginLoss: "Input: (N, D) or (D)"; TripletMarginWithDistanceLoss: "Input:
#: (N, *)" with the default distance (pairwise_distance, over the last axis).  More
#: leading axes work alike in both.
TRIPLET_FORMS = [(4, 3), (3,), (0, 3), (4, 1), (2, 4, 3)]


@pytest.mark.parametrize("shape", TRIPLET_FORMS, ids=str)
@pytest.mark.parametrize("name", ["triplet_margin_loss", "triplet_margin_with_distance_loss"])
def test_triplet_forms(torch, rng, name, shape):
    arrays = [_scores(rng, shape) for _ in range(3)]
    _compare(torch, rng, name, arrays, (0, 1, 2), {"margin": 0.5})


TRIPLET_REFUSED = [((4, 3), (4, 3), (3,)), ((4, 3), (4, 3), (4, 2))]


@pytest.mark.parametrize("shapes", TRIPLET_REFUSED, ids=str)
def test_triplet_refused(torch, rng, shapes):
    arrays = [_scores(rng, s) for s in shapes]
    with pytest.raises(ValueError, match="anchor"):
        nl.triplet_margin_loss(*arrays)
    with pytest.raises(RuntimeError):
        torch.nn.functional.triplet_margin_loss(*(torch.tensor(a) for a in arrays))


def test_triplet_0d_embeddings_are_refused(torch):
    """0-d embeddings: PyTorch takes them (undocumented), numbaloss wants (D,) or
    (N, D) (docs/migration.rst)."""
    with pytest.raises(ValueError, match="got 0-d"):
        nl.triplet_margin_loss(np.array(1.0), np.array(2.0), np.array(3.0))
    loss = torch.nn.functional.triplet_margin_loss(*(torch.tensor(v) for v in (1.0, 2.0, 3.0)))
    assert tuple(loss.shape) == ()
