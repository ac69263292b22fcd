"""Properties of the margin and embedding losses: shapes, extremes, empty inputs, bad input,
determinism across thread counts, grad_out, and the torch.nn-named classes."""

import inspect

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import numbaloss as nl
from tests.conftest import assert_close

SETTINGS = settings(max_examples=25, deadline=None)
FINITE = st.floats(-1e6, 1e6, allow_nan=False, width=64)
EXTREME = st.one_of(FINITE, st.sampled_from([1e300, -1e300, 1e-300, 0.0, -0.0]))


def scores(n_max=5, c_max=6, elements=FINITE):
    return st.tuples(st.integers(0, n_max), st.integers(1, c_max)).flatmap(
        lambda s: arrays(np.float64, s, elements=elements)
    )


def _all_finite(*values):
    return all(np.all(np.isfinite(v)) for v in values)


@SETTINGS
@given(x=scores(), seed=st.integers(0, 2**32 - 1), p=st.sampled_from([1, 2]))
def test_multi_margin_shapes(x, seed, p):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, x.shape[1], x.shape[0])
    loss, grad = nl.multi_margin_loss(x, y, p=p, reduction="none", return_grad=True)
    assert loss.shape == (x.shape[0],) and grad.shape == x.shape
    assert np.all(loss >= 0)
    # each row's gradient sums to zero: the target class takes what the others get
    assert_close(
        grad.sum(axis=1),
        np.zeros(x.shape[0]),
        np.float64,
        atol=1e-9 * (1 + np.abs(grad).max(initial=0)),
    )
    total = nl.multi_margin_loss(x, y, p=p, reduction="sum")
    assert_close(total, loss.sum(), np.float64)


@SETTINGS
@given(x=scores(elements=EXTREME))
def test_multilabel_soft_margin_extremes(x):
    y = (np.arange(x.size).reshape(x.shape) % 2).astype(np.float64)
    loss, grad = nl.multilabel_soft_margin_loss(x, y, reduction="none", return_grad=True)
    assert loss.shape == x.shape[:1] and np.all(loss >= 0)
    assert np.all(np.isfinite(loss)) and np.all(np.abs(grad) <= 1 / x.shape[1] + 1e-15)


@SETTINGS
@given(x=scores(elements=EXTREME), seed=st.integers(0, 2**32 - 1))
def test_multilabel_margin_shapes(x, seed):
    rng = np.random.default_rng(seed)
    target = rng.integers(-1, x.shape[1], x.shape)
    loss, grad = nl.multilabel_margin_loss(x, target, reduction="none", return_grad=True)
    assert loss.shape == x.shape[:1] and grad.shape == x.shape
    assert np.all(loss >= 0)


@SETTINGS
@given(st.integers(0, 5), st.integers(0, 5), EXTREME, st.booleans())
def test_triplet_and_cosine_shapes(n, d, value, swap):
    rng = np.random.default_rng(n * 7 + d)
    a, p, q = rng.normal(size=(3, n, d))
    a[..., :1] = value
    loss, grads = nl.triplet_margin_loss(a, p, q, swap=swap, reduction="none", return_grad=True)
    assert loss.shape == (n,) and all(g.shape == (n, d) for g in grads)
    # squared differences of 1e300 overflow: inf - inf distances give NaN, never a negative loss
    assert np.all((loss >= 0) | np.isnan(loss))
    if abs(value) <= 1e6:
        assert np.all(loss >= 0) and _all_finite(*grads)
    t = np.where(np.arange(n) % 2, 1.0, -1.0)
    closs, cgrads = nl.cosine_embedding_loss(a, p, t, reduction="none", return_grad=True)
    assert closs.shape == (n,) and all(g.shape == (n, d) for g in cgrads)
    if _all_finite(a):
        assert np.all((closs >= 0) & (closs <= 2 + 1e-12))


