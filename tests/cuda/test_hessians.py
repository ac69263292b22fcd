"""``return_hess=True`` on CUDA device arrays, against the CPU path.

Every elementwise loss (and the sigmoid focal loss), cross entropy (class indices
and probabilities, weights, ``ignore_index``, label smoothing), the focal loss and
NLL: loss, gradient and the Hessian's diagonal with a ``grad_output``, float32 and
float64; ``hess_out`` preallocated and in place (also with the gradient in place),
the overlap check, and losses without a Hessian.  The conftest's launch
configuration (8 threads, at most 3 blocks) makes inputs span several blocks.
"""

import numpy as np
import pytest

import numbaloss as nl
from numbaloss._core.devices import is_device_array
from numbaloss.testing.elementwise import CASES, NAMES
from tests.conftest import assert_close

DTYPES = [np.float32, np.float64]
REDUCTIONS = ["none", "mean", "sum"]
SHAPE = (5, 7)


def _tuple(g):
    return g if isinstance(g, tuple) else (g,)


def _host(arr):
    assert is_device_array(arr), type(arr)
    return arr.copy_to_host()


def _compare(got, expected, dtype, scale=4.0):
    assert_close(_host(got), expected, dtype, scale=scale)


def _gout(cuda, rng, reduction, shape, dtype):
    if reduction == "none":
        g = rng.uniform(0.5, 1.5, shape).astype(dtype)
        return g, cuda.to_device(g)
    return 0.75, 0.75


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", NAMES)
def test_elementwise_matches_cpu(cuda, rng, name, dtype, reduction):
    case = CASES[name]
    arrays = case.make(rng, SHAPE, dtype)
    gout, gout_device = _gout(cuda, rng, reduction, SHAPE, dtype)
    loss, grad, hess = case.func(
        *(cuda.to_device(a) for a in arrays), **case.options, reduction=reduction,
        return_grad=True, return_hess=True, grad_output=gout_device,
    )  # fmt: skip
    want = case.func(
        *arrays, **case.options, reduction=reduction, return_grad=True, return_hess=True,
        grad_output=gout,
    )  # fmt: skip
    _compare(loss, want[0], dtype)
    for g, e in zip(_tuple(grad), _tuple(want[1]), strict=True):
        _compare(g, e, dtype)
    for h, e in zip(_tuple(hess), _tuple(want[2]), strict=True):
        assert h.dtype == np.dtype(dtype) and tuple(h.shape) == SHAPE
        _compare(h, e, dtype)


@pytest.mark.parametrize(
    ("dtype", "reduction", "gamma"),
    [(np.float32, "none", 2.0), (np.float64, "mean", 1.5), (np.float64, "sum", 0.0)],
)
def test_sigmoid_focal_loss(cuda, rng, dtype, reduction, gamma):
    x = (3 * rng.standard_normal((4, 5))).astype(dtype)
    y = rng.integers(0, 2, (4, 5)).astype(dtype)
    gout, dg = _gout(cuda, rng, reduction, (4, 5), dtype)
    got = nl.sigmoid_focal_loss(
        cuda.to_device(x), cuda.to_device(y), 0.3, gamma, reduction,
        return_grad=True, return_hess=True, grad_output=dg,
    )  # fmt: skip
    want = nl.sigmoid_focal_loss(
        x, y, 0.3, gamma, reduction, return_grad=True, return_hess=True, grad_output=gout
    )
    for g, w in zip(got, want, strict=True):
        _compare(g, w, dtype)


@pytest.mark.parametrize("var_shape", [SHAPE, SHAPE[:-1], (1, SHAPE[1])], ids=str)
def test_gaussian_broadcast_var(cuda, rng, var_shape):
    x, y = rng.standard_normal((2, *SHAPE))
    var = rng.uniform(0.2, 2.0, var_shape)
    _, _, (hx, hv) = nl.gaussian_nll_loss(
        cuda.to_device(x), cuda.to_device(y), cuda.to_device(var), return_grad=True,
        return_hess=True, grad_output=1.5,
    )  # fmt: skip
    _, _, (wx, wv) = nl.gaussian_nll_loss(
        x, y, var, return_grad=True, return_hess=True, grad_output=1.5
    )
    _compare(hx, wx, np.float64)
    assert tuple(hv.shape) == var_shape
    _compare(hv, wv, np.float64)


def test_elementwise_hess_out(cuda, rng):
    x, y = rng.standard_normal((2, *SHAPE))
    _, want_grad, want_hess = nl.soft_margin_loss(x, np.sign(y), return_grad=True, return_hess=True)
    dx, dy = cuda.to_device(x), cuda.to_device(np.sign(y))
    # the Hessian into the input itself
    _, grad, hess = nl.soft_margin_loss(dx, dy, return_grad=True, return_hess=True, hess_out=dx)
    assert hess is dx
    _compare(hess, want_hess, np.float64)
    _compare(grad, want_grad, np.float64)
    # the gradient in place, the Hessian into a preallocated array
    dx = cuda.to_device(x)
    out = cuda.device_array(SHAPE)
    _, grad, hess = nl.soft_margin_loss(
        dx, dy, return_grad=True, return_hess=True, grad_out=dx, hess_out=out
    )
    assert grad is dx and hess is out
    _compare(dx, want_grad, np.float64)
    _compare(out, want_hess, np.float64)
    with pytest.raises(ValueError, match="hess_out for input overlaps grad_out for input"):
        nl.soft_margin_loss(dx, dy, return_grad=True, return_hess=True, grad_out=out, hess_out=out)
    with pytest.raises(ValueError, match="hess_out for input must have shape"):
        nl.soft_margin_loss(
            dx, dy, return_grad=True, return_hess=True, hess_out=cuda.device_array(3)
        )


