import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import numbaloss as nl
from numbaloss.testing.softmax import np_cross_entropy
from tests.conftest import assert_close, central_difference, layouts, torch_loss_and_grad

DTYPES = [np.float32, np.float64]


def make_case(rng, shape, dtype, ignored=True):
    x = (rng.standard_normal(shape) * 2).astype(dtype)
    n_classes = shape[1] if len(shape) >= 2 else shape[0]
    loss_shape = (shape[0], *shape[2:]) if len(shape) >= 2 else ()
    t = rng.integers(0, n_classes, loss_shape)
    if ignored and t.ndim:
        t.reshape(-1)[::3] = -100
    return x, t, rng.random(n_classes).astype(dtype) + 0.5


def torch_ce(torch, x, t, g, reduction, weight=None, **kw):
    tt = torch.tensor(np.asarray(t))
    wt = None if weight is None else torch.tensor(weight)
    return torch_loss_and_grad(
        torch, torch.nn.functional.cross_entropy, x, g, tt, weight=wt, reduction=reduction, **kw
    )


def upstream(rng, reduction, loss_shape, dtype):
    if reduction == "none":
        return rng.standard_normal(loss_shape).astype(dtype)
    return np.asarray(rng.standard_normal(), dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_classes", [4, 37])  # few-class (tile) kernel and row kernel
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_class_indices_vs_torch(torch, rng, dtype, n_classes, reduction, weighted, smoothing):
    x, t, w = make_case(rng, (13, n_classes), dtype)
    w = w if weighted else None
    g = upstream(rng, reduction, (13,), dtype)
    loss, grad = nl.cross_entropy(
        x,
        t,
        weight=w,
        reduction=reduction,
        label_smoothing=smoothing,
        return_grad=True,
        grad_output=g,
    )
    ref_loss, ref_grad = torch_ce(torch, x, t, g, reduction, weight=w, label_smoothing=smoothing)
    assert np.asarray(loss).dtype == dtype and grad.dtype == dtype
    assert np.shape(loss) == np.shape(ref_loss)
    assert_close(loss, ref_loss, dtype, scale=5)
    assert_close(grad, ref_grad, dtype, scale=5)
    assert_close(loss, np_cross_entropy(x, t, w, -100, reduction, smoothing), dtype, scale=5)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(6,), (5, 3), (4, 5, 3), (3, 40, 2, 3), (2, 3, 0)])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_shapes_vs_torch(torch, rng, dtype, shape, reduction):
    x, t, w = make_case(rng, shape, dtype, ignored=len(shape) > 1)
    loss_shape = np.shape(t)
    g = upstream(rng, reduction, loss_shape, dtype)
    loss, grad = nl.cross_entropy(
        x, t, weight=w, reduction=reduction, label_smoothing=0.1, return_grad=True, grad_output=g
    )
    ref_loss, ref_grad = torch_ce(torch, x, t, g, reduction, weight=w, label_smoothing=0.1)
    assert np.shape(loss) == np.shape(ref_loss)
    assert grad.shape == x.shape
    assert_close(loss, ref_loss, dtype, scale=5)
    assert_close(grad, ref_grad, dtype, scale=5)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(5,), (6, 4), (3, 33, 2)])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
def test_probability_targets_vs_torch(torch, rng, dtype, shape, reduction, weighted):
    x = rng.standard_normal(shape).astype(dtype)
    p = rng.random(shape).astype(dtype)
    p /= p.sum(axis=1 if len(shape) > 1 else 0, keepdims=True)
    n_classes = shape[1] if len(shape) > 1 else shape[0]
    w = rng.random(n_classes).astype(dtype) + 0.5 if weighted else None
    loss_shape = (shape[0], *shape[2:]) if len(shape) > 1 else ()
    g = upstream(rng, reduction, loss_shape, dtype)
    loss, grad = nl.cross_entropy(
        x, p, weight=w, reduction=reduction, label_smoothing=0.15, return_grad=True, grad_output=g
    )
    ref_loss, ref_grad = torch_ce(torch, x, p, g, reduction, weight=w, label_smoothing=0.15)
    assert_close(loss, ref_loss, dtype, scale=5)
    assert_close(grad, ref_grad, dtype, scale=5)
    assert_close(loss, np_cross_entropy(x, p, w, -100, reduction, 0.15), dtype, scale=5)


