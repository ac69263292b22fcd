"""``linear_cross_entropy``: against PyTorch 2.13 (its reference and its chunked path), the
NumPy reference of ``numbaloss.testing.softmax`` and finite differences; chunking,
memory, determinism, ``grad_out`` and errors."""

import tracemalloc
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import numbaloss as nl
from numbaloss.softmax import linear
from numbaloss.testing.softmax import np_linear_cross_entropy, np_linear_cross_entropy_grad
from tests.conftest import assert_close, central_difference

DTYPES = [np.float32, np.float64]
REDUCTIONS = ["mean", "sum", "none"]


def make(
    rng,
    n,
    k,
    c,
    dtype,
    out_features=(),
    bias=False,
    weighted=False,
    ignored=True,
    prob=False,
    batched=True,
):
    """Inputs of one call: ``x, w, t, b, class weight``."""
    x = rng.standard_normal((n, k) if batched else (k,)).astype(dtype)
    w = (rng.standard_normal((c, *out_features, k)) / np.sqrt(max(k, 1)) * 2).astype(dtype)
    b = rng.standard_normal((c, *out_features)).astype(dtype) if bias else None
    cw = (rng.random(c) + 0.5).astype(dtype) if weighted else None
    loss_shape = ((n,) if batched else ()) + tuple(out_features)
    if prob:
        shape = ((n,) if batched else ()) + (c, *out_features)
        t = rng.random(shape).astype(dtype)
        t /= t.sum(axis=1 if batched else 0, keepdims=True)
    else:
        t = rng.integers(0, c, loss_shape)
        if ignored and t.ndim:
            t.reshape(-1)[1::3] = -100
    return x, w, t, b, cw


def upstream(rng, reduction, loss_shape, dtype):
    if reduction == "none":
        return rng.standard_normal(loss_shape).astype(dtype)
    return np.asarray(rng.standard_normal(), dtype=dtype)


def torch_lce(torch, x, w, t, b, cw, g, chunked=False, **kw):
    """PyTorch's loss and the gradients of ``sum(g * loss)`` (reference or chunked path)."""
    F = torch.nn.functional
    xt = torch.tensor(x, requires_grad=True)
    wt = torch.tensor(w, requires_grad=True)
    bt = None if b is None else torch.tensor(b, requires_grad=True)
    tt = torch.tensor(t)
    cwt = None if cw is None else torch.tensor(cw)
    options = torch.nn.LinearCrossEntropyOptions() if chunked else None
    loss = F.linear_cross_entropy(xt, wt, tt, linear_bias=bt, weight=cwt, options=options, **kw)
    (loss * torch.tensor(np.asarray(g, dtype=x.dtype))).sum().backward()
    grads = [xt.grad.numpy(), wt.grad.numpy()] + ([] if bt is None else [bt.grad.numpy()])
    return loss.detach().numpy(), grads


def check(got, ref, dtype, scale=20):
    loss, grads = got
    ref_loss, ref_grads = ref
    assert np.shape(loss) == np.shape(ref_loss)
    assert np.asarray(loss).dtype == dtype
    assert_close(loss, ref_loss, dtype, scale=scale)
    assert len(grads) == len(ref_grads)
    for grad, ref_grad in zip(grads, ref_grads):
        assert grad.shape == ref_grad.shape and grad.dtype == dtype
        assert_close(grad, ref_grad, dtype, scale=scale)


# --- against PyTorch ----------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("chunked", [False, True], ids=["reference", "chunked"])
def test_class_indices_vs_torch(torch, rng, dtype, reduction, bias, weighted, chunked):
    """Both PyTorch paths, every option its chunked path supports; C = 37 and chunks of 4
    rows over N = 11 (the last chunk short), and ignored rows."""
    x, w, t, b, cw = make(rng, 11, 6, 37, dtype, bias=bias, weighted=weighted)
    g = upstream(rng, reduction, (11,), dtype)
    got = nl.linear_cross_entropy(
        x,
        w,
        t,
        linear_bias=b,
        weight=cw,
        reduction=reduction,
        chunk_size=4,
        return_grad=True,
        grad_output=g,
    )
    ref = torch_lce(torch, x, w, t, b, cw, g, chunked=chunked, reduction=reduction)
    check(got, ref, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.25])