@pytest.mark.parametrize("reduction, expect", [("sum", 0.0), ("mean", np.nan), ("none", None)])
def test_empty_inputs(reduction, expect):
    empty = np.zeros((0, 4))
    results = [
        nl.multi_margin_loss(empty, np.zeros(0, dtype=int), reduction=reduction, return_grad=True),
        nl.multilabel_margin_loss(
            empty, np.zeros((0, 4), dtype=int), reduction=reduction, return_grad=True
        ),
        nl.multilabel_soft_margin_loss(empty, empty, reduction=reduction, return_grad=True),
        nl.cosine_embedding_loss(empty, empty, np.zeros(0), reduction=reduction, return_grad=True),
        nl.triplet_margin_loss(empty, empty, empty, reduction=reduction, return_grad=True),
        nl.triplet_margin_with_distance_loss(
            empty, empty, empty, distance_function="cosine", reduction=reduction, return_grad=True
        ),
    ]
    for loss, grad in results:
        if expect is None:
            assert isinstance(loss, np.ndarray) and loss.shape == (0,)
        else:
            assert isinstance(loss, np.float64)
            np.testing.assert_equal(float(loss), expect)
        for g in grad if isinstance(grad, tuple) else (grad,):
            assert g.shape == (0, 4)


def test_zero_width_embeddings():
    """D = 0: distances are 0 (``eps`` over no entries), so the loss is the margin."""
    z = np.zeros((3, 0))
    np.testing.assert_array_equal(nl.triplet_margin_loss(z, z, z, reduction="none"), [1, 1, 1])
    np.testing.assert_array_equal(
        nl.cosine_embedding_loss(z, z, np.array([1, -1, 1]), reduction="none"), [1, 0, 1]
    )


def test_nan_and_inf_propagate():
    x = np.array([[0.0, np.nan, 1.0], [np.inf, 0.0, 1.0]])
    loss = nl.multilabel_soft_margin_loss(
        x, np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]]), reduction="none"
    )
    assert np.isnan(loss[0]) and np.isinf(loss[1])
    a = np.array([[np.nan, 1.0], [1.0, 2.0]])
    b = np.ones((2, 2))
    loss, (ga, gb) = nl.cosine_embedding_loss(
        a, b, np.array([1, 1]), reduction="none", return_grad=True
    )
    assert np.isnan(loss[0]) and np.isfinite(loss[1]) and np.isnan(ga[0]).all()
    loss, grads = nl.triplet_margin_loss(a, b, b, reduction="none", return_grad=True)
    assert np.isnan(loss[0]) and np.isfinite(loss[1])
    loss = nl.triplet_margin_loss(np.array([[np.inf, 0.0]]), b[:1], b[:1] * 2, reduction="none")
    assert np.isnan(loss[0])  # inf - inf, as in PyTorch


def test_determinism_across_threads(any_thread_count):
    rng = np.random.default_rng(7)
    x = rng.normal(size=(4099, 33)).astype(np.float32)
    y = rng.integers(0, 33, 4099)
    soft = rng.uniform(0, 1, x.shape).astype(np.float32)
    a, p, n = rng.normal(size=(3, 4099, 33)).astype(np.float32)
    t = rng.choice([-1.0, 1.0], 4099)
    labels = np.where(rng.random(x.shape) < 0.2, np.arange(33), -1)
    labels = np.sort(labels, axis=1)[:, ::-1].copy()

    def run():
        out = []
        for reduction in ("sum", "none"):
            out += [
                nl.multi_margin_loss(x, y, reduction=reduction, return_grad=True),
                nl.multilabel_margin_loss(x, labels, reduction=reduction, return_grad=True),
                nl.multilabel_soft_margin_loss(x, soft, reduction=reduction, return_grad=True),
                nl.cosine_embedding_loss(a, p, t, reduction=reduction, return_grad=True),
                nl.triplet_margin_loss(a, p, n, swap=True, reduction=reduction, return_grad=True),
            ]
        return out

    threads = nl.get_num_threads()
    try:
        nl.set_num_threads(1)
        single = run()
        nl.set_num_threads(max(threads, 3))
        multi = run()
    finally:
        nl.set_num_threads(threads)
    for (l1, g1), (l2, g2) in zip(single, multi):
        np.testing.assert_array_equal(l1, l2)
        for a1, a2 in zip(
            g1 if isinstance(g1, tuple) else (g1,), g2 if isinstance(g2, tuple) else (g2,)
        ):
            np.testing.assert_array_equal(a1, a2)


