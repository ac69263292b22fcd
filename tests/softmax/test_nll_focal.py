import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import numbaloss as nl
from numbaloss.testing.softmax import np_focal
from tests.conftest import assert_close, central_difference, layouts, torch_loss_and_grad

DTYPES = [np.float32, np.float64]


def case(rng, shape, dtype):
    x = (rng.standard_normal(shape) * 2).astype(dtype)
    n_classes = shape[1] if len(shape) >= 2 else shape[0]
    t = rng.integers(0, n_classes, (shape[0], *shape[2:]) if len(shape) >= 2 else ())
    if t.ndim:
        t.reshape(-1)[1::4] = -100
    return x, t, (rng.random(n_classes) + 0.5).astype(dtype)


def upstream(rng, reduction, shape, dtype):
    if reduction == "none":
        return rng.standard_normal(shape).astype(dtype)
    return np.asarray(rng.standard_normal(), dtype=dtype)


def torch_focal(xt, t, gamma, weight=None, ignore_index=-100, reduction="mean"):
    """The usual PyTorch composite: nll_loss((1 - p)**gamma * log_softmax(x), t).

    Only called by tests that take the ``torch`` fixture.
    """
    import torch

    F = torch.nn.functional
    lsm = F.log_softmax(xt, 1 if xt.dim() > 1 else 0)
    w = None if weight is None else torch.tensor(weight)
    return F.nll_loss(
        (1 - lsm.exp()) ** gamma * lsm,
        torch.tensor(t),
        weight=w,
        ignore_index=ignore_index,
        reduction=reduction,
    )


# --- nll_loss -----------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(5,), (9, 4), (3, 40, 2, 2)])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
def test_nll_vs_torch(torch, rng, dtype, shape, reduction, weighted):
    x, t, w = case(rng, shape, dtype)
    w = w if weighted else None
    g = upstream(rng, reduction, np.shape(t), dtype)
    loss, grad = nl.nll_loss(x, t, weight=w, reduction=reduction, return_grad=True, grad_output=g)
    ref = torch_loss_and_grad(
        torch,
        torch.nn.functional.nll_loss,
        x,
        g,
        torch.tensor(t),
        weight=None if w is None else torch.tensor(w),
        reduction=reduction,
    )
    assert np.shape(loss) == np.shape(ref[0])
    assert_close(loss, ref[0], dtype, scale=5)
    assert_close(grad, ref[1], dtype, scale=5)


def test_nll_reference_and_finite_differences(rng):
    x, t, w = case(rng, (6, 5), np.float64)
    keep = t != -100
    w_t = np.where(keep, w[np.where(keep, t, 0)], 0)
    expected = -(w_t * x[np.arange(6), np.where(keep, t, 0)]).sum() / w_t.sum()
    assert_close(nl.nll_loss(x, t, weight=w), expected, np.float64)
    _, grad = nl.nll_loss(x, t, weight=w, return_grad=True)
    fd = central_difference(lambda z: float(nl.nll_loss(z, t, weight=w)), x)
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("layout", ["F", "negative_strides", "big_endian"])
def test_nll_layouts_and_in_place(rng, layout):
    x, t, w = case(rng, (7, 6), np.float64)
    loss, grad = nl.nll_loss(x, t, weight=w, return_grad=True)
    got = nl.nll_loss(layouts(x)[layout], t, weight=w, return_grad=True)
    assert got[0] == loss
    np.testing.assert_array_equal(got[1], grad)
    x2 = x.copy()
    in_place = nl.nll_loss(x2, t, weight=w, return_grad=True, grad_out=x2)
    assert in_place[1] is x2
    np.testing.assert_array_equal(x2, grad)
    assert in_place[0] == loss  # the loss is read before the row is overwritten


def test_nll_bad_inputs_and_edges():
    x = np.zeros((3, 4))
    with pytest.raises(ValueError, match="target 4 is out of bounds"):
        nl.nll_loss(x, [0, 4, 1])
    with pytest.raises(ValueError, match="target of shape"):
        nl.nll_loss(x, [0, 1])
    with pytest.raises(TypeError, match="integer class indices"):
        nl.nll_loss(x, np.zeros((3, 4)))
    assert np.isnan(nl.nll_loss(x, [-100, -100, -100]))
    assert np.isnan(nl.nll_loss(np.zeros((0, 4)), np.zeros(0, int)))
    assert nl.nll_loss(np.zeros((0, 4)), np.zeros(0, int), reduction="sum") == 0
    x[1, 2] = np.nan
    assert np.isnan(nl.nll_loss(x, [0, 2, 1]))
    assert nl.NLLLoss(reduction="sum")(x, [0, 1, 1]) == 0


# --- focal_loss ----------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_classes", [4, 37])
@pytest.mark.parametrize("gamma", [0.5, 2.0])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_focal_vs_torch(torch, rng, dtype, n_classes, gamma, reduction):
    x, t, w = case(rng, (11, n_classes), dtype)
    g = upstream(rng, reduction, (11,), dtype)
    loss, grad = nl.focal_loss(
        x, t, gamma=gamma, weight=w, reduction=reduction, return_grad=True, grad_output=g
    )
    ref = torch_loss_and_grad(torch, torch_focal, x, g, t, gamma, w, reduction=reduction)
    assert_close(loss, ref[0], dtype, scale=10)
    assert_close(grad, ref[1], dtype, scale=10)
    assert_close(loss, np_focal(x, t, gamma, w, -100, reduction), dtype, scale=10)


