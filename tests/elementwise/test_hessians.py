"""Second derivatives (``return_hess=True``) of the elementwise losses.

Checked against PyTorch's double backward (every loss and variant, float32 and
float64, every reduction), the NumPy formulas of ``numbaloss.testing.elementwise``,
and central differences of numbaloss's own gradient in float64; plus the output
contract (``hess_out`` in place, errors) and bits: the loss and gradient of a call
with ``return_hess=True`` are those of the call without.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import numbaloss as nl
from numbaloss._core import registry
from numbaloss._core.traits import has_hess
from numbaloss.elementwise import points
from numbaloss.testing.elementwise import (
    CASES,
    HESSIANS,
    NAMES,
    np_sigmoid_focal_hess,
    torchvision_sigmoid_focal,
)
from tests.conftest import assert_close

DTYPES = [np.float32, np.float64]
REDUCTIONS = ["none", "mean", "sum"]


def _inputs(case, rng, shape, dtype):
    arrays = list(case.make(rng, shape, dtype))
    if case.name == "poisson_nll_loss":
        arrays[0] = np.abs(arrays[0]) + 0.1  # positive rates also serve log_input=False
    return arrays


def _options(variant, rng, shape, dtype):
    return {k: (v(rng, shape, dtype) if callable(v) else v) for k, v in variant.items()}


def _as_tuple(g):
    return g if isinstance(g, tuple) else (g,)


ALL_VARIANTS = [
    pytest.param(name, i, id=f"{name}-{i}")
    for name in NAMES
    for i in range(len(CASES[name].variants))
]


def torch_double_backward(torch, loss_fn, tensors, preds, grad_output):
    """Loss, gradients and the Hessian's diagonal of ``sum(grad_output * loss)`` for
    the tensors at positions ``preds``, by PyTorch's double backward.

    The elementwise losses' Hessian is diagonal in each prediction, so the gradient
    of ``sum(grad)`` with respect to the prediction is that diagonal.
    """
    loss = loss_fn(*tensors)
    total = (loss * torch.tensor(grad_output, dtype=loss.dtype).expand_as(loss)).sum()
    wrt = [tensors[k] for k in preds]
    grads = torch.autograd.grad(total, wrt, create_graph=True)
    hess = []
    for g, t in zip(grads, wrt):
        if not g.requires_grad:  # the gradient does not depend on the prediction
            hess.append(np.zeros(tuple(t.shape), dtype=np.asarray(t.detach()).dtype))
            continue
        (h,) = torch.autograd.grad(g.sum(), t, retain_graph=True, allow_unused=True)
        hess.append(np.zeros(tuple(t.shape)) if h is None else h.detach().numpy(force=True))
    return (
        loss.detach().numpy(),
        tuple(g.detach().numpy() for g in grads),
        tuple(hess),
    )


def _torch_case(torch, case, arrays, options, reduction, grad_output):
    tensors = [
        torch.tensor(a, requires_grad=(n in case.preds)) for n, a in zip(case.arrays, arrays)
    ]
    topts = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in options.items()}
    preds = [case.arrays.index(p) for p in case.preds]
    return torch_double_backward(
        torch,
        lambda *t: case.torch_ref(torch, t, reduction=reduction, **topts),
        tensors,
        preds,
        grad_output,
    )


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize(("name", "variant"), ALL_VARIANTS)
def test_hessian_matches_torch_double_backward(torch, name, variant, reduction, dtype, rng):
    case = CASES[name]
    shape = (5, 3, 4)
    arrays = _inputs(case, rng, shape, dtype)
    options = _options(case.variants[variant], rng, shape, dtype)
    grad_output = rng.uniform(0.5, 1.5, shape if reduction == "none" else ()).astype(dtype)
    loss, grad, hess = case.func(
        *arrays,
        reduction=reduction,
        **options,
        return_grad=True,
        return_hess=True,
        grad_output=grad_output,
    )
    ref_loss, ref_grads, ref_hess = _torch_case(
        torch, case, arrays, options, reduction, grad_output
    )
    assert_close(loss, ref_loss, dtype, scale=5)
    for pred, g, h, rg, rh in zip(
        case.preds, _as_tuple(grad), _as_tuple(hess), ref_grads, ref_hess
    ):
        assert h.dtype == dtype and h.shape == rh.shape == g.shape
        if pred == "var":
            # documented difference: PyTorch differentiates through the eps clamp
            clamped = arrays[2] < options.get("eps", 1e-6)
            assert (h[clamped] == 0).all()
            h, rh, g, rg = h[~clamped], rh[~clamped], g[~clamped], rg[~clamped]
        assert_close(g, rg, dtype, scale=5)
        assert_close(h, rh, dtype, scale=10)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("name", "variant"), ALL_VARIANTS)
def test_hessian_matches_numpy_formula(name, variant, dtype, rng):
    case = CASES[name]
    shape = (4, 7)
    arrays = _inputs(case, rng, shape, dtype)
    options = _options(case.variants[variant], rng, shape, dtype)
    x64 = [a.astype(np.float64) for a in arrays]
    o64 = {k: v.astype(np.float64) if isinstance(v, np.ndarray) else v for k, v in options.items()}
    _, _, hess = case.func(*arrays, reduction="none", **options, return_grad=True, return_hess=True)
    for h, rh in zip(_as_tuple(hess), case.numpy_hess(*x64, **o64), strict=True):
        assert_close(h, np.broadcast_to(rh, h.shape), dtype, scale=5)


def _grads(case, arrays, options, weights):
    _, grads = case.func(
        *arrays, reduction="none", **options, return_grad=True, grad_output=weights
    )
    return _as_tuple(grads)


@pytest.mark.parametrize(("name", "variant"), ALL_VARIANTS)
def test_hessian_matches_central_differences_of_the_gradient(name, variant, rng):
    """Each element's gradient depends on that element alone, so moving every element
    of one prediction at once gives the whole diagonal in two calls."""
    case = CASES[name]
    shape = (3, 4)
    arrays = _inputs(case, rng, shape, np.float64)
    options = _options(case.variants[variant], rng, shape, np.float64)
    weights = rng.uniform(0.5, 1.5, shape)
    _, _, hess = case.func(
        *arrays, reduction="none", **options, return_grad=True, return_hess=True,
        grad_output=weights,
    )  # fmt: skip
    h = 1e-6
    for slot, (k, hk) in enumerate(
        zip([case.arrays.index(p) for p in case.preds], _as_tuple(hess))
    ):
        plus = [a.copy() for a in arrays]
        minus = [a.copy() for a in arrays]
        plus[k] += h
        minus[k] -= h
        fd = (
            _grads(case, plus, options, weights)[slot] - _grads(case, minus, options, weights)[slot]
        )
        np.testing.assert_allclose(hk, fd / (2 * h), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("name", "variant"), ALL_VARIANTS)
def test_loss_and_gradient_do_not_change_with_return_hess(name, variant, dtype, reduction, rng):
    case = CASES[name]
    shape = (7, 301)  # more than one sub-block of the CPU kernel
    arrays = _inputs(case, rng, shape, dtype)
    options = _options(case.variants[variant], rng, shape, dtype)
    loss, grad = case.func(*arrays, reduction=reduction, **options, return_grad=True)
    loss2, grad2, _ = case.func(
        *arrays, reduction=reduction, **options, return_grad=True, return_hess=True
    )
    # the same formulas; the compiler may fuse a multiply-add differently where the
    # second derivative shares their terms (seen: BCE and gaussian_nll_loss)
    ulps = np.finfo(dtype).eps * 16  # a fused multiply-add in a sum of two logs
    np.testing.assert_allclose(loss2, loss, rtol=ulps, atol=0)
    for g2, g in zip(_as_tuple(grad2), _as_tuple(grad), strict=True):
        np.testing.assert_allclose(g2, g, rtol=ulps, atol=np.finfo(dtype).tiny)


@pytest.mark.parametrize("name", NAMES)
def test_hess_out_in_place_and_preallocated(name, rng):
    case = CASES[name]
    arrays = _inputs(case, rng, (5, 6), np.float32)
    _, expected_grad, expected = case.func(
        *arrays, return_grad=True, return_hess=True, **case.options
    )
    # the predictions themselves receive the Hessian (the gradient goes to new arrays)
    copies = [a.copy() for a in arrays]
    outs = tuple(copies[case.arrays.index(p)] for p in case.preds)
    _, grad, hess = case.func(
        *copies, return_grad=True, return_hess=True,
        hess_out=outs if len(outs) > 1 else outs[0], **case.options,
    )  # fmt: skip
    for h, out, e in zip(_as_tuple(hess), outs, _as_tuple(expected), strict=True):
        assert h is out
        np.testing.assert_array_equal(h, e)
    for g, e in zip(_as_tuple(grad), _as_tuple(expected_grad), strict=True):
        np.testing.assert_array_equal(g, e)
    # gradient in place and Hessian into a preallocated, non-contiguous array
    copies = [a.copy() for a in arrays]
    grad_outs = tuple(copies[case.arrays.index(p)] for p in case.preds)
    hess_outs = tuple(np.empty((6, 5), np.float32).T for _ in case.preds)
    _, grad, hess = case.func(
        *copies, return_grad=True, return_hess=True,
        grad_out=grad_outs if len(grad_outs) > 1 else grad_outs[0],
        hess_out=hess_outs if len(hess_outs) > 1 else hess_outs[0], **case.options,
    )  # fmt: skip
    for h, out, e in zip(_as_tuple(hess), hess_outs, _as_tuple(expected), strict=True):
        assert h is out
        np.testing.assert_array_equal(h, e)
    for g, out, e in zip(_as_tuple(grad), grad_outs, _as_tuple(expected_grad), strict=True):
        assert g is out
        np.testing.assert_array_equal(g, e)


def test_hessian_keyword_errors():
    x = np.linspace(0.1, 0.9, 12).reshape(3, 4)
    with pytest.raises(ValueError, match="return_hess=True requires return_grad=True"):
        nl.mse_loss(x, x, return_hess=True)
    with pytest.raises(ValueError, match="hess_out is only written with return_hess=True"):
        nl.mse_loss(x, x, return_grad=True, hess_out=np.empty_like(x))
    with pytest.raises(ValueError, match="hess_out for input must have shape"):
        nl.mse_loss(x, x, return_grad=True, return_hess=True, hess_out=np.empty(12))
    with pytest.raises(ValueError, match="hess_out for input must have dtype"):
        nl.mse_loss(x, x, return_grad=True, return_hess=True, hess_out=np.empty((3, 4), np.float32))
    with pytest.raises(TypeError, match="hess_out for input must be a NumPy array"):
        nl.mse_loss(x, x, return_grad=True, return_hess=True, hess_out=3.0)
    with pytest.raises(ValueError, match="hess_out must be a tuple of 2 arrays"):
        nl.margin_ranking_loss(x, x, x, return_grad=True, return_hess=True, hess_out=x.copy())
    out = np.empty_like(x)
    with pytest.raises(ValueError, match="hess_out for input overlaps grad_out for input"):
        nl.mse_loss(x, x, return_grad=True, return_hess=True, grad_out=out, hess_out=out)
    with pytest.raises(ValueError, match="overlaps grad_out"):
        nl.mse_loss(
            x, x, return_grad=True, return_hess=True, grad_out=out, hess_out=out[::-1][::-1]
        )
    read_only = np.empty_like(x)
    read_only.flags.writeable = False
    with pytest.raises(ValueError, match="hess_out for input is read-only"):
        nl.mse_loss(x, x, return_grad=True, return_hess=True, hess_out=read_only)


def test_interleaved_gradient_and_hessian_outputs_are_fine(rng):
    """Two halves of one buffer do not overlap: the check is exact, not by bounds."""
    x, y = rng.standard_normal((2, 4, 5))
    buf = np.empty((4, 10))
    _, g, h = nl.huber_loss(
        x, y, reduction="none", return_grad=True, return_hess=True,
        grad_out=buf[:, ::2], hess_out=buf[:, 1::2],
    )  # fmt: skip
    _, g2, h2 = nl.huber_loss(x, y, reduction="none", return_grad=True, return_hess=True)
    np.testing.assert_array_equal(buf[:, ::2], g2)
    np.testing.assert_array_equal(buf[:, 1::2], h2)


def test_gaussian_broadcast_var_sums_its_diagonal(torch, rng):
    x, y = rng.standard_normal((2, 4, 3))
    for var in [
        rng.uniform(0.5, 2, (4,)),
        rng.uniform(0.5, 2, (4, 1)),
        rng.uniform(0.5, 2, (1, 3)),
    ]:
        _, (gx, gv), (hx, hv) = nl.gaussian_nll_loss(
            x, y, var, reduction="sum", return_grad=True, return_hess=True
        )
        tx = torch.tensor(x, requires_grad=True)
        tv = torch.tensor(var, requires_grad=True)
        _, _, (rhx, rhv) = torch_double_backward(
            torch,
            lambda a, b, v: torch.nn.functional.gaussian_nll_loss(a, b, v, reduction="sum"),
            [tx, torch.tensor(y), tv],
            [0, 2],
            np.float64(1.0),
        )
        assert hv.shape == var.shape and hx.shape == x.shape
        assert_close(hx, rhx, np.float64)
        assert_close(hv, rhv, np.float64)
        out = np.empty_like(var)
        _, _, (_, hv2) = nl.gaussian_nll_loss(
            x, y, var, reduction="sum", return_grad=True, return_hess=True,
            hess_out=(np.empty_like(x), out),
        )  # fmt: skip
        assert hv2 is out
        np.testing.assert_array_equal(out, hv)


def test_kinks_have_zero_second_derivative():
    x = np.array([0.0, 1.0, -1.0, 0.5, 2.0])
    y = np.zeros(5)
    _, _, h = nl.l1_loss(x, y, reduction="none", return_grad=True, return_hess=True)
    np.testing.assert_array_equal(h, 0.0)
    _, _, h = nl.huber_loss(x, y, delta=1.0, reduction="none", return_grad=True, return_hess=True)
    np.testing.assert_array_equal(h, [1.0, 0.0, 0.0, 1.0, 0.0])  # 0 at |d| == delta
    _, _, h = nl.smooth_l1_loss(
        x, y, beta=0.5, reduction="none", return_grad=True, return_hess=True
    )
    np.testing.assert_array_equal(h, [2.0, 0.0, 0.0, 0.0, 0.0])  # 0 at |d| == beta
    _, _, h = nl.hinge_embedding_loss(
        x, -np.ones(5), margin=1.0, reduction="none", return_grad=True, return_hess=True
    )
    np.testing.assert_array_equal(h, 0.0)


def test_bce_hessian_at_the_clamped_ends():
    """Where a log is clamped its term is constant: the other term's curvature stays."""
    x = np.array([0.0, 1.0, 0.0, 1.0], np.float32)
    y = np.array([0.3, 0.3, 0.0, 1.0], np.float32)
    _, g, h = nl.binary_cross_entropy(x, y, reduction="none", return_grad=True, return_hess=True)
    np.testing.assert_allclose(h, [0.7, 0.3, 1.0, 1.0], rtol=1e-6)
    # tiny probabilities: no 0/0 where x**2 underflows
    tiny = np.array([1e-25, 1e-30, 1e-40], np.float32)
    _, _, h = nl.binary_cross_entropy(
        tiny, np.zeros(3, np.float32), reduction="none", return_grad=True, return_hess=True
    )
    np.testing.assert_allclose(h, 1.0, rtol=1e-6)


