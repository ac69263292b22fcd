"""The margin and embedding losses against PyTorch 2.13: values and gradients, every option."""

import numpy as np
import pytest

import numbaloss as nl
from numbaloss.testing.margin import torch_value_and_grads, upstream
from tests.conftest import assert_close, layouts

DTYPES = [np.float32, np.float64]
REDUCTIONS = ["none", "mean", "sum"]


def compare(
    torch,
    func,
    torch_func,
    preds,
    others,
    kwargs,
    reduction,
    dtype,
    rng,
    scale=1.0,
    torch_kwargs=None,
):
    """numbaloss and PyTorch agree on the loss and on the gradients of every prediction."""
    loss_shape = np.shape(func(*preds, *others, **kwargs, reduction="none"))
    g = upstream(rng, reduction, loss_shape, dtype)
    loss, grads = func(
        *preds, *others, **kwargs, reduction=reduction, return_grad=True, grad_output=g
    )
    grads = grads if isinstance(grads, tuple) else (grads,)
    expected, expected_grads = torch_value_and_grads(
        torch, torch_func, preds, others, dict(torch_kwargs or kwargs, reduction=reduction), g
    )
    assert np.shape(loss) == np.shape(expected)
    assert np.asarray(loss).dtype == dtype
    assert_close(loss, expected, dtype, scale=scale)
    for grad, exp in zip(grads, expected_grads):
        assert grad.dtype == dtype and grad.shape == exp.shape
        assert_close(grad, exp, dtype, scale=scale)


# --- multi_margin_loss ---------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("weighted", [False, True])
def test_multi_margin(torch, rng, dtype, reduction, p, weighted):
    x = rng.normal(size=(7, 5)).astype(dtype)
    y = rng.integers(0, 5, 7)
    kwargs = dict(p=p, margin=0.7)
    if weighted:
        kwargs["weight"] = rng.uniform(0.2, 2, 5).astype(dtype)
    compare(
        torch,
        nl.multi_margin_loss,
        torch.nn.functional.multi_margin_loss,
        [x],
        [y],
        kwargs,
        reduction,
        dtype,
        rng,
    )


@pytest.mark.parametrize("target_shape", [(), (1,)])
def test_multi_margin_unbatched(torch, rng, target_shape):
    x = rng.normal(size=6)
    y = np.full(target_shape, 2)
    for reduction in REDUCTIONS:
        compare(
            torch,
            nl.multi_margin_loss,
            torch.nn.functional.multi_margin_loss,
            [x],
            [y],
            dict(margin=1.5),
            reduction,
            np.float64,
            rng,
        )


def test_multi_margin_nan_inf(torch, rng):
    """NaN and -inf scores make inactive terms (``z > 0`` is false), +inf an infinite loss."""
    x = np.array([[0.5, np.nan, -np.inf, 1.0], [0.5, np.inf, 0.0, 1.0]])
    y = np.array([0, 0])
    for p in (1, 2):
        compare(
            torch,
            nl.multi_margin_loss,
            torch.nn.functional.multi_margin_loss,
            [x],
            [y],
            dict(p=p),
            "none",
            np.float64,
            rng,
        )


def test_multi_margin_ties(torch, rng):
    """z == 0 exactly: the term is inactive (no loss, no gradient), as in PyTorch."""
    x = np.array([[1.0, 2.0, 0.0, 1.5], [0.0, 0.0, 0.0, 0.0]])
    y = np.array([1, 3])
    for p in (1, 2):
        for margin in (1.0, 0.0):
            compare(
                torch,
                nl.multi_margin_loss,
                torch.nn.functional.multi_margin_loss,
                [x],
                [y],
                dict(p=p, margin=margin),
                "sum",
                np.float64,
                rng,
            )


# --- multilabel_margin_loss ----------------------------------------------------------------


def _multilabel_targets(rng, n, c):
    target = np.full((n, c), -1, dtype=np.int64)
    for i in range(n):
        k = rng.integers(0, c + 1)
        target[i, :k] = rng.choice(c, k, replace=False)
        if k < c:  # entries after the first -1 do not count, but must be in [-1, C)
            target[i, k + 1 :] = rng.integers(-1, c, c - k - 1)
    return target


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_multilabel_margin(torch, rng, dtype, reduction):
    x = rng.normal(size=(9, 6)).astype(dtype)
    target = _multilabel_targets(rng, 9, 6)
    compare(
        torch,
        nl.multilabel_margin_loss,
        torch.nn.functional.multilabel_margin_loss,
        [x],
        [target],
        {},
        reduction,
        dtype,
        rng,
    )