@pytest.mark.parametrize("shape", [(6,), (3, 5, 2, 3)])
def test_focal_shapes_vs_torch(torch, rng, shape):
    x, t, w = case(rng, shape, np.float64)
    loss, grad = nl.focal_loss(x, t, gamma=1.5, weight=w, return_grad=True)
    ref = torch_loss_and_grad(torch, torch_focal, x, 1.0, t, 1.5, w)
    assert_close(loss, ref[0], np.float64)
    assert_close(grad, ref[1], np.float64)


@pytest.mark.parametrize("n_classes", [4, 37])
@pytest.mark.parametrize("gamma", [0.3, 2.0])
def test_focal_finite_differences(rng, n_classes, gamma):
    x, t, w = case(rng, (5, n_classes), np.float64)
    g = rng.standard_normal(5)
    _, grad = nl.focal_loss(
        x, t, gamma=gamma, weight=w, reduction="none", return_grad=True, grad_output=g
    )
    fd = central_difference(
        lambda z: float(np.sum(g * nl.focal_loss(z, t, gamma=gamma, weight=w, reduction="none"))), x
    )
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("n_classes", [4, 37])
@pytest.mark.parametrize("dtype", DTYPES)
def test_focal_gamma_zero_is_cross_entropy(rng, n_classes, dtype):
    x, t, w = case(rng, (9, n_classes), dtype)
    for reduction in ("mean", "sum", "none"):
        a = nl.focal_loss(x, t, gamma=0.0, weight=w, reduction=reduction, return_grad=True)
        b = nl.cross_entropy(x, t, weight=w, reduction=reduction, return_grad=True)
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])


@pytest.mark.parametrize("n_classes", [3, 40])
@pytest.mark.parametrize("gamma", [0.2, 0.5, 1.0, 2.0])
def test_focal_confident_logits_stay_finite(n_classes, gamma):
    x = np.zeros((3, n_classes), dtype=np.float32)
    x[0, 0] = 30.0  # p_t = 1 - 2e-13: 1 - p_t is not representable as 1 - p in float32
    x[1, 0] = 200.0  # p_t rounds to 1 exactly
    x[2, 1] = 1e4  # very wrong
    loss, grad = nl.focal_loss(x, [0, 0, 0], gamma=gamma, reduction="none", return_grad=True)
    assert np.isfinite(loss).all() and np.isfinite(grad).all()
    q = (n_classes - 1) * np.exp(-30.0)  # 1 - p_t of row 0
    np.testing.assert_allclose(loss[0], q**gamma * q, rtol=1e-4)
    assert loss[1] == 0 and (grad[1] == 0).all()
    np.testing.assert_allclose(loss[2], 1e4, rtol=1e-6)
    # row 0: F (p - onehot) with F = q^g + g (1-q) q^(g-1) q  ~ (1 + g) q^g
    np.testing.assert_allclose(-grad[0, 0], (1 + gamma) * q**gamma * q, rtol=1e-3)


def test_focal_bad_inputs():
    x = np.zeros((3, 4))
    with pytest.raises(ValueError, match="target 9 is out of bounds"):
        nl.focal_loss(x, [0, 9, 1])
    with pytest.raises(ValueError, match="gamma"):
        nl.focal_loss(x, [0, 1, 1], gamma=-1.0)
    with pytest.raises(TypeError, match="integer class indices"):
        nl.focal_loss(x, np.zeros((3, 4)))
    assert np.isnan(nl.focal_loss(x, [-100, -100, -100]))
    assert nl.FocalLoss(gamma=1.0, reduction="sum")(x, [-100, -100, -100]) == 0


@settings(max_examples=25, deadline=None)
@given(
    rows=st.integers(0, 8),
    n_classes=st.sampled_from([2, 6, 35]),
    scale=st.sampled_from([1.0, 50.0, 1e4]),
    gamma=st.sampled_from([0.25, 1.0, 3.0]),
    seed=st.integers(0, 2**32 - 1),
)
def test_focal_property_float32(rows, n_classes, scale, gamma, seed):
    rng = np.random.default_rng(seed)
    x = (rng.uniform(-1, 1, (rows, n_classes)) * scale).astype(np.float32)
    t = rng.integers(0, n_classes, rows)
    loss, grad = nl.focal_loss(x, t, gamma=gamma, reduction="none", return_grad=True)
    assert np.isfinite(loss).all() and np.isfinite(grad).all()
    assert (loss >= 0).all()
    ce = nl.cross_entropy(x, t, reduction="none")
    assert (loss <= ce * (1 + 1e-6) + 1e-30).all()  # (1 - p)^gamma <= 1
    np.testing.assert_allclose(grad.sum(axis=1), 0, atol=1e-5)


@pytest.mark.parametrize("n_classes", [5, 300])
def test_deterministic_across_thread_counts(rng, n_classes, any_thread_count):
    rows = 150_000 // n_classes
    x = rng.standard_normal((rows, n_classes)).astype(np.float32)
    t = rng.integers(0, n_classes, rows)
    calls = [
        lambda: nl.focal_loss(x, t, gamma=2.0, return_grad=True),
        lambda: nl.nll_loss(x, t, return_grad=True),
    ]
    threads = nl.get_num_threads()
    try:
        nl.set_num_threads(1)
        one = [call() for call in calls]
        nl.set_num_threads(max(threads, 2))
        many = [call() for call in calls]
    finally:
        nl.set_num_threads(threads)
    for (l1, g1), (l2, g2) in zip(one, many):
        assert l1 == l2
        np.testing.assert_array_equal(g1, g2)