def test_classes_pass_return_hess(rng):
    x, y = rng.standard_normal((2, 10))
    loss, grad, hess = nl.HuberLoss(delta=0.5)(x, y, return_grad=True, return_hess=True)
    expected = nl.huber_loss(x, y, delta=0.5, return_grad=True, return_hess=True)
    assert loss == expected[0]
    np.testing.assert_array_equal(hess, expected[2])


# --- sigmoid focal loss ----------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("alpha", [0.25, -1.0])
@pytest.mark.parametrize("gamma", [0.0, 0.5, 1.0, 2.0, 3.5])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_sigmoid_focal_hessian_vs_torch(torch, rng, dtype, alpha, gamma, reduction):
    x = (rng.standard_normal((5, 7)) * 3).astype(dtype)
    y = (rng.random((5, 7)) < 0.3).astype(dtype)
    y[0, :3] = [0.2, 0.5, 0.9]  # soft labels too
    g = rng.uniform(0.5, 1.5, (5, 7) if reduction == "none" else ()).astype(dtype)
    loss, grad, hess = nl.sigmoid_focal_loss(
        x, y, alpha=alpha, gamma=gamma, reduction=reduction,
        return_grad=True, return_hess=True, grad_output=g,
    )  # fmt: skip
    _, _, (ref,) = torch_double_backward(
        torch,
        lambda t, yt: torchvision_sigmoid_focal(torch)(t, yt, alpha, gamma, reduction),
        [torch.tensor(x, requires_grad=True), torch.tensor(y)],
        [0],
        g,
    )
    assert hess.dtype == dtype
    assert_close(hess, ref, dtype, scale=20)
    scale = {"none": g, "sum": g, "mean": g / x.size}[reduction]
    assert_close(hess, scale * np_sigmoid_focal_hess(x, y, alpha, gamma), dtype, scale=20)


