"""Hypothesis property tests: random shapes, extreme values, NaN/inf, empty arrays."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from numbaloss.testing.elementwise import CASES, NAMES

SETTINGS = settings(max_examples=25, deadline=None)
shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=5)
finite64 = st.floats(-1e300, 1e300, allow_nan=False, allow_infinity=False)
anyfloat32 = st.floats(width=32, allow_nan=True, allow_infinity=True)


@SETTINGS
@given(data=st.data(), name=st.sampled_from(NAMES), shape=shapes)
def test_none_equals_elementwise_reference_and_reductions_agree(data, name, shape):
    case = CASES[name]
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    arrays = case.make(rng, shape, np.float64)
    if name == "poisson_nll_loss":
        arrays = (np.abs(arrays[0]), arrays[1])
    loss = case.func(*arrays, reduction="none", **case.options)
    assert loss.shape == shape
    np.testing.assert_allclose(
        loss, case.numpy_ref(*arrays, **case.options), rtol=1e-12, atol=1e-12
    )
    total = case.func(*arrays, reduction="sum", **case.options)
    np.testing.assert_allclose(total, loss.sum(), rtol=1e-12, atol=1e-12)
    mean = case.func(*arrays, reduction="mean", **case.options)
    if loss.size:
        np.testing.assert_allclose(mean, loss.mean(), rtol=1e-12, atol=1e-12)
    else:
        assert np.isnan(mean) and total == 0


@SETTINGS
@given(
    x=hnp.arrays(np.float32, shapes, elements=anyfloat32),
    name=st.sampled_from(
        [
            "l1_loss",
            "mse_loss",
            "smooth_l1_loss",
            "huber_loss",
            "soft_margin_loss",
            "binary_cross_entropy_with_logits",
            "hinge_embedding_loss",
        ]
    ),
)
def test_extreme_values_behave_like_the_formula(x, name):
    """NaN stays NaN, inf gives inf or a finite limit, never a NaN from overflow."""
    case = CASES[name]
    target = np.where(np.arange(x.size).reshape(x.shape) % 2 == 0, 1.0, -1.0).astype(np.float32)
    if name == "binary_cross_entropy_with_logits":
        target = (target > 0).astype(np.float32)
    loss, grad = case.func(x, target, reduction="none", return_grad=True, **case.options)
    with np.errstate(all="ignore"):
        ref = case.numpy_ref(x.astype(np.float64), target.astype(np.float64), **case.options)
    assert loss.dtype == np.float32 and grad.dtype == np.float32
    np.testing.assert_array_equal(np.isnan(loss), np.isnan(ref))
    both = np.isfinite(ref) & (np.abs(ref) < 1e38)
    np.testing.assert_allclose(loss[both], ref[both], rtol=2e-6, atol=1e-30)
    assert not np.isnan(grad[np.isfinite(x)]).any()
    nan_dependent = np.isnan(x)
    if name == "hinge_embedding_loss":  # with target 1 the loss is x: its gradient is 1
        nan_dependent &= target != 1
    assert np.isnan(grad[nan_dependent]).all()


@SETTINGS
@given(
    x=hnp.arrays(np.float64, shapes, elements=finite64),
    name=st.sampled_from(["soft_margin_loss", "binary_cross_entropy_with_logits"]),
)
def test_stable_for_huge_logits(x, name):
    target = np.ones_like(x)
    loss, grad = CASES[name].func(x, target, reduction="none", return_grad=True)
    assert np.isfinite(grad).all()
    assert not np.isnan(loss).any()
    assert (loss >= 0).all()