def test_multilabel_margin_docs_example_and_edges(torch, rng):
    assert float(
        nl.multilabel_margin_loss([[0.1, 0.2, 0.4, 0.8]], [[3, 0, -1, 1]])
    ) == pytest.approx(0.85)
    # unbatched, a tie at the margin, a repeated class, and a row without targets
    for x, t in [
        ([0.1, 0.2, 0.4, 0.8], [3, 0, -1, 1]),
        ([[0.0, 1.0, 0.5], [0.0, 1.0, 0.5], [1.0, 2.0, 3.0]], [[1, -1, 0], [1, 1, -1], [-1, 2, 0]]),
    ]:
        for reduction in REDUCTIONS:
            compare(
                torch,
                nl.multilabel_margin_loss,
                torch.nn.functional.multilabel_margin_loss,
                [np.array(x)],
                [np.array(t)],
                {},
                reduction,
                np.float64,
                rng,
            )


# --- multilabel_soft_margin_loss -----------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_multilabel_soft_margin(torch, rng, dtype, reduction, weighted):
    x = (rng.normal(size=(8, 5)) * 4).astype(dtype)
    y = rng.uniform(0, 1, size=(8, 5)).astype(dtype)
    kwargs = {"weight": rng.uniform(0.1, 2, 5).astype(dtype)} if weighted else {}
    compare(
        torch,
        nl.multilabel_soft_margin_loss,
        torch.nn.functional.multilabel_soft_margin_loss,
        [x],
        [y],
        kwargs,
        reduction,
        dtype,
        rng,
    )


def test_multilabel_soft_margin_unbatched_and_extremes(torch, rng):
    x = np.array([-800.0, -30.0, 0.0, 30.0, 800.0])
    y = np.array([1.0, 0.0, 0.5, 1.0, 0.0])
    for reduction in REDUCTIONS:
        compare(
            torch,
            nl.multilabel_soft_margin_loss,
            torch.nn.functional.multilabel_soft_margin_loss,
            [x],
            [y],
            {},
            reduction,
            np.float64,
            rng,
        )


# --- cosine_embedding_loss -----------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("margin", [0.0, 0.3, -0.2])
def test_cosine_embedding(torch, rng, dtype, reduction, margin):
    a = rng.normal(size=(10, 7)).astype(dtype)
    b = rng.normal(size=(10, 7)).astype(dtype)
    t = rng.choice([-1.0, 1.0], 10).astype(dtype)
    compare(
        torch,
        nl.cosine_embedding_loss,
        torch.nn.functional.cosine_embedding_loss,
        [a, b],
        [t],
        dict(margin=margin),
        reduction,
        dtype,
        rng,
    )