def test_grad_out_in_place_and_preallocated():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(5, 4))
    y = rng.integers(0, 4, 5)
    loss, expected = nl.multi_margin_loss(x, y, return_grad=True)
    inplace = x.copy()
    _, grad = nl.multi_margin_loss(inplace, y, return_grad=True, grad_out=inplace)
    assert grad is inplace
    np.testing.assert_array_equal(inplace, expected)
    labels = np.array([[0, 2, -1, 1]] * 5)
    _, expected = nl.multilabel_margin_loss(x, labels, return_grad=True)
    inplace = x.copy()
    nl.multilabel_margin_loss(inplace, labels, return_grad=True, grad_out=inplace)
    np.testing.assert_array_equal(inplace, expected)
    a, p, n = rng.normal(size=(3, 5, 4))
    _, expected = nl.triplet_margin_loss(a, p, n, swap=True, return_grad=True)
    bufs = tuple(v.copy() for v in (a, p, n))
    _, grads = nl.triplet_margin_loss(*bufs, swap=True, return_grad=True, grad_out=bufs)
    for g, b, e in zip(grads, bufs, expected):
        assert g is b
        np.testing.assert_array_equal(b, e)
    fortran = np.asfortranarray(np.empty((5, 4)))
    _, (ga, gb) = nl.cosine_embedding_loss(
        a, p, np.ones(5), return_grad=True, grad_out=(fortran, np.empty((5, 4)))
    )
    assert ga is fortran
    np.testing.assert_array_equal(
        ga, nl.cosine_embedding_loss(a, p, np.ones(5), return_grad=True)[1][0]
    )
    with pytest.raises(ValueError, match="grad_out"):
        nl.triplet_margin_loss(a, p, n, return_grad=True, grad_out=np.empty((5, 4)))
    with pytest.raises(ValueError, match="shape"):
        nl.multi_margin_loss(x, y, return_grad=True, grad_out=np.empty((4, 5)))


def test_in_place_gives_the_same_bits():
    """Writing the gradient over the input (a scalar loop then) changes no bit of the loss."""
    rng = np.random.default_rng(11)
    x = rng.normal(size=(64, 100)).astype(np.float32)
    y = rng.integers(0, 100, 64)
    soft = (rng.random(x.shape) < 0.3).astype(np.float32)
    a, p, n = rng.normal(size=(3, 64, 100)).astype(np.float32)
    calls = [
        lambda v, **k: nl.multi_margin_loss(v, y, **k),
        lambda v, **k: nl.multi_margin_loss(v, y, p=2, **k),
        lambda v, **k: nl.multilabel_soft_margin_loss(v, soft, **k),
        lambda v, **k: nl.cosine_embedding_loss(v, a, np.ones(64), **k),
        lambda v, **k: nl.triplet_margin_loss(v, p, n, swap=True, **k),
    ]
    for call in calls:
        loss, grad = call(x, reduction="none", return_grad=True)
        inplace = x.copy()
        out = (inplace, np.empty_like(x), np.empty_like(x))
        many = isinstance(grad, tuple)
        loss2, grad2 = call(
            inplace,
            reduction="none",
            return_grad=True,
            grad_out=out[: len(grad)] if many else inplace,
        )
        np.testing.assert_array_equal(loss2, loss)
        np.testing.assert_array_equal(inplace, grad[0] if many else grad)


