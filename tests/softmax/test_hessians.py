"""The Hessian's diagonal (``return_hess=True``) of cross_entropy, focal_loss and nll_loss.

Against PyTorch (``torch.func.hessian`` of ``sum(grad_output * loss)``, whose
diagonal is taken), the NumPy formulas of ``numbaloss.testing.softmax``, and central
differences of numbaloss's own gradient in float64; both CPU kernels (few classes:
the tile kernel; many: the row kernel), every option, float32 and float64.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import numbaloss as nl
from numbaloss.testing.softmax import np_cross_entropy_hess, np_focal_hess
from tests.conftest import assert_close

DTYPES = [np.float32, np.float64]
REDUCTIONS = ["mean", "sum", "none"]
N_CLASSES = [4, 37]  # the few-class (tile) kernel and the row kernel


def make_case(rng, shape, dtype, ignored=True):
    x = (rng.standard_normal(shape) * 2).astype(dtype)
    n_classes = shape[1] if len(shape) >= 2 else shape[0]
    loss_shape = (shape[0], *shape[2:]) if len(shape) >= 2 else ()
    t = rng.integers(0, n_classes, loss_shape)
    if ignored and t.ndim:
        t.reshape(-1)[1::3] = -100
    return x, t, (rng.random(n_classes) + 0.5).astype(dtype)


def upstream(rng, reduction, loss_shape, dtype):
    if reduction == "none":
        return rng.uniform(0.5, 1.5, loss_shape).astype(dtype)
    return np.asarray(rng.uniform(0.5, 1.5), dtype=dtype)


def torch_hessian_diagonal(torch, loss_fn, x, grad_output):
    """The diagonal of ``torch.func.hessian`` of ``sum(grad_output * loss_fn(x))``."""
    xt = torch.tensor(x)
    g = torch.tensor(np.asarray(grad_output, dtype=x.dtype))

    def total(z):
        return (loss_fn(z) * g).sum()

    full = torch.func.hessian(total)(xt).reshape(x.size, x.size)
    return torch.diagonal(full).reshape(x.shape).numpy()


def _ce(torch, t, weight=None, reduction="mean", **options):
    wt = None if weight is None else torch.tensor(weight)
    tt = torch.tensor(t)
    return lambda z: torch.nn.functional.cross_entropy(
        z, tt, weight=wt, reduction=reduction, **options
    )


def _focal(torch, t, gamma, weight=None, reduction="mean"):
    F = torch.nn.functional
    wt = None if weight is None else torch.tensor(weight)
    tt = torch.tensor(t)

    def loss(z):
        lsm = F.log_softmax(z, 1 if z.dim() > 1 else 0)
        return F.nll_loss((1 - lsm.exp()) ** gamma * lsm, tt, weight=wt, reduction=reduction)

    return loss


def _check(hess, ref, dtype, scale=10):
    assert hess.dtype == dtype and hess.shape == ref.shape
    assert_close(hess, ref, dtype, scale=scale)


# --- cross entropy -------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_classes", N_CLASSES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_cross_entropy_vs_torch(torch, rng, dtype, n_classes, reduction, weighted, smoothing):
    x, t, w = make_case(rng, (9, n_classes), dtype)
    w = w if weighted else None
    g = upstream(rng, reduction, (9,), dtype)
    loss, grad, hess = nl.cross_entropy(
        x, t, weight=w, reduction=reduction, label_smoothing=smoothing,
        return_grad=True, return_hess=True, grad_output=g,
    )  # fmt: skip
    ref = torch_hessian_diagonal(
        torch, _ce(torch, t, w, reduction, label_smoothing=smoothing), x, g
    )
    _check(hess, ref, dtype)
    assert (hess[t == -100] == 0).all()
    np_ref = np_cross_entropy_hess(x, t, w, -100, reduction, smoothing, g)
    assert_close(hess, np_ref, dtype, scale=10)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(6,), (5, 3), (4, 5, 3), (3, 40, 2, 3)])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_shapes_vs_torch(torch, rng, dtype, shape, reduction):
    x, t, w = make_case(rng, shape, dtype, ignored=len(shape) > 1)
    g = upstream(rng, reduction, np.shape(t), dtype)
    _, _, hess = nl.cross_entropy(
        x, t, weight=w, reduction=reduction, label_smoothing=0.1,
        return_grad=True, return_hess=True, grad_output=g,
    )  # fmt: skip
    ref = torch_hessian_diagonal(torch, _ce(torch, t, w, reduction, label_smoothing=0.1), x, g)
    _check(hess, ref, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(5, 4), (7, 37), (3, 6, 2)])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_probability_targets_vs_torch(torch, rng, dtype, shape, reduction, weighted):
    x = (rng.standard_normal(shape) * 2).astype(dtype)
    prob = rng.dirichlet(np.ones(shape[1]), size=(shape[0], *shape[2:]))
    prob = np.moveaxis(prob, -1, 1).astype(dtype)
    w = (rng.random(shape[1]) + 0.5).astype(dtype) if weighted else None
    loss_shape = (shape[0], *shape[2:])
    g = upstream(rng, reduction, loss_shape, dtype)
    _, _, hess = nl.cross_entropy(
        x, prob, weight=w, reduction=reduction, label_smoothing=0.15,
        return_grad=True, return_hess=True, grad_output=g,
    )  # fmt: skip
    ref = torch_hessian_diagonal(torch, _ce(torch, prob, w, reduction, label_smoothing=0.15), x, g)
    _check(hess, ref, dtype)
    assert_close(hess, np_cross_entropy_hess(x, prob, w, -100, reduction, 0.15, g), dtype, 10)


# --- focal loss -------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_classes", N_CLASSES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("gamma", [0.5, 1.0, 2.0, 3.5])
def test_focal_vs_torch(torch, rng, dtype, n_classes, reduction, weighted, gamma):
    x, t, w = make_case(rng, (9, n_classes), dtype)
    w = w if weighted else None
    g = upstream(rng, reduction, (9,), dtype)
    _, _, hess = nl.focal_loss(
        x, t, gamma=gamma, weight=w, reduction=reduction,
        return_grad=True, return_hess=True, grad_output=g,
    )  # fmt: skip
    ref = torch_hessian_diagonal(torch, _focal(torch, t, gamma, w, reduction), x, g)
    _check(hess, ref, dtype, scale=20)
    assert (hess[t == -100] == 0).all()
    np_ref = np_focal_hess(x, t, gamma, w, -100, reduction, g)
    assert_close(hess, np_ref, dtype, scale=20)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(6,), (4, 5, 3), (3, 40, 2)])
def test_focal_shapes_vs_torch(torch, rng, dtype, shape):
    x, t, w = make_case(rng, shape, dtype, ignored=len(shape) > 1)
    g = upstream(rng, "none", np.shape(t), dtype)
    _, _, hess = nl.focal_loss(
        x, t, gamma=1.5, weight=w, reduction="none", return_grad=True, return_hess=True,
        grad_output=g,
    )  # fmt: skip
    ref = torch_hessian_diagonal(torch, _focal(torch, t, 1.5, w, "none"), x, g)
    _check(hess, ref, dtype, scale=20)


def test_focal_gamma_zero_is_cross_entropy(rng):
    x, t, w = make_case(rng, (8, 5), np.float64)
    focal = nl.focal_loss(x, t, gamma=0.0, weight=w, return_grad=True, return_hess=True)
    ce = nl.cross_entropy(x, t, weight=w, return_grad=True, return_hess=True)
    np.testing.assert_array_equal(focal[2], ce[2])


# --- nll ------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_hessian_is_zero(torch, rng, dtype, reduction):
    x, t, w = make_case(rng, (6, 5), dtype)
    logp = x - np.log(np.exp(x).sum(axis=1, keepdims=True))
    g = upstream(rng, reduction, (6,), dtype)
    _, grad, hess = nl.nll_loss(
        logp, t, weight=w, reduction=reduction, return_grad=True, return_hess=True,
        grad_output=g,
    )  # fmt: skip
    wt = torch.tensor(w)
    tt = torch.tensor(t)
    ref = torch_hessian_diagonal(
        torch,
        lambda z: torch.nn.functional.nll_loss(z, tt, weight=wt, reduction=reduction),
        logp,
        g,
    )
    _check(hess, ref, dtype)
    assert (hess == 0).all()


# --- central differences of numbaloss's own gradient ------------------------------------


def _fd_diagonal(grad_of, x, h=1e-6):
    out = np.empty_like(x)
    for idx in np.ndindex(x.shape):
        plus, minus = x.copy(), x.copy()
        plus[idx] += h
        minus[idx] -= h
        out[idx] = (grad_of(plus)[idx] - grad_of(minus)[idx]) / (2 * h)
    return out


@pytest.mark.parametrize("n_classes", N_CLASSES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize(
    "loss",
    [
        {"func": "cross_entropy"},
        {"func": "cross_entropy", "label_smoothing": 0.3},
        {"func": "focal_loss", "gamma": 0.7},
        {"func": "focal_loss", "gamma": 2.0},
    ],
    ids=["ce", "ce-smoothing", "focal-0.7", "focal-2"],
)
def test_central_differences(rng, n_classes, reduction, loss):
    options = dict(loss)
    func = getattr(nl, options.pop("func"))
    x, t, w = make_case(rng, (5, n_classes), np.float64)
    g = upstream(rng, reduction, (5,), np.float64)

    def grad_of(z):
        return func(
            z, t, weight=w, reduction=reduction, return_grad=True, grad_output=g, **options
        )[1]

    _, _, hess = func(
        x, t, weight=w, reduction=reduction, return_grad=True, return_hess=True, grad_output=g,
        **options,
    )  # fmt: skip
    np.testing.assert_allclose(hess, _fd_diagonal(grad_of, x), rtol=1e-6, atol=1e-8)


def test_probability_targets_central_differences(rng):
    x = rng.standard_normal((4, 6))
    prob = rng.dirichlet(np.ones(6), size=4)
    w = rng.random(6) + 0.5

    def grad_of(z):
        return nl.cross_entropy(z, prob, weight=w, label_smoothing=0.1, return_grad=True)[1]

    _, _, hess = nl.cross_entropy(
        x, prob, weight=w, label_smoothing=0.1, return_grad=True, return_hess=True
    )
    np.testing.assert_allclose(hess, _fd_diagonal(grad_of, x), rtol=1e-6, atol=1e-8)


# --- the output contract and bits ---------------------------------------------------------


CALLS = [
    ("cross_entropy", {}),
    ("cross_entropy", {"label_smoothing": 0.2}),
    ("focal_loss", {"gamma": 2.0}),
    ("nll_loss", {}),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_classes", N_CLASSES)
@pytest.mark.parametrize(("name", "options"), CALLS)
def test_value_and_gradient_do_not_change(rng, dtype, n_classes, name, options):
    """The same formulas with or without the Hessian (the compiler may fuse or group a
    few operations differently around it: a last-bit difference)."""
    x, t, w = make_case(rng, (150, n_classes), dtype)
    func = getattr(nl, name)
    for reduction in REDUCTIONS:
        loss, grad = func(x, t, weight=w, reduction=reduction, return_grad=True, **options)
        loss2, grad2, _ = func(
            x, t, weight=w, reduction=reduction, return_grad=True, return_hess=True, **options
        )
        ulps = np.finfo(dtype).eps * 16
        np.testing.assert_allclose(loss2, loss, rtol=ulps, atol=0)
        np.testing.assert_allclose(grad2, grad, rtol=ulps, atol=np.finfo(dtype).tiny)


@pytest.mark.parametrize("n_classes", N_CLASSES)
@pytest.mark.parametrize(("name", "options"), CALLS)
def test_hess_out_in_place(rng, n_classes, name, options):
    x, t, w = make_case(rng, (7, n_classes), np.float32)
    func = getattr(nl, name)
    _, grad, hess = func(x, t, weight=w, return_grad=True, return_hess=True, **options)
    # the Hessian into the logits themselves
    x1 = x.copy()
    _, g1, h1 = func(x1, t, weight=w, return_grad=True, return_hess=True, hess_out=x1, **options)
    assert h1 is x1
    np.testing.assert_array_equal(h1, hess)
    np.testing.assert_array_equal(g1, grad)
    # the gradient into the logits, the Hessian into a Fortran-ordered array
    x2 = x.copy()
    out = np.asfortranarray(np.empty_like(x))
    _, g2, h2 = func(
        x2, t, weight=w, return_grad=True, return_hess=True, grad_out=x2, hess_out=out, **options
    )
    assert g2 is x2 and h2 is out
    np.testing.assert_array_equal(g2, grad)
    np.testing.assert_array_equal(h2, hess)


def test_hess_out_overlapping_grad_out_is_an_error(rng):
    x, t, _ = make_case(rng, (4, 3), np.float64)
    out = np.empty_like(x)
    with pytest.raises(ValueError, match="hess_out for input overlaps grad_out for input"):
        nl.cross_entropy(x, t, return_grad=True, return_hess=True, grad_out=out, hess_out=out)
    with pytest.raises(ValueError, match="return_hess=True requires return_grad=True"):
        nl.focal_loss(x, t, return_hess=True)
    with pytest.raises(ValueError, match="hess_out for input must have shape"):
        nl.nll_loss(x, t, return_grad=True, return_hess=True, hess_out=np.empty(3))


@pytest.mark.parametrize("n_classes", N_CLASSES)
def test_deterministic_across_thread_counts(rng, n_classes, any_thread_count):
    x, t, w = make_case(rng, (3000, n_classes), np.float32)
    before = nl.get_num_threads()
    results = []
    try:
        for threads in (1, 2, 3):
            nl.set_num_threads(threads)
            results.append(
                nl.focal_loss(x, t, weight=w, return_grad=True, return_hess=True, reduction="sum")
            )
    finally:
        nl.set_num_threads(before)
    for loss, grad, hess in results[1:]:
        assert loss == results[0][0]
        np.testing.assert_array_equal(grad, results[0][1])
        np.testing.assert_array_equal(hess, results[0][2])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_classes", N_CLASSES)
@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0])
def test_confident_logits_give_finite_hessians(dtype, n_classes, gamma):
    x = np.zeros((3, n_classes), dtype)
    x[0, 0] = 1000.0  # the target certain
    x[1, 1] = 1000.0  # another class certain
    x[2, 0] = 30.0
    t = np.array([0, 0, 0])
    _, grad, hess = nl.focal_loss(x, t, gamma=gamma, return_grad=True, return_hess=True)
    assert np.isfinite(hess).all() and np.isfinite(grad).all()
    assert (hess >= 0).all() or gamma > 0  # cross entropy's diagonal is p (1 - p) >= 0


@settings(max_examples=25, deadline=None)
@given(
    rows=st.integers(0, 40),
    n_classes=st.sampled_from([1, 2, 5, 33]),
    scale=st.sampled_from([0.1, 3.0, 50.0]),
    smoothing=st.sampled_from([0.0, 0.25]),
    seed=st.integers(0, 2**32 - 1),
)
def test_property_cross_entropy_hessian_bounds(rows, n_classes, scale, smoothing, seed):
    """``0 <= hess <= factor / 4`` per entry, rows of 0 for ignored targets, any logits."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((rows, n_classes)) * scale
    t = rng.integers(-1, n_classes, rows)
    loss, grad, hess = nl.cross_entropy(
        x, t, ignore_index=-1, label_smoothing=smoothing, reduction="sum",
        return_grad=True, return_hess=True,
    )  # fmt: skip
    assert hess.shape == x.shape
    assert np.isfinite(hess).all()
    assert (hess >= 0).all() and (hess <= 0.25 + 1e-12).all()
    assert (hess[t == -1] == 0).all()
    ref = np_cross_entropy_hess(x, t, None, -1, "sum", smoothing)
    np.testing.assert_allclose(hess, ref, rtol=1e-9, atol=1e-12)