def test_cosine_embedding_unbatched_zero_vectors_ties(torch, rng):
    # zero vectors (PyTorch's EPSILON = 1e-12 on the squared norms: huge but finite gradients)
    a = np.array([[0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
    b = np.array([[1.0, 2.0, 3.0], [0.5, 0.0, 1.0], [1.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    t = np.array([1.0, -1.0, -1.0, 1.0])
    for reduction in REDUCTIONS:
        compare(
            torch,
            nl.cosine_embedding_loss,
            torch.nn.functional.cosine_embedding_loss,
            [a, b],
            [t],
            dict(margin=0.0),
            reduction,
            np.float64,
            rng,
        )
    # cos == margin exactly: the row is active (clamp_min passes the gradient)
    a = np.array([[3.0, 4.0]])
    b = np.array([[3.0, 4.0]])
    compare(
        torch,
        nl.cosine_embedding_loss,
        torch.nn.functional.cosine_embedding_loss,
        [a, b * 2],
        [np.array([-1.0])],
        dict(margin=1.0),
        "sum",
        np.float64,
        rng,
    )
    # unbatched, integer and non-±1 targets
    x1, x2 = rng.normal(size=(2, 5))
    compare(
        torch,
        nl.cosine_embedding_loss,
        torch.nn.functional.cosine_embedding_loss,
        [x1, x2],
        [np.array(-1.0)],
        dict(margin=-0.5),
        "none",
        np.float64,
        rng,
    )
    a, b = rng.normal(size=(2, 4, 3))
    compare(
        torch,
        nl.cosine_embedding_loss,
        torch.nn.functional.cosine_embedding_loss,
        [a, b],
        [np.array([1, -1, 0, 2])],
        {},
        "none",
        np.float64,
        rng,
    )


# --- triplet losses ------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("p", [2, 1, 3, 0.5, np.inf])
@pytest.mark.parametrize("swap", [False, True])
def test_triplet(torch, rng, dtype, p, swap):
    a, pos, neg = (rng.normal(size=(3, 11, 6)) * [1, 1.5, 1.5][0]).astype(dtype)
    kwargs = dict(margin=1.3, p=p, eps=1e-6, swap=swap)
    for reduction in REDUCTIONS:
        compare(
            torch,
            nl.triplet_margin_loss,
            torch.nn.functional.triplet_margin_loss,
            [a, pos, neg],
            [],
            kwargs,
            reduction,
            dtype,
            rng,
            scale=3.0,
        )


def test_triplet_unbatched_and_batch_dims(torch, rng):
    for shape in [(5,), (2, 3, 4)]:
        a, pos, neg = rng.normal(size=(3, *shape))
        for reduction in REDUCTIONS:
            compare(
                torch,
                nl.triplet_margin_loss,
                torch.nn.functional.triplet_margin_loss,
                [a, pos, neg],
                [],
                dict(swap=True),
                reduction,
                np.float64,
                rng,
            )


def test_triplet_ties_and_zero_distances(torch, rng):
    # margin + d(a, p) - d(a, n) == 0 exactly: PyTorch passes the gradient
    a, pos, neg = np.array([[0.0]]), np.array([[-1.0]]), np.array([[-2.0]])
    compare(
        torch,
        nl.triplet_margin_loss,
        torch.nn.functional.triplet_margin_loss,
        [a, pos, neg],
        [],
        dict(margin=1.0, eps=0.0),
        "sum",
        np.float64,
        rng,
    )
    # d(a, n) == d(p, n) with swap: the gradient is split in halves
    a, pos, neg = np.array([[0.0, 0.0]]), np.array([[0.0, 1.0]]), np.array([[1.0, 0.5]])
    for p in (1, 2, np.inf):
        compare(
            torch,
            nl.triplet_margin_loss,
            torch.nn.functional.triplet_margin_loss,
            [a, pos, neg],
            [],
            dict(margin=2.0, eps=0.0, swap=True, p=p),
            "sum",
            np.float64,
            rng,
        )
    # zero distances (a == p) and a zero component with p < 1; tied maxima with p = inf
    a = np.array([[1.0, 2.0, 0.5], [1.0, -1.0, 0.5]])
    pos = np.array([[1.0, 2.0, 0.5], [0.0, 0.0, 0.0]])
    neg = np.array([[1.0, 5.0, 0.5], [3.0, 3.0, 3.0]])
    for p in (2, 1, 3, 1.5, 0.5, np.inf):
        compare(
            torch,
            nl.triplet_margin_loss,
            torch.nn.functional.triplet_margin_loss,
            [a, pos, neg],
            [],
            dict(margin=5.0, eps=0.0, p=p),
            "sum",
            np.float64,
            rng,
        )


def _cosine_distance(torch):
    return lambda x, y: 1 - torch.nn.functional.cosine_similarity(x, y)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", [None, "euclidean", "cosine", "manhattan", "chebyshev"])
@pytest.mark.parametrize("swap", [False, True])
def test_triplet_with_distance(torch, rng, dtype, name, swap):
    a, pos, neg = rng.normal(size=(3, 9, 5)).astype(dtype)
    F = torch.nn.functional
    torch_distance = {
        None: None,
        "euclidean": F.pairwise_distance,
        "cosine": _cosine_distance(torch),
        "manhattan": lambda x, y: F.pairwise_distance(x, y, p=1),
        "chebyshev": lambda x, y: F.pairwise_distance(x, y, p=np.inf),
    }[name]
    margin = 0.4 if name == "cosine" else 1.0
    for reduction in REDUCTIONS:
        compare(
            torch,
            nl.triplet_margin_with_distance_loss,
            F.triplet_margin_with_distance_loss,
            [a, pos, neg],
            [],
            dict(distance_function=name, margin=margin, swap=swap),
            reduction,
            dtype,
            rng,
            scale=3.0,
            torch_kwargs=dict(distance_function=torch_distance, margin=margin, swap=swap),
        )


def test_triplet_cosine_zero_and_tiny_vectors(torch, rng):
    """PyTorch clamps the norms at 1e-8 without gradient: match value and gradient."""
    a = np.array([[0.0, 0.0, 0.0], [1e-9, 0.0, 0.0], [1.0, 2.0, 0.0]])
    pos = np.array([[1.0, 2.0, 0.5], [1.0, 2.0, 0.0], [0.0, 0.0, 0.0]])
    neg = np.array([[-1.0, 0.5, 0.5], [0.3, -2.0, 1.0], [1.0, -1.0, 2.0]])
    F = torch.nn.functional
    compare(
        torch,
        nl.triplet_margin_with_distance_loss,
        F.triplet_margin_with_distance_loss,
        [a, pos, neg],
        [],
        dict(distance_function="cosine", margin=1.5),
        "sum",
        np.float64,
        rng,
        torch_kwargs=dict(distance_function=_cosine_distance(torch), margin=1.5),
    )


def test_triplet_user_callables(torch, rng):
    """A user's array callable and a user's @njit row distance, with their derivatives."""
    from numba import njit

    a, pos, neg = rng.normal(size=(3, 8, 4))

    def sq_distance(x, y):
        return ((x - y) ** 2).sum(axis=-1)

    def sq_distance_grad(x, y):
        return 2 * (x - y), -2 * (x - y)

    @njit
    def sq_row(x, y):
        return ((x - y) ** 2).sum()

    @njit
    def sq_row_grad(x, y, gx, gy):
        for k in range(x.shape[0]):
            gx[k] = 2 * (x[k] - y[k])
            gy[k] = -gx[k]

    F = torch.nn.functional
    for fn, grad_fn in [(sq_distance, sq_distance_grad), (sq_row, sq_row_grad)]:
        for swap in (False, True):
            for reduction in REDUCTIONS:
                compare(
                    torch,
                    nl.triplet_margin_with_distance_loss,
                    F.triplet_margin_with_distance_loss,
                    [a, pos, neg],
                    [],
                    dict(distance_function=fn, distance_grad=grad_fn, swap=swap, margin=2.0),
                    reduction,
                    np.float64,
                    rng,
                    torch_kwargs=dict(
                        distance_function=lambda x, y: ((x - y) ** 2).sum(-1), swap=swap, margin=2.0
                    ),
                )
        # value only, without the derivative
        value = nl.triplet_margin_with_distance_loss(a, pos, neg, distance_function=fn)
        assert_close(
            value,
            F.triplet_margin_with_distance_loss(
                *(torch.tensor(v) for v in (a, pos, neg)),
                distance_function=lambda x, y: ((x - y) ** 2).sum(-1),
            ).item(),
            np.float64,
        )


# --- layouts and dtypes --------------------------------------------------------------------


def test_layouts(torch, rng):
    """Fortran, negative strides, read-only and big-endian inputs give the C-order results."""
    x = rng.normal(size=(6, 5))
    y = rng.integers(0, 5, 6)
    a, pos, neg = rng.normal(size=(3, 6, 5))
    t = rng.choice([-1.0, 1.0], 6)
    soft = rng.uniform(0, 1, (6, 5))
    expect = [
        nl.multi_margin_loss(x, y, reduction="none", return_grad=True),
        nl.multilabel_soft_margin_loss(x, soft, reduction="none", return_grad=True),
        nl.cosine_embedding_loss(x, a, t, reduction="none", return_grad=True),
        nl.triplet_margin_loss(x, pos, neg, reduction="none", return_grad=True),
    ]
    for name, lx in layouts(x).items():
        got = [
            nl.multi_margin_loss(lx, y, reduction="none", return_grad=True),
            nl.multilabel_soft_margin_loss(
                lx, layouts(soft)[name], reduction="none", return_grad=True
            ),
            nl.cosine_embedding_loss(lx, layouts(a)[name], t, reduction="none", return_grad=True),
            nl.triplet_margin_loss(lx, layouts(pos)[name], neg, reduction="none", return_grad=True),
        ]
        for (loss, grad), (eloss, egrad) in zip(got, expect):
            np.testing.assert_array_equal(loss, eloss, err_msg=name)
            for g, e in zip(
                np.atleast_1d(grad) if not isinstance(grad, tuple) else grad,
                np.atleast_1d(egrad) if not isinstance(egrad, tuple) else egrad,
            ):
                np.testing.assert_array_equal(g, e, err_msg=name)


def test_float16_and_integer_inputs(torch, rng):
    x = rng.normal(size=(4, 3)).astype(np.float16)
    y = np.array([0, 2, 1, 1], dtype=np.uint8)
    loss, grad = nl.multi_margin_loss(x, y, return_grad=True)
    assert loss.dtype == np.float16 and grad.dtype == np.float16
    ref = nl.multi_margin_loss(x.astype(np.float32), y)
    assert abs(float(loss) - float(ref)) < 1e-3
    ints = np.array([[1, 2, 3], [0, 0, 1]])
    assert nl.multilabel_soft_margin_loss(ints, ints).dtype == np.float64
    assert (
        nl.multilabel_margin_loss(x, np.array([[0, -1, 1]] * 4, dtype=np.int16)).dtype == np.float16
    )