def test_margin_ranking_two_hessians(cuda, rng):
    x1, x2 = rng.standard_normal((2, *SHAPE))
    y = np.sign(rng.standard_normal(SHAPE))
    _, grads, hess = nl.margin_ranking_loss(
        *(cuda.to_device(a) for a in (x1, x2, y)), return_grad=True, return_hess=True
    )
    assert len(grads) == len(hess) == 2
    for h in hess:
        np.testing.assert_array_equal(_host(h), 0.0)


def test_losses_without_a_hessian(cuda, rng):
    x = cuda.to_device(rng.standard_normal((4, 3)))
    with pytest.raises(TypeError, match="^multi_margin_loss has no Hessian diagonal"):
        nl.multi_margin_loss(x, cuda.to_device(np.array([0, 1, 2, 0])), return_hess=True)


# --- the softmax family -------------------------------------------------------------------


def _index_targets(rng, loss_shape, n_classes):
    t = rng.integers(0, n_classes, loss_shape)
    t.reshape(-1)[::4] = -100
    return t


SOFTMAX_CASES = [
    ("cross_entropy", np.float32, "mean", (5, 7), {}),
    ("cross_entropy", np.float64, "none", (2, 5, 3), {"weight": True, "label_smoothing": 0.2}),
    ("cross_entropy", np.float64, "sum", (4, 13), {"weight": True}),  # C > threads
    ("cross_entropy", np.float64, "mean", (6, 3), {"label_smoothing": 0.1}),  # rows share blocks
    ("focal_loss", np.float32, "mean", (5, 7), {"gamma": 2.0}),
    ("focal_loss", np.float64, "none", (2, 5, 3), {"gamma": 0.5, "weight": True}),
    ("focal_loss", np.float64, "sum", (4, 13), {"gamma": 1.5}),
    ("nll_loss", np.float64, "none", (5, 7), {"weight": True}),
]


@pytest.mark.parametrize("case", SOFTMAX_CASES, ids=str)
def test_softmax_matches_cpu(cuda, rng, case):
    name, dtype, reduction, shape, options = case
    func = getattr(nl, name)
    x = (3 * rng.standard_normal(shape)).astype(dtype)
    loss_shape = (shape[0], *shape[2:])
    t = _index_targets(rng, loss_shape, shape[1])
    opts = dict(options)
    if opts.get("weight"):
        opts["weight"] = rng.uniform(0.2, 2.0, shape[1]).astype(dtype)
    gout, dg = _gout(cuda, rng, reduction, loss_shape, dtype)
    got = func(
        cuda.to_device(x), cuda.to_device(t), reduction=reduction, return_grad=True,
        return_hess=True, grad_output=dg, **opts,
    )  # fmt: skip
    want = func(
        x, t, reduction=reduction, return_grad=True, return_hess=True, grad_output=gout, **opts
    )
    for g, w in zip(got, want, strict=True):
        _compare(g, w, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_probability_targets(cuda, rng, dtype):
    x = (3 * rng.standard_normal((5, 6))).astype(dtype)
    p = rng.uniform(0, 1, (5, 6))
    p = (p / p.sum(axis=1, keepdims=True)).astype(dtype)
    w = rng.uniform(0.2, 2.0, 6).astype(dtype)
    got = nl.cross_entropy(
        cuda.to_device(x), cuda.to_device(p), weight=w, label_smoothing=0.1,
        return_grad=True, return_hess=True,
    )  # fmt: skip
    want = nl.cross_entropy(x, p, weight=w, label_smoothing=0.1, return_grad=True, return_hess=True)
    for g, e in zip(got, want, strict=True):
        _compare(g, e, dtype)


@pytest.mark.parametrize("name", ["cross_entropy", "focal_loss", "nll_loss"])
def test_softmax_hess_out_in_place(cuda, rng, name):
    func = getattr(nl, name)
    x = 3 * rng.standard_normal((6, 5))
    t = _index_targets(rng, (6,), 5)
    _, want_grad, want_hess = func(x, t, return_grad=True, return_hess=True)
    dt = cuda.to_device(t)
    dx = cuda.to_device(x)
    _, grad, hess = func(dx, dt, return_grad=True, return_hess=True, hess_out=dx)
    assert hess is dx
    _compare(grad, want_grad, np.float64)
    _compare(dx, want_hess, np.float64)
    dx = cuda.to_device(x)
    out = cuda.to_device(np.asfortranarray(np.zeros((6, 5))))
    _, grad, hess = func(dx, dt, return_grad=True, return_hess=True, grad_out=dx, hess_out=out)
    assert grad is dx and hess is out
    _compare(dx, want_grad, np.float64)
    _compare(out, want_hess, np.float64)
    with pytest.raises(ValueError, match="overlaps grad_out"):
        func(dx, dt, return_grad=True, return_hess=True, grad_out=out, hess_out=out)
