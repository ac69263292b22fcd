import numpy as np
import pytest
import scipy.special as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import numbaloss as nl
from tests.conftest import assert_close, layouts

AXES = [None, 0, 1, -1, (0, 2), (1, 2)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("axis", AXES)
def test_vs_scipy(rng, dtype, axis):
    x = (rng.standard_normal((3, 4, 5)) * 30).astype(dtype)
    assert_close(nl.logsumexp(x, axis=axis), sp.logsumexp(x.astype(np.float64), axis=axis), dtype)
    assert_close(
        nl.logsumexp(x, axis=axis, keepdims=True),
        sp.logsumexp(x.astype(np.float64), axis=axis, keepdims=True),
        dtype,
    )
    assert_close(
        nl.log_softmax(x, axis=axis),
        sp.log_softmax(x.astype(np.float64), axis=axis),
        dtype,
        scale=10,
    )
    assert_close(nl.softmax(x, axis=axis), sp.softmax(x.astype(np.float64), axis=axis), dtype)
    assert nl.softmax(x, axis=axis).dtype == dtype


@pytest.mark.parametrize(
    "row",
    [
        [np.inf, 1.0],
        [np.inf, np.inf],
        [-np.inf, -np.inf],
        [np.inf, -np.inf],
        [np.nan, np.inf],
        [-np.inf, 1.0],
        [np.inf, np.nan],
        [1000.0, 1.0],
        [-1000.0, -1000.0],
        [np.nan, 1.0],
    ],
)
def test_infinities_as_scipy(row):
    x = np.array(row)
    with np.errstate(invalid="ignore"):
        np.testing.assert_array_equal(nl.logsumexp(x), sp.logsumexp(x))
        np.testing.assert_array_equal(nl.softmax(x), sp.softmax(x))
        np.testing.assert_array_equal(nl.log_softmax(x), sp.log_softmax(x))


def test_layouts_scalars_and_empty(rng):
    x = rng.standard_normal((4, 6))
    for name, arr in layouts(x).items():
        assert_close(
            nl.log_softmax(arr, axis=1), sp.log_softmax(x, axis=1), np.float64, err_msg=name
        )
    assert isinstance(nl.logsumexp(x), np.float64)
    assert nl.logsumexp(3.0) == 3.0
    assert nl.softmax(2.0) == 1.0
    assert nl.logsumexp(np.zeros((2, 0)), axis=1).tolist() == [-np.inf, -np.inf]
    assert nl.softmax(np.zeros((2, 0)), axis=1).shape == (2, 0)
    assert nl.logsumexp([1, 2, 3]).dtype == np.float64
    assert nl.logsumexp(np.ones(3, np.float16)).dtype == np.float16
    with pytest.raises(TypeError):
        nl.softmax(["a"])
    with pytest.raises(np.exceptions.AxisError):
        nl.softmax(x, axis=2)


@settings(max_examples=25, deadline=None)
@given(
    shape=st.sampled_from([(1,), (7,), (3, 5), (2, 3, 4)]),
    scale=st.sampled_from([1.0, 100.0, 1e4]),
    seed=st.integers(0, 2**32 - 1),
)
def test_property_stable(shape, scale, seed):
    rng = np.random.default_rng(seed)
    x = (rng.uniform(-1, 1, shape) * scale).astype(np.float32)
    s = nl.softmax(x, axis=-1)
    assert np.isfinite(s).all()
    np.testing.assert_allclose(s.sum(axis=-1), 1, rtol=1e-5)
    np.testing.assert_allclose(
        nl.logsumexp(x, axis=-1), sp.logsumexp(x.astype(np.float64), axis=-1), rtol=1e-6, atol=1e-6
    )