@pytest.mark.parametrize("n_classes", [3, 50])
@pytest.mark.parametrize("smoothing", [0.0, 0.3])
def test_all_targets_ignored(torch, n_classes, smoothing):
    x = np.arange(4.0 * n_classes).reshape(4, n_classes) / 7
    t = np.full(4, 2)
    loss, grad = nl.cross_entropy(x, t, ignore_index=2, label_smoothing=smoothing, return_grad=True)
    ref_loss, ref_grad = torch_ce(
        torch, x, t, 1.0, "mean", ignore_index=2, label_smoothing=smoothing
    )
    assert np.isnan(loss) and np.isnan(ref_loss)
    np.testing.assert_array_equal(grad, ref_grad)
    assert nl.cross_entropy(x, t, ignore_index=2, reduction="sum") == 0


@pytest.mark.parametrize("n_classes", [5, 40])
def test_ignore_index_inside_class_range(torch, rng, n_classes):
    x, t, w = make_case(rng, (9, n_classes), np.float64, ignored=False)
    t[::2] = 1
    g = upstream(rng, "mean", (), np.float64)
    loss, grad = nl.cross_entropy(
        x, t, weight=w, ignore_index=1, label_smoothing=0.05, return_grad=True, grad_output=g
    )
    ref = torch_ce(torch, x, t, g, "mean", weight=w, ignore_index=1, label_smoothing=0.05)
    assert_close(loss, ref[0], np.float64)
    assert_close(grad, ref[1], np.float64)


@pytest.mark.parametrize("n_classes", [4, 37])
@pytest.mark.parametrize("layout", ["C", "F", "negative_strides", "read_only", "big_endian"])
def test_layouts(torch, rng, n_classes, layout):
    x, t, w = make_case(rng, (7, n_classes), np.float64)
    arr = layouts(x)[layout]
    loss, grad = nl.cross_entropy(arr, t, weight=w, return_grad=True)
    ref = torch_ce(torch, x, t, 1.0, "mean", weight=w)
    assert_close(loss, ref[0], np.float64)
    assert_close(grad, ref[1], np.float64)


def test_strided_spatial_and_targets(torch, rng):
    big = rng.standard_normal((6, 8, 5, 4))
    x = big[::2, 1:6, ::2]  # (3, 5, 3, 4), not contiguous
    t = rng.integers(0, 5, (3, 3, 8))[:, :, ::2]
    loss, grad = nl.cross_entropy(x, t, reduction="sum", return_grad=True)
    ref = torch_ce(torch, np.ascontiguousarray(x), np.ascontiguousarray(t), 1.0, "sum")
    assert_close(loss, ref[0], np.float64)
    assert_close(grad, ref[1], np.float64)


@pytest.mark.parametrize("target_dtype", [np.int8, np.uint8, np.int32, np.uint64])
def test_any_integer_target_dtype(rng, target_dtype):
    x, t, _ = make_case(rng, (6, 5), np.float64, ignored=False)
    expected = nl.cross_entropy(x, t)
    assert nl.cross_entropy(x, t.astype(target_dtype)) == expected


@pytest.mark.parametrize("n_classes", [4, 37])
@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_finite_differences(rng, n_classes, reduction):
    x, t, w = make_case(rng, (5, n_classes), np.float64)
    g = upstream(rng, reduction, (5,), np.float64)

    def total(z):
        return float(
            np.sum(g * nl.cross_entropy(z, t, weight=w, reduction=reduction, label_smoothing=0.1))
        )

    _, grad = nl.cross_entropy(
        x, t, weight=w, reduction=reduction, label_smoothing=0.1, return_grad=True, grad_output=g
    )
    np.testing.assert_allclose(grad, central_difference(total, x), rtol=1e-6, atol=1e-8)


