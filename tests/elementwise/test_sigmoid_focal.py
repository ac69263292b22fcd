"""sigmoid_focal_loss (torchvision's) against PyTorch, NumPy and finite differences."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import numbaloss as nl
from numbaloss.testing.elementwise import np_sigmoid_focal, torchvision_sigmoid_focal
from tests.conftest import assert_close, central_difference, layouts, torch_loss_and_grad

DTYPES = [np.float32, np.float64]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("alpha", [0.25, -1.0])
@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0])
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_sigmoid_focal_vs_torchvision(torch, rng, dtype, alpha, gamma, reduction):
    x = (rng.standard_normal((5, 7)) * 3).astype(dtype)
    y = (rng.random((5, 7)) < 0.3).astype(dtype)
    y[0, :3] = [0.2, 0.5, 0.9]  # soft labels too
    g = rng.standard_normal((5, 7)).astype(dtype) if reduction == "none" else 0.7
    loss, grad = nl.sigmoid_focal_loss(
        x, y, alpha=alpha, gamma=gamma, reduction=reduction, return_grad=True, grad_output=g
    )
    ref = torch_loss_and_grad(
        torch,
        torchvision_sigmoid_focal(torch),
        x,
        g,
        torch.tensor(y),
        alpha=alpha,
        gamma=gamma,
        reduction=reduction,
    )
    assert_close(loss, ref[0], dtype, scale=10)
    assert_close(grad, ref[1], dtype, scale=10)
    assert_close(loss, np_sigmoid_focal(x, y, alpha, gamma, reduction), dtype, scale=10)


def test_sigmoid_focal_default_is_none_reduction(rng):
    x = rng.standard_normal(6)
    y = (rng.random(6) < 0.5).astype(float)
    assert nl.sigmoid_focal_loss(x, y).shape == (6,)
    assert_close(nl.SigmoidFocalLoss(alpha=0.5)(x, y), np_sigmoid_focal(x, y, 0.5), np.float64)


@pytest.mark.parametrize("gamma", [0.0, 0.4, 2.0])
def test_sigmoid_focal_finite_differences(rng, gamma):
    x = rng.standard_normal((3, 4)) * 2
    y = (rng.random((3, 4)) < 0.5).astype(float)
    y[0, 0] = 0.3
    _, grad = nl.sigmoid_focal_loss(x, y, gamma=gamma, reduction="sum", return_grad=True)
    fd = central_difference(
        lambda z: float(nl.sigmoid_focal_loss(z, y, gamma=gamma, reduction="sum")), x
    )
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("gamma", [0.3, 2.0])
def test_sigmoid_focal_huge_logits_stay_finite(dtype, gamma):
    x = np.array([-3000.0, -1000.0, 1000.0, 3000.0], dtype=dtype)
    for label in (0.0, 1.0):
        y = np.full(4, label, dtype=dtype)
        loss, grad = nl.sigmoid_focal_loss(x, y, alpha=-1, gamma=gamma, return_grad=True)
        assert np.isfinite(loss).all() and np.isfinite(grad).all()
        wrong = (x > 0) != (label == 1)
        np.testing.assert_allclose(loss[wrong], np.abs(x[wrong]), rtol=1e-6)
        np.testing.assert_allclose(np.abs(grad[wrong]), 1, rtol=1e-6)
        assert (loss[~wrong] == 0).all() and (grad[~wrong] == 0).all()


def test_sigmoid_focal_layouts_and_bad_inputs(rng):
    x = rng.standard_normal((4, 5))
    y = (rng.random((4, 5)) < 0.5).astype(float)
    ref = nl.sigmoid_focal_loss(x, y, reduction="sum", return_grad=True)
    for name, arr in layouts(x).items():
        got = nl.sigmoid_focal_loss(arr, y, reduction="sum", return_grad=True)
        assert_close(got[0], ref[0], np.float64, err_msg=name)
        assert_close(got[1], ref[1], np.float64, err_msg=name)
    with pytest.raises(ValueError, match="same shape"):
        nl.sigmoid_focal_loss(x, y[:, :2])
    with pytest.raises(ValueError, match="gamma"):
        nl.sigmoid_focal_loss(x, y, gamma=-1.0)
    with pytest.raises(ValueError, match="reduction"):
        nl.sigmoid_focal_loss(x, y, reduction="batchmean")
    assert np.isnan(nl.sigmoid_focal_loss(np.zeros(0), np.zeros(0), reduction="mean"))
    assert np.isnan(nl.sigmoid_focal_loss([np.nan], [1.0])).all()


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(0, 20),
    scale=st.sampled_from([1.0, 30.0, 3000.0]),
    gamma=st.sampled_from([0.0, 0.5, 2.0]),
    seed=st.integers(0, 2**32 - 1),
)
def test_sigmoid_focal_property(n, scale, gamma, seed):
    rng = np.random.default_rng(seed)
    x = (rng.uniform(-1, 1, n) * scale).astype(np.float32)
    y = (rng.random(n) < 0.5).astype(np.float32)
    loss, grad = nl.sigmoid_focal_loss(
        x.astype(np.float16) if scale == 1.0 else x, y, gamma=gamma, return_grad=True
    )
    assert np.isfinite(loss).all() and np.isfinite(grad).all()
    assert (loss >= 0).all()
    # the gradient pushes the logit towards the label
    assert ((grad <= 0) | (y == 0)).all() and ((grad >= 0) | (y == 1)).all()


def test_sigmoid_focal_deterministic_across_thread_counts(rng, any_thread_count):
    x = rng.standard_normal(150_000).astype(np.float32)
    y = (rng.random(x.shape) < 0.2).astype(np.float32)
    threads = nl.get_num_threads()
    try:
        nl.set_num_threads(1)
        l1, g1 = nl.sigmoid_focal_loss(x, y, reduction="sum", return_grad=True)
        nl.set_num_threads(max(threads, 2))
        l2, g2 = nl.sigmoid_focal_loss(x, y, reduction="sum", return_grad=True)
    finally:
        nl.set_num_threads(threads)
    assert l1 == l2
    np.testing.assert_array_equal(g1, g2)


@pytest.mark.parametrize("alpha", [2.0, 1.0000001, float("nan"), float("inf")])
def test_alpha_outside_zero_one_is_refused(alpha):
    """alpha=2 gave negative losses; torchvision's range is [0, 1], or negative (no weighting)."""
    x, y = np.array([0.5, -1.0]), np.array([1.0, 0.0])
    with pytest.raises(ValueError, match=r"alpha must be in \[0, 1\].*or negative"):
        nl.sigmoid_focal_loss(x, y, alpha=alpha)
    loss_fn = nl.SigmoidFocalLoss(alpha=alpha)
    with pytest.raises(ValueError, match=r"alpha must be in \[0, 1\]"):
        loss_fn(x, y)


@pytest.mark.parametrize("alpha", [0.0, 1.0, 0.5, -1.0, -0.5])
def test_alpha_in_range_or_negative_is_accepted(alpha):
    x, y = np.array([0.5, -1.0, 3.0]), np.array([1.0, 0.0, 0.0])
    loss = nl.sigmoid_focal_loss(x, y, alpha=alpha)
    assert np.all(loss >= 0)
    assert_close(loss, np_sigmoid_focal(x, y, alpha), np.float64)