@pytest.mark.parametrize("gamma", [0.0, 0.4, 2.0, 3.0])
def test_sigmoid_focal_hessian_central_differences(rng, gamma):
    x = rng.standard_normal((3, 4)) * 2
    y = (rng.random((3, 4)) < 0.5).astype(float)
    y[0, 0] = 0.3
    _, _, hess = nl.sigmoid_focal_loss(
        x, y, gamma=gamma, reduction="none", return_grad=True, return_hess=True
    )
    h = 1e-6

    def grad(z):
        return nl.sigmoid_focal_loss(z, y, gamma=gamma, reduction="none", return_grad=True)[1]

    np.testing.assert_allclose(hess, (grad(x + h) - grad(x - h)) / (2 * h), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("gamma", [0.3, 2.0])
def test_sigmoid_focal_hessian_finite_for_huge_logits(dtype, gamma):
    x = np.array([-3000.0, -90.0, 90.0, 3000.0], dtype)
    for label in (0.0, 1.0):
        y = np.full(4, label, dtype)
        _, g, h = nl.sigmoid_focal_loss(
            x, y, gamma=gamma, reduction="none", return_grad=True, return_hess=True
        )
        assert np.isfinite(h).all() and np.isfinite(g).all()


# --- the registry and the point classes --------------------------------------------------


@pytest.mark.parametrize("name", registry.names("elementwise"))
def test_every_elementwise_loss_with_a_hessian_declares_it(name):
    entry = registry.entry(name)
    for cls_name, *_ in entry.ptx:
        assert has_hess(getattr(points, cls_name)) == entry.hessian, cls_name
    if entry.hessian:
        assert name in HESSIANS, f"{name} has no NumPy Hessian in numbaloss.testing.elementwise"
        assert "return_hess : bool" in getattr(nl, name).__doc__


# --- properties ----------------------------------------------------------------------------

SETTINGS = settings(max_examples=25, deadline=None)
shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=5)