def test_grad_output_broadcast():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(5, 4))
    y = rng.integers(0, 4, 5)
    _, g1 = nl.multi_margin_loss(x, y, reduction="none", return_grad=True, grad_output=2.0)
    _, g2 = nl.multi_margin_loss(x, y, reduction="sum", return_grad=True, grad_output=2.0)
    _, g3 = nl.multi_margin_loss(
        x, y, reduction="mean", return_grad=True, grad_output=np.array(10.0)
    )
    np.testing.assert_allclose(g1, g2)
    np.testing.assert_allclose(g3, g2 * 10 / 2 / 5)  # mean over 5 rows, upstream 10 vs 2
    with pytest.raises(ValueError, match="grad_output"):
        nl.multi_margin_loss(x, y, reduction="none", return_grad=True, grad_output=np.ones(4))
    with pytest.raises(ValueError, match="grad_output"):
        nl.multi_margin_loss(x, y, reduction="sum", return_grad=True, grad_output=np.ones(5))


# --- bad input (docs/conventions.rst, bad input) ---------------------------------------------------------


def test_bad_triplet_margin():
    a = np.ones((2, 3))
    for margin in (0.0, -1.0):
        with pytest.raises(ValueError, match="margin"):
            nl.triplet_margin_loss(a, a, a, margin=margin)
        with pytest.raises(ValueError, match="margin"):
            nl.triplet_margin_with_distance_loss(a, a, a, margin=margin)
    with pytest.raises(ValueError, match="p must be positive"):
        nl.triplet_margin_loss(a, a, a, p=0)


def test_bad_class_indices():
    x = np.zeros((3, 4))
    with pytest.raises(ValueError, match=r"class index 4\b"):
        nl.multi_margin_loss(x, np.array([0, 4, 1]))
    with pytest.raises(ValueError, match=r"class index -1\b"):
        nl.multi_margin_loss(x, np.array([0, 1, -1]), return_grad=True)
    with pytest.raises(ValueError, match=r"holds 7\b"):
        nl.multilabel_margin_loss(x, np.array([[0, -1, 7, 1]] * 3))
    with pytest.raises(ValueError, match=r"holds -2\b"):
        nl.multilabel_margin_loss(x, np.array([[0, 1, -1, 1], [-2, 0, 0, 0], [0] * 4]))
    with pytest.raises(TypeError, match="integer"):
        nl.multi_margin_loss(x, np.array([0.0, 1.0, 2.0]))


def test_bad_target_shapes():
    x = np.zeros((3, 4))
    for target in (np.zeros(4, dtype=int), np.zeros((3, 1), dtype=int), np.array(0)):
        with pytest.raises(ValueError, match=r"input \(3, 4\), target"):
            nl.multi_margin_loss(x, target)
    with pytest.raises(ValueError, match=r"target"):
        nl.multi_margin_loss(np.zeros(4), np.array([0, 1]))
    with pytest.raises(ValueError, match=r"target \(3, 3\)"):
        nl.multilabel_margin_loss(x, np.zeros((3, 3), dtype=int))
    with pytest.raises(ValueError, match=r"input \(3, 4\), target \(4,\)"):
        nl.multilabel_soft_margin_loss(x, np.zeros(4))
    with pytest.raises(ValueError, match="target"):
        nl.cosine_embedding_loss(x, x, np.ones(4))
    with pytest.raises(ValueError, match="1-D target expects 2-D inputs"):
        nl.cosine_embedding_loss(np.zeros(4), np.zeros(4), np.ones(1))
    with pytest.raises(ValueError, match="0-d or 1-D"):
        nl.cosine_embedding_loss(x, x, np.ones((3, 1)))
    with pytest.raises(ValueError, match="non-empty"):
        nl.multi_margin_loss(np.zeros((3, 0)), np.zeros(3, dtype=int))
    with pytest.raises(ValueError, match="non-empty"):
        nl.multilabel_margin_loss(np.zeros((2, 3, 4)), np.zeros((2, 3, 4), dtype=int))


def test_bad_embedding_widths():
    a = np.zeros((3, 4))
    with pytest.raises(ValueError, match=r"embedding width.*positive \(3, 5\)"):
        nl.triplet_margin_loss(a, np.zeros((3, 5)), a)
    with pytest.raises(ValueError, match=r"number of dimensions"):
        nl.triplet_margin_loss(a, np.zeros(4), a)
    with pytest.raises(ValueError, match=r"same shape.*negative \(2, 4\)"):
        nl.triplet_margin_with_distance_loss(a, a, np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"input1 \(3, 4\).*input2 \(3, 5\)"):
        nl.cosine_embedding_loss(a, np.zeros((3, 5)), np.ones(3))