def test_probability_targets_finite_differences(rng):
    x = rng.standard_normal((4, 6))
    p = rng.random((4, 6))
    w = rng.random(6)

    def total(z):
        return float(nl.cross_entropy(z, p, weight=w, label_smoothing=0.2))

    _, grad = nl.cross_entropy(x, p, weight=w, label_smoothing=0.2, return_grad=True)
    np.testing.assert_allclose(grad, central_difference(total, x), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("n_classes", [4, 37])
@pytest.mark.parametrize("dtype", DTYPES)
def test_grad_out_in_place(rng, n_classes, dtype):
    x, t, w = make_case(rng, (9, n_classes), dtype)
    loss, grad = nl.cross_entropy(x, t, weight=w, label_smoothing=0.1, return_grad=True)
    x_copy = x.copy()
    loss2, grad2 = nl.cross_entropy(
        x_copy, t, weight=w, label_smoothing=0.1, return_grad=True, grad_out=x_copy
    )
    assert grad2 is x_copy
    assert loss2 == loss
    np.testing.assert_array_equal(grad2, grad)


def test_grad_out_other_layouts(rng):
    x, t, _ = make_case(rng, (4, 6, 3), np.float64)
    _, grad = nl.cross_entropy(x, t, return_grad=True)
    for out in (np.empty_like(x), np.empty_like(x, order="F")):
        _, got = nl.cross_entropy(x, t, return_grad=True, grad_out=out)
        assert got is out
        np.testing.assert_array_equal(out, grad)
    x2 = x.copy()
    _, got = nl.cross_entropy(x2, t, return_grad=True, grad_out=x2)  # spatial, in place
    assert got is x2
    np.testing.assert_array_equal(x2, grad)
    with pytest.raises(ValueError, match="shape"):
        nl.cross_entropy(x, t, return_grad=True, grad_out=np.empty((4, 6)))
    with pytest.raises(ValueError, match="dtype"):
        nl.cross_entropy(x, t, return_grad=True, grad_out=np.empty(x.shape, np.float32))


def test_float16_computed_in_float32(rng):
    x, t, w = make_case(rng, (8, 5), np.float32)
    x16 = x.astype(np.float16)
    loss, grad = nl.cross_entropy(x16, t, weight=w.astype(np.float16), return_grad=True)
    ref_loss, ref_grad = nl.cross_entropy(
        x16.astype(np.float32), t, weight=w.astype(np.float16).astype(np.float32), return_grad=True
    )
    assert loss.dtype == np.float16 and grad.dtype == np.float16
    assert loss == np.float16(ref_loss)
    np.testing.assert_array_equal(grad, ref_grad.astype(np.float16))


@pytest.mark.parametrize("n_classes", [3, 600])
def test_deterministic_across_thread_counts(rng, n_classes, any_thread_count):
    rows = 200_000 // n_classes
    x = rng.standard_normal((rows, n_classes)).astype(np.float32)
    t = rng.integers(0, n_classes, rows)
    threads = nl.get_num_threads()
    try:
        nl.set_num_threads(1)
        one = nl.cross_entropy(x, t, label_smoothing=0.1, return_grad=True)
        nl.set_num_threads(max(threads, 2))
        many = nl.cross_entropy(x, t, label_smoothing=0.1, return_grad=True)
    finally:
        nl.set_num_threads(threads)
    assert one[0] == many[0]
    np.testing.assert_array_equal(one[1], many[1])


@pytest.mark.parametrize("n_classes", [3, 40])
def test_nan_and_inf_propagate(torch, n_classes):
    x = np.zeros((4, n_classes))
    x[0, 1] = np.nan
    x[1, 0] = np.inf
    x[2, :] = -np.inf
    x[3, 2] = -np.inf
    t = np.array([0, 1, 0, 0])
    loss, grad = nl.cross_entropy(x, t, reduction="none", return_grad=True)
    ref = torch_ce(torch, x, t, np.ones(4), "none")
    np.testing.assert_array_equal(np.isnan(loss), np.isnan(ref[0]))
    assert np.isnan(loss[:3]).all() and np.isfinite(loss[3])
    assert np.isnan(grad[:3]).all()
    assert_close(loss[3], ref[0][3], np.float64)
    assert_close(grad[3], ref[1][3], np.float64)


def test_confident_logits_keep_tiny_loss():
    x = np.array([[40.0, 0.0, 0.0]], dtype=np.float32)
    loss = nl.cross_entropy(x, [0])
    assert loss > 0 and abs(loss / (2 * np.exp(-40.0)) - 1) < 1e-5


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_empty(reduction):
    x = np.zeros((0, 4), dtype=np.float32)
    t = np.zeros(0, dtype=np.int64)
    loss, grad = nl.cross_entropy(x, t, reduction=reduction, return_grad=True)
    assert grad.shape == (0, 4)
    if reduction == "mean":
        assert np.isnan(loss)
    elif reduction == "sum":
        assert loss == 0
    else:
        assert loss.shape == (0,)


def test_bad_inputs():
    x = np.zeros((3, 4))
    with pytest.raises(ValueError, match="target 7 is out of bounds"):
        nl.cross_entropy(x, [0, 7, 1])
    with pytest.raises(ValueError, match="target -3 is out of bounds"):
        nl.cross_entropy(x, [0, -3, 1])
    with pytest.raises(ValueError, match=r"target of shape \(4,\)"):
        nl.cross_entropy(x, [0, 1, 2, 3])
    with pytest.raises(ValueError, match=r"target of shape \(3, 1\)"):
        nl.cross_entropy(x, [[0], [1], [2]])
    with pytest.raises(ValueError, match="class probabilities and must have the input's shape"):
        nl.cross_entropy(x, np.zeros((3, 5)))
    with pytest.raises(ValueError, match="class indices must be integers"):
        nl.cross_entropy(x, np.zeros(3))  # float class indices are not accepted
    with pytest.raises(ValueError, match="weight"):
        nl.cross_entropy(x, [0, 1, 2], weight=[1.0, 2.0])
    with pytest.raises(ValueError, match="reduction"):
        nl.cross_entropy(x, [0, 1, 2], reduction="avg")
    with pytest.raises(ValueError, match="label_smoothing"):
        nl.cross_entropy(x, [0, 1, 2], label_smoothing=1.5)
    with pytest.raises(ValueError, match="scalar"):
        nl.cross_entropy(np.float64(1.0), 0)
    with pytest.raises(ValueError, match="no classes"):
        nl.cross_entropy(np.zeros((3, 0)), [-100, -100, -100])
    with pytest.raises(TypeError):
        nl.cross_entropy(x.astype(complex), [0, 1, 2])
    with pytest.raises(TypeError):
        nl.cross_entropy(x, ["a", "b", "c"])
    with pytest.raises(ValueError, match="grad_output"):
        nl.cross_entropy(x, [0, 1, 2], return_grad=True, grad_output=np.ones(3))
    with pytest.raises(ValueError, match="grad_output"):
        nl.cross_entropy(x, [0, 1, 2], reduction="none", return_grad=True, grad_output=np.ones(4))


def test_out_of_range_leaves_in_place_input_untouched():
    x = np.ones((3, 40))
    with pytest.raises(ValueError, match="out of bounds"):
        nl.cross_entropy(x, [0, 1, 99], return_grad=True, grad_out=x)
    assert (x == 1).all()


def test_class_module(rng):
    x, t, w = make_case(rng, (5, 4), np.float64)
    loss_fn = nl.CrossEntropyLoss(weight=w, label_smoothing=0.1, reduction="sum")
    loss, grad = loss_fn(x, t, return_grad=True)
    ref = nl.cross_entropy(x, t, weight=w, label_smoothing=0.1, reduction="sum", return_grad=True)
    assert loss == ref[0]
    np.testing.assert_array_equal(grad, ref[1])


@settings(max_examples=25, deadline=None)
@given(
    rows=st.integers(0, 9),
    n_classes=st.sampled_from([1, 2, 5, 33]),
    scale=st.sampled_from([1.0, 100.0, 1e4]),
    smoothing=st.sampled_from([0.0, 0.25]),
    dtype=st.sampled_from([np.float16, np.float32]),
    seed=st.integers(0, 2**32 - 1),
)
def test_property_large_logits(rows, n_classes, scale, smoothing, dtype, seed):
    rng = np.random.default_rng(seed)
    x = (rng.uniform(-1, 1, (rows, n_classes)) * scale).astype(dtype)
    t = rng.integers(0, n_classes, rows)
    loss, grad = nl.cross_entropy(
        x, t, label_smoothing=smoothing, reduction="none", return_grad=True
    )
    assert loss.dtype == dtype and grad.dtype == dtype
    ref = np_cross_entropy(x, t, None, -100, "none", smoothing)
    assert np.isfinite(loss).all() and np.isfinite(grad).all()
    if dtype == np.float16:  # computed in float32, rounded once to float16
        np.testing.assert_allclose(loss, ref.astype(np.float16), rtol=1e-3, atol=1e-6 * scale)
    else:
        np.testing.assert_allclose(loss, ref, rtol=1e-5, atol=1e-6 * scale)
    # each gradient row sums to 0 (softmax minus a distribution)
    np.testing.assert_allclose(
        grad.astype(np.float32).sum(axis=1), 0, atol=1e-5 if dtype == np.float32 else 2e-3
    )


def test_float_class_labels_say_that_class_indices_must_be_integers():
    """Float labels of the shape of class indices: the error says to make them integers."""
    x = np.zeros((3, 4))
    with pytest.raises(ValueError, match=r"class indices must be integers") as info:
        nl.cross_entropy(x, np.array([0.0, 1.0, 3.0]))
    assert "astype(np.int64)" in str(info.value) and "(3,)" in str(info.value)
    with pytest.raises(ValueError, match=r"class indices must be integers"):
        nl.CrossEntropyLoss()(np.zeros((2, 4, 5)), np.zeros((2, 5)))
    # another shape: the probabilities' rule, and the integers' one
    with pytest.raises(
        ValueError, match=r"must have the input's shape \(3, 4\); got \(4,\)"
    ) as info:
        nl.cross_entropy(x, np.zeros(4))
    assert "must be integers" in str(info.value)
    assert nl.cross_entropy(x, np.array([0, 1, 3])) == pytest.approx(np.log(4))