@SETTINGS
@given(data=st.data(), name=st.sampled_from(NAMES), shape=shapes)
def test_hessian_shapes_reductions_and_formula(data, name, shape):
    case = CASES[name]
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    arrays = _inputs(case, rng, shape, np.float64)
    reduction = data.draw(st.sampled_from(REDUCTIONS))
    loss, grad, hess = case.func(
        *arrays, reduction=reduction, return_grad=True, return_hess=True, **case.options
    )
    n = max(int(np.prod(shape, dtype=np.int64)), 1)
    scale = 1.0 / n if reduction == "mean" else 1.0
    for h, rh in zip(_as_tuple(hess), case.numpy_hess(*arrays, **case.options), strict=True):
        assert h.shape == shape and h.dtype == np.float64
        np.testing.assert_allclose(h, scale * np.broadcast_to(rh, shape), rtol=1e-12, atol=1e-14)


finite_logits = st.floats(-1e4, 1e4, allow_nan=False, allow_infinity=False, width=32)


@SETTINGS
@given(
    x=hnp.arrays(np.float32, shapes, elements=finite_logits),
    name=st.sampled_from(["soft_margin_loss", "binary_cross_entropy_with_logits"]),
)
def test_logistic_hessians_are_finite_and_bounded(x, name):
    """``s(z) s(-z)`` lies in [0, 1/4] for every finite logit, and is never NaN."""
    target = np.ones_like(x)
    _, _, h = CASES[name].func(x, target, reduction="none", return_grad=True, return_hess=True)
    assert np.isfinite(h).all()
    assert ((h >= 0) & (h <= 0.25 + 1e-7)).all()