def test_bad_options():
    x = np.zeros((3, 4))
    y = np.zeros(3, dtype=int)
    with pytest.raises(ValueError, match="p must be 1 or 2"):
        nl.multi_margin_loss(x, y, p=3)
    with pytest.raises(ValueError, match="weight"):
        nl.multi_margin_loss(x, y, weight=np.ones(5))
    with pytest.raises(ValueError, match="weight"):
        nl.multilabel_soft_margin_loss(x, x, weight=np.ones((2, 4)))
    with pytest.raises(ValueError, match="'none', 'mean', 'sum'"):
        nl.multi_margin_loss(x, y, reduction="max")
    with pytest.raises(TypeError):
        nl.cosine_embedding_loss(x.astype(complex), x, np.ones(3))
    with pytest.raises(TypeError):
        nl.triplet_margin_loss(x.astype(object), x, x)
    with pytest.raises(ValueError, match="distance_function must be"):
        nl.triplet_margin_with_distance_loss(x, x, x, distance_function="hamming")
    with pytest.raises(ValueError, match="distance_grad"):
        nl.triplet_margin_with_distance_loss(
            x, x, x, distance_function=lambda u, v: u.sum(-1), return_grad=True
        )
    with pytest.raises(ValueError, match="distance_grad is only"):
        nl.triplet_margin_with_distance_loss(
            x, x, x, distance_function="cosine", distance_grad=lambda u, v: (u, v)
        )
    from numba import njit

    row_distance = njit(lambda u, v: np.abs(u - v).sum())
    with pytest.raises(TypeError, match="@njit"):
        nl.triplet_margin_with_distance_loss(
            x,
            x,
            x,
            distance_function=row_distance,
            distance_grad=lambda u, v: (u, v),
            return_grad=True,
        )
    with pytest.raises(ValueError, match="distance_grad"):
        nl.triplet_margin_with_distance_loss(
            x, x, x, distance_function=row_distance, return_grad=True
        )
    with pytest.raises(ValueError, match="one distance per row"):
        nl.triplet_margin_with_distance_loss(x, x, x, distance_function=lambda u, v: u)


# --- classes --------------------------------------------------------------------------------------


def test_classes(torch):
    for name in [
        "MultiMarginLoss",
        "MultiLabelMarginLoss",
        "MultiLabelSoftMarginLoss",
        "CosineEmbeddingLoss",
        "TripletMarginLoss",
        "TripletMarginWithDistanceLoss",
    ]:
        ours = inspect.signature(getattr(nl, name).__init__).parameters
        theirs = inspect.signature(getattr(torch.nn, name).__init__).parameters
        expected = [
            (k, v.default, v.kind)
            for k, v in theirs.items()
            if k not in ("self", "size_average", "reduce")
        ]
        got = [
            (k, v.default, v.kind) for k, v in ours.items() if k not in ("self", "distance_grad")
        ]
        assert got == expected, name
    rng = np.random.default_rng(5)
    x = rng.normal(size=(4, 3))
    y = np.array([0, 2, 1, 1])
    loss_fn = nl.MultiMarginLoss(p=2, margin=0.5, reduction="sum")
    np.testing.assert_equal(
        loss_fn(x, y, return_grad=True)[1],
        nl.multi_margin_loss(x, y, p=2, margin=0.5, reduction="sum", return_grad=True)[1],
    )
    a, p, n = rng.normal(size=(3, 4, 3))
    loss_fn = nl.TripletMarginWithDistanceLoss(distance_function="cosine", swap=True)
    assert loss_fn(a, p, n) == nl.triplet_margin_with_distance_loss(
        a, p, n, distance_function="cosine", swap=True
    )
    with pytest.raises(TypeError):
        nl.TripletMarginWithDistanceLoss("cosine")