@pytest.mark.parametrize("prob", [False, True], ids=["indices", "probabilities"])
def test_smoothing_and_probabilities_vs_torch(torch, rng, dtype, reduction, smoothing, prob):
    """Label smoothing and class probabilities (PyTorch's reference path only: its chunked
    path falls back to it for them, with a warning)."""
    x, w, t, b, cw = make(rng, 9, 5, 23, dtype, bias=True, weighted=True, prob=prob)
    g = upstream(rng, reduction, (9,), dtype)
    got = nl.linear_cross_entropy(
        x,
        w,
        t,
        linear_bias=b,
        weight=cw,
        reduction=reduction,
        label_smoothing=smoothing,
        chunk_size=2,
        return_grad=True,
        grad_output=g,
    )
    ref = torch_lce(torch, x, w, t, b, cw, g, reduction=reduction, label_smoothing=smoothing)
    check(got, ref, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("chunked", [False, True], ids=["reference", "chunked"])
@pytest.mark.parametrize(
    "n, c, chunk",
    [
        (1, 5, None),  # N = 1
        (3, 101, 64),  # N smaller than one chunk
        (7, 31, 7),  # one full chunk, the few-class kernel (C <= 32)
        (13, 97, 5),  # C prime, chunks of 5 (last one short)
        (6, 40, 1),  # one row per chunk
    ],
)
def test_shapes_vs_torch(torch, rng, dtype, chunked, n, c, chunk):
    x, w, t, b, cw = make(rng, n, 7, c, dtype, bias=True, weighted=True)
    g = upstream(rng, "mean", (), dtype)
    got = nl.linear_cross_entropy(
        x, w, t, linear_bias=b, weight=cw, chunk_size=chunk, return_grad=True, grad_output=g
    )
    check(got, torch_lce(torch, x, w, t, b, cw, g, chunked=chunked), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize(
    "prob, chunked",
    [(False, False), (False, True), (True, False)],  # PyTorch chunks class indices only
    ids=["indices-reference", "indices-chunked", "probabilities-reference"],
)
def test_one_dimensional_input_vs_torch(torch, rng, dtype, reduction, prob, chunked):
    x, w, t, b, cw = make(rng, 1, 6, 9, dtype, bias=True, weighted=True, prob=prob, batched=False)
    g = upstream(rng, reduction, (), dtype)
    got = nl.linear_cross_entropy(
        x, w, t, linear_bias=b, weight=cw, reduction=reduction, return_grad=True, grad_output=g
    )
    assert got[1][0].shape == x.shape
    check(got, torch_lce(torch, x, w, t, b, cw, g, chunked=chunked, reduction=reduction), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("out_features", [(3,), (2, 3)])
@pytest.mark.parametrize("prob", [False, True], ids=["indices", "probabilities"])
def test_k_dimensional_vs_torch(torch, rng, dtype, reduction, out_features, prob):
    """``linear_weight (C, d1, ..., dk, in_features)``: a softmax over C at each position."""
    x, w, t, b, cw = make(
        rng, 5, 4, 7, dtype, out_features=out_features, bias=True, weighted=True, prob=prob
    )
    g = upstream(rng, reduction, (5, *out_features), dtype)
    got = nl.linear_cross_entropy(
        x,
        w,
        t,
        linear_bias=b,
        weight=cw,
        reduction=reduction,
        label_smoothing=0.1,
        chunk_size=2,
        return_grad=True,
        grad_output=g,
    )
    ref = torch_lce(torch, x, w, t, b, cw, g, reduction=reduction, label_smoothing=0.1)
    check(got, ref, dtype)


@pytest.mark.parametrize("chunked", [False, True], ids=["reference", "chunked"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_all_rows_ignored(torch, rng, chunked, reduction):
    """Every target ignored: 'mean' is NaN, 'sum' 0.  The gradients are 0 as on PyTorch's
    reference path (its chunked path gives NaN gradients for 'mean': the docstring says so)."""
    x, w, t, b, cw = make(rng, 6, 4, 11, np.float64, bias=True, weighted=True)
    t[:] = 3
    loss, grads = nl.linear_cross_entropy(
        x,
        w,
        t,
        linear_bias=b,
        weight=cw,
        ignore_index=3,
        reduction=reduction,
        chunk_size=4,
        return_grad=True,
    )
    ref_loss, ref_grads = torch_lce(
        torch, x, w, t, b, cw, 1.0, chunked=chunked, ignore_index=3, reduction=reduction
    )
    assert_close(loss, ref_loss, np.float64)
    if reduction == "mean":
        assert np.isnan(loss)
    for grad, ref_grad in zip(grads, ref_grads):
        np.testing.assert_array_equal(grad, 0.0)
        if not (chunked and reduction == "mean"):
            np.testing.assert_array_equal(grad, ref_grad)


def test_float16_is_computed_in_float32(torch, rng):
    x, w, t, b, cw = make(rng, 10, 8, 33, np.float16, bias=True, weighted=True)
    loss, grads = nl.linear_cross_entropy(
        x, w, t, linear_bias=b, weight=cw, return_grad=True, chunk_size=3
    )
    as32 = [None if a is None else a.astype(np.float32) for a in (x, w, b, cw)]
    loss32, grads32 = nl.linear_cross_entropy(
        as32[0], as32[1], t, linear_bias=as32[2], weight=as32[3], return_grad=True, chunk_size=3
    )
    assert loss.dtype == np.float16 and all(gr.dtype == np.float16 for gr in grads)
    assert loss == loss32.astype(np.float16)
    for grad, grad32 in zip(grads, grads32):
        np.testing.assert_array_equal(grad, grad32.astype(np.float16))
    ref_loss, ref_grads = torch_lce(torch, *as32[:2], t, as32[2], as32[3], 1.0)
    assert_close(loss32, ref_loss, np.float32, scale=20)


# --- the NumPy reference and finite differences -----------------------------------------


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("prob", [False, True], ids=["indices", "probabilities"])
@pytest.mark.parametrize("out_features", [(), (2,)])
def test_numpy_reference(rng, reduction, prob, out_features):
    x, w, t, b, cw = make(
        rng, 8, 5, 13, np.float64, out_features=out_features, bias=True, weighted=True, prob=prob
    )
    g = upstream(rng, reduction, (8, *out_features), np.float64)
    options = dict(linear_bias=b, weight=cw, reduction=reduction, label_smoothing=0.2)
    loss, grads = nl.linear_cross_entropy(
        x, w, t, **options, chunk_size=3, return_grad=True, grad_output=g
    )
    assert_close(loss, np_linear_cross_entropy(x, w, t, **options), np.float64)
    for grad, ref in zip(grads, np_linear_cross_entropy_grad(x, w, t, **options, grad_output=g)):
        assert_close(grad, ref, np.float64)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("prob", [False, True], ids=["indices", "probabilities"])
def test_finite_differences(rng, reduction, prob):
    x, w, t, b, cw = make(rng, 5, 3, 6, np.float64, bias=True, weighted=True, prob=prob)
    g = upstream(rng, reduction, (5,), np.float64)
    options = dict(weight=cw, reduction=reduction, label_smoothing=0.1, chunk_size=2)

    def value(x_, w_, b_):
        return float(np.sum(g * nl.linear_cross_entropy(x_, w_, t, linear_bias=b_, **options)))

    _, (gx, gw, gb) = nl.linear_cross_entropy(
        x, w, t, linear_bias=b, **options, return_grad=True, grad_output=g
    )
    tol = dict(rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(gx, central_difference(lambda v: value(v, w, b), x), **tol)
    np.testing.assert_allclose(gw, central_difference(lambda v: value(x, v, b), w), **tol)
    np.testing.assert_allclose(gb, central_difference(lambda v: value(x, w, v), b), **tol)


# --- chunking, memory, determinism --------------------------------------------------------


@pytest.mark.parametrize("prob", [False, True], ids=["indices", "probabilities"])
def test_chunk_size_does_not_change_the_result(rng, prob):
    x, w, t, b, cw = make(rng, 23, 6, 45, np.float64, bias=True, weighted=True, prob=prob)
    results = [
        nl.linear_cross_entropy(
            x,
            w,
            t,
            linear_bias=b,
            weight=cw,
            label_smoothing=0.1,
            chunk_size=size,
            return_grad=True,
        )
        for size in (1, 4, 23, 1000, None)
    ]
    for loss, grads in results[1:]:
        assert_close(loss, results[0][0], np.float64)
        for grad, first in zip(grads, results[0][1]):
            assert_close(grad, first, np.float64)


def test_default_chunk_rows():
    assert linear.default_chunk_rows(32000, 4) == 256  # 32000 float32 logits: the row minimum
    assert linear.default_chunk_rows(1000, 4) == linear.CHUNK_BYTES // 4000 // 8 * 8
    assert linear.default_chunk_rows(10, 8) % 8 == 0


def test_the_logits_are_never_allocated(rng):
    """With C = 50000 and 600 rows the N x C float32 logits would take 120 MB; the call
    allocates the gradients (0.8 MB), one chunk of 16 rows (3.2 MB) and small change."""
    n, k, c = 600, 4, 50_000
    x = rng.standard_normal((n, k)).astype(np.float32)
    w = rng.standard_normal((c, k)).astype(np.float32)
    t = rng.integers(0, c, n)
    nl.linear_cross_entropy(x[:2], w, t[:2], chunk_size=16, return_grad=True)  # compile
    tracemalloc.start()
    try:
        loss, (gx, gw) = nl.linear_cross_entropy(x, w, t, chunk_size=16, return_grad=True)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    logits = n * c * 4
    needed = gw.nbytes + gx.nbytes + 16 * c * 4
    assert peak < needed + (1 << 20), (peak, needed)
    assert peak < logits / 20
    assert np.isfinite(loss)


def test_identical_bits_for_any_thread_count(rng, any_thread_count):
    x, w, t, b, cw = make(rng, 300, 16, 700, np.float32, bias=True, weighted=True)
    before = nl.get_num_threads()
    results = []
    try:
        for threads in (1, 2, 3):
            nl.set_num_threads(threads)
            results.append(
                nl.linear_cross_entropy(
                    x, w, t, linear_bias=b, weight=cw, chunk_size=64, return_grad=True
                )
            )
    finally:
        nl.set_num_threads(before)
    for loss, grads in results[1:]:
        assert loss.tobytes() == results[0][0].tobytes()
        for grad, first in zip(grads, results[0][1]):
            assert grad.tobytes() == first.tobytes()


def test_blas_thread_counts(rng):
    """SciPy's OpenBLAS gives the same bits for any number of threads from 2 up; single-
    threaded it may round ``grad_input`` differently (observed: 5e-7 relative, in float32,
    for this shape), which docs/linear_cross_entropy.rst states."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    x, w, t, b, cw = make(rng, 700, 96, 1500, np.float32, bias=True)
    results = {}
    for threads in (2, 3, 4, 1):
        with threadpoolctl.threadpool_limits(limits=threads, user_api="blas"):
            results[threads] = nl.linear_cross_entropy(
                x, w, t, linear_bias=b, chunk_size=300, return_grad=True
            )
    loss2, grads2 = results[2]
    for threads in (3, 4):
        loss, grads = results[threads]
        assert loss.tobytes() == loss2.tobytes()
        for grad, grad2 in zip(grads, grads2):
            assert grad.tobytes() == grad2.tobytes()
    loss1, grads1 = results[1]
    assert_close(loss1, loss2, np.float32, rtol=2e-6, atol=0)
    for grad, grad2 in zip(grads1, grads2):
        np.testing.assert_allclose(grad, grad2, rtol=0, atol=2e-6 * np.abs(grad2).max())


# --- grad_out, layouts and the class --------------------------------------------------------


def test_grad_out_in_place_and_preallocated(rng):
    x, w, t, b, cw = make(rng, 10, 5, 12, np.float64, bias=True, weighted=True)
    expected_loss, expected = nl.linear_cross_entropy(
        x, w, t, linear_bias=b, weight=cw, chunk_size=3, return_grad=True
    )
    # the input's gradient over the input; fresh arrays for the others (one Fortran-ordered)
    xc = x.copy()
    gw = np.asfortranarray(np.empty_like(w))
    gb = np.full_like(b, np.nan)
    loss, grads = nl.linear_cross_entropy(
        xc,
        w,
        t,
        linear_bias=b,
        weight=cw,
        chunk_size=3,
        return_grad=True,
        grad_out=(xc, gw, gb),
    )
    assert grads[0] is xc and grads[1] is gw and grads[2] is gb
    assert loss == expected_loss
    for grad, exp in zip(grads, expected):
        np.testing.assert_array_equal(grad, exp)
    # the weight's and the bias's gradients over themselves (read by every chunk)
    wc, bc = w.copy(), b.copy()
    _, grads = nl.linear_cross_entropy(
        x,
        wc,
        t,
        linear_bias=bc,
        weight=cw,
        chunk_size=3,
        return_grad=True,
        grad_out=(np.empty_like(x), wc, bc),
    )
    np.testing.assert_array_equal(wc, expected[1])
    np.testing.assert_array_equal(bc, expected[2])


def test_layouts_and_dtypes(rng):
    x, w, t, b, _ = make(rng, 9, 6, 14, np.float64, bias=True, ignored=False)
    expected = nl.linear_cross_entropy(x, w, t, linear_bias=b, return_grad=True)
    variants = [
        (np.asfortranarray(x), np.asfortranarray(w), t.astype(np.int32), b[::-1].copy()[::-1]),
        (x.astype(">f8"), w[:, ::-1].copy()[:, ::-1], t.astype(np.uint8), b),
        (x.tolist(), w.tolist(), t.tolist(), b.tolist()),
    ]
    for xv, wv, tv, bv in variants:
        loss, grads = nl.linear_cross_entropy(xv, wv, tv, linear_bias=bv, return_grad=True)
        assert_close(loss, expected[0], np.float64)
        for grad, exp in zip(grads, expected[1]):
            assert_close(grad, exp, np.float64)
    # mixed precision: the result dtype is NumPy's result_type of the floating arguments
    loss, grads = nl.linear_cross_entropy(x.astype(np.float32), w, t, return_grad=True)
    assert loss.dtype == np.float64 and all(g.dtype == np.float64 for g in grads)


def test_class_form(rng):
    x, w, t, b, cw = make(rng, 7, 3, 9, np.float64, bias=True, weighted=True)
    loss_fn = nl.LinearCrossEntropyLoss(
        weight=cw, reduction="sum", label_smoothing=0.1, chunk_size=2
    )
    got = loss_fn(x, w, t, linear_bias=b, return_grad=True)
    expected = nl.linear_cross_entropy(
        x,
        w,
        t,
        linear_bias=b,
        weight=cw,
        reduction="sum",
        label_smoothing=0.1,
        chunk_size=2,
        return_grad=True,
    )
    assert got[0] == expected[0]
    for grad, exp in zip(got[1], expected[1]):
        np.testing.assert_array_equal(grad, exp)
    assert "chunk_size=2" in repr(loss_fn)
    with pytest.raises(TypeError, match="unexpected keyword argument 'weight'"):
        loss_fn(x, w, t, weight=cw)
    with pytest.raises(TypeError):
        nl.LinearCrossEntropyLoss(cw)  # the options are keyword-only, as in PyTorch


def test_empty_batch(rng):
    x, w, t, b, _ = make(rng, 0, 4, 5, np.float64, bias=True)
    loss, (gx, gw, gb) = nl.linear_cross_entropy(x, w, t, linear_bias=b, return_grad=True)
    assert np.isnan(loss)
    assert gx.shape == (0, 4)
    np.testing.assert_array_equal(gw, 0.0)
    np.testing.assert_array_equal(gb, 0.0)
    assert nl.linear_cross_entropy(x, w, t, reduction="sum") == 0
    assert nl.linear_cross_entropy(x, w, t, reduction="none").shape == (0,)


def test_no_features(rng):
    """``in_features = 0``: the logits are the bias alone."""
    x = np.zeros((3, 0))
    w = np.zeros((4, 0))
    b = rng.standard_normal(4)
    t = np.array([0, 3, 1])
    loss, (gx, gw, gb) = nl.linear_cross_entropy(x, w, t, linear_bias=b, return_grad=True)
    expected, expected_grad = nl.cross_entropy(np.tile(b, (3, 1)), t, return_grad=True)
    assert_close(loss, expected, np.float64)
    assert_close(gb, expected_grad.sum(axis=0), np.float64)
    assert gx.shape == (3, 0) and gw.shape == (4, 0)


def test_nan_and_inf_propagate(rng):
    x, w, t, _, _ = make(rng, 6, 3, 5, np.float64, ignored=False)
    x[2, 1] = np.nan
    loss, (gx, gw) = nl.linear_cross_entropy(x, w, t, reduction="none", return_grad=True)
    assert np.isnan(loss[2]) and np.isfinite(np.delete(loss, 2)).all()
    assert np.isnan(gx[2]).all() and np.isfinite(np.delete(gx, 2, axis=0)).all()
    assert np.isnan(gw).any()


# --- errors -------------------------------------------------------------------------------


def test_errors(rng):
    x, w, t, b, _ = make(rng, 4, 3, 5, np.float64, ignored=False)
    lce = nl.linear_cross_entropy
    with pytest.raises(ValueError, match="input must have shape"):
        lce(np.zeros((2, 2, 3)), w, t)
    with pytest.raises(ValueError, match="linear_weight must have shape"):
        lce(x, np.zeros(3), t)
    with pytest.raises(ValueError, match="same last dimension"):
        lce(x, np.zeros((5, 4)), t)
    with pytest.raises(ValueError, match=r"linear_bias must have shape \(5,\)"):
        lce(x, w, t, linear_bias=np.zeros(4))
    with pytest.raises(ValueError, match="needs batched input"):
        lce(x[0], np.zeros((5, 2, 3)), np.array(0))
    with pytest.raises(ValueError, match=r"class indices must have shape \(4,\)"):
        lce(x, w, t[:3])
    with pytest.raises(ValueError, match="class-probability target must have the logits' shape"):
        lce(x, w, np.zeros((4, 4)))
    with pytest.raises(TypeError, match="must be floating"):
        lce(x, w, np.zeros((4, 5), dtype=np.int64))
    with pytest.raises(ValueError, match="ignore_index cannot be given"):
        lce(x, w, np.full((4, 5), 0.2), ignore_index=-100)
    with pytest.raises(ValueError, match="reduction must be one of"):
        lce(x, w, t, reduction="batchmean")
    with pytest.raises(ValueError, match="label_smoothing"):
        lce(x, w, t, label_smoothing=1.5)
    with pytest.raises(ValueError, match="chunk_size"):
        lce(x, w, t, chunk_size=0)
    with pytest.raises(TypeError, match="chunk_size"):
        lce(x, w, t, chunk_size=2.5)
    with pytest.raises(TypeError, match="real numbers"):
        lce(x.astype(complex), w, t)
    with pytest.raises(ValueError, match=r"weight must have one entry per class"):
        lce(x, w, t, weight=np.ones(3))
    with pytest.raises(ValueError, match="grad_out must be a tuple of 2 arrays"):
        lce(x, w, t, return_grad=True, grad_out=np.empty_like(x))
    with pytest.raises(ValueError, match="grad_out for linear_weight must have shape"):
        lce(x, w, t, return_grad=True, grad_out=(np.empty_like(x), np.empty((5, 4))))
    with pytest.raises(TypeError):
        lce(x, w, t, None)  # the options are keyword-only, as in PyTorch


def test_out_of_range_target_writes_nothing(rng):
    x, w, t, _, _ = make(rng, 6, 3, 5, np.float64, ignored=False)
    t[4] = 5
    xc = x.copy()
    with pytest.raises(ValueError, match="target 5 is out of bounds"):
        nl.linear_cross_entropy(xc, w, t, return_grad=True, grad_out=(xc, np.empty_like(w)))
    np.testing.assert_array_equal(xc, x)


def test_torch_chunked_path_is_what_it_says(torch, rng):
    """The PyTorch comparisons above really take its chunked path where they say so: it
    warns when it falls back to the reference path, and does not here."""
    x, w, t, b, cw = make(rng, 5, 3, 7, np.float32, bias=True, weighted=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        torch_lce(torch, x, w, t, b, cw, 1.0, chunked=True)
    with pytest.warns(UserWarning, match="options.. ignored"):
        torch_lce(torch, x, w, t, b, cw, 1.0, chunked=True, label_smoothing=0.1)


# --- properties -----------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(0, 9),
    k=st.integers(0, 4),
    c=st.integers(1, 40),
    chunk=st.one_of(st.none(), st.integers(1, 10)),
    reduction=st.sampled_from(REDUCTIONS),
    bias=st.booleans(),
    smoothing=st.sampled_from([0.0, 0.3]),
    seed=st.integers(0, 2**32 - 1),
)
def test_matches_the_numpy_reference(n, k, c, chunk, reduction, bias, smoothing, seed):
    rng = np.random.default_rng(seed)
    x, w, t, b, cw = make(rng, n, k, c, np.float64, bias=bias, weighted=True)
    g = upstream(rng, reduction, (n,), np.float64)
    options = dict(linear_bias=b, weight=cw, reduction=reduction, label_smoothing=smoothing)
    loss, grads = nl.linear_cross_entropy(
        x, w, t, **options, chunk_size=chunk, return_grad=True, grad_output=g
    )
    assert_close(loss, np_linear_cross_entropy(x, w, t, **options), np.float64, scale=10)
    refs = np_linear_cross_entropy_grad(x, w, t, **options, grad_output=g)
    assert len(grads) == len(refs)
    for grad, ref in zip(grads, refs):
        assert grad.shape == ref.shape
        assert_close(grad, ref, np.float64, scale=10)


@settings(max_examples=25, deadline=None)
@given(scale=st.sampled_from([1e-3, 1.0, 30.0, 300.0]), seed=st.integers(0, 2**32 - 1))
def test_extreme_logits_stay_finite(scale, seed):
    """Large logits (|z| up to thousands) give finite losses and gradients in float32."""
    rng = np.random.default_rng(seed)
    x, w, t, _, _ = make(rng, 8, 5, 17, np.float32, ignored=False)
    loss, grads = nl.linear_cross_entropy(x * np.float32(scale), w, t, return_grad=True)
    assert np.isfinite(loss) and loss >= 0
    assert all(np.isfinite(g).all() for g in grads)