@SETTINGS
@given(
    x=hnp.arrays(np.float32, shapes, elements=st.floats(width=32, allow_infinity=False)),
    gamma=st.sampled_from([0.0, 0.5, 2.0]),
)
def test_sigmoid_focal_hessian_nan_only_from_nan(x, gamma):
    y = (np.arange(x.size).reshape(x.shape) % 2).astype(np.float32)
    _, _, h = nl.sigmoid_focal_loss(
        x, y, gamma=gamma, reduction="none", return_grad=True, return_hess=True
    )
    assert h.dtype == np.float32
    np.testing.assert_array_equal(np.isnan(h), np.isnan(x))


@pytest.mark.parametrize("name", NAMES)
def test_empty_inputs(name):
    case = CASES[name]
    arrays = [np.zeros((0, 3)) for _ in case.arrays]
    _, _, hess = case.func(
        *arrays, reduction="none", return_grad=True, return_hess=True, **case.options
    )
    assert all(h.shape == (0, 3) for h in _as_tuple(hess))


def test_same_bits_for_any_thread_count(rng, any_thread_count):
    x, y = rng.standard_normal((2, 300_001)).astype(np.float32)
    before = nl.get_num_threads()
    try:
        results = []
        for threads in (1, 2, 3):
            nl.set_num_threads(threads)
            results.append(
                nl.binary_cross_entropy_with_logits(x, y, return_grad=True, return_hess=True)
            )
    finally:
        nl.set_num_threads(before)
    for loss, grad, hess in results[1:]:
        assert loss == results[0][0]
        np.testing.assert_array_equal(grad, results[0][1])
        np.testing.assert_array_equal(hess, results[0][2])
