"""The shapes PyTorch 2.13 documents for its elementwise losses (the "Shape" sections of
``torch.nn``'s classes), each against PyTorch; and what happens to the others.

Every documented form is accepted with PyTorch's value and gradients (of the input's
shape; ``gaussian_nll_loss``'s ``var`` gradient of ``var``'s shape).  An undocumented
form raises ``ValueError`` naming the shapes; where PyTorch broadcasts it instead
(with a warning or silently), the difference is listed in ``docs/migration.rst``
("Differences from PyTorch"), and the tests here pin PyTorch's side of it too.
"""

import warnings

import numpy as np
import pytest

import numbaloss as nl
from numbaloss.testing.elementwise import CASES
from tests.conftest import assert_close, compare_with_torch

REDUCTIONS = ["none", "mean", "sum"]

#: "Input: (*), where * means any number of dimensions. Target: (*), same shape as
#: the input." (L1Loss, MSELoss, SmoothL1Loss, HuberLoss, SoftMarginLoss, BCELoss,
#: BCEWithLogitsLoss, PoissonNLLLoss, KLDivLoss, HingeEmbeddingLoss)
SAME_SHAPE_LOSSES = [
    "l1_loss",
    "mse_loss",
    "smooth_l1_loss",
    "huber_loss",
    "soft_margin_loss",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "poisson_nll_loss",
    "kl_div",
    "hinge_embedding_loss",
]
ANY_SHAPES = [(), (0,), (5,), (3, 4), (2, 0, 3), (2, 3, 4)]


def _torch_function(torch, name):
    return getattr(torch.nn.functional, name)


def _arrays(name, rng, shape):
    return [np.asarray(a) for a in CASES[name].make(rng, shape, np.float64)]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", ANY_SHAPES, ids=str)
@pytest.mark.parametrize("name", SAME_SHAPE_LOSSES)
def test_any_shape_with_a_target_of_the_same_shape(torch, rng, name, shape, reduction):
    x, t = _arrays(name, rng, shape)
    compare_with_torch(
        torch,
        getattr(nl, name),
        _torch_function(torch, name),
        [x, t],
        (0,),
        reduction=reduction,
        rng=rng,
    )


#: Targets that broadcast to the input ``(3, 4)`` but are not of its shape: PyTorch
#: warns and broadcasts for these (l1, mse, smooth_l1, huber), broadcasts silently
#: (soft_margin, poisson_nll, kl_div, hinge_embedding) or raises (the two binary
#: cross entropies); numbaloss raises for all.
BROADCAST_TARGETS = [(4,), (3, 1), (1, 4), ()]
TORCH_WARNS = {"l1_loss", "mse_loss", "smooth_l1_loss", "huber_loss"}
TORCH_RAISES = {"binary_cross_entropy", "binary_cross_entropy_with_logits"}


@pytest.mark.parametrize("target_shape", BROADCAST_TARGETS, ids=str)
@pytest.mark.parametrize("name", SAME_SHAPE_LOSSES)
def test_a_broadcast_target_is_refused(torch, rng, name, target_shape):
    x = _arrays(name, rng, (3, 4))[0]
    t = _arrays(name, rng, target_shape)[1]
    with pytest.raises(ValueError, match=r"\(3, 4\).*" + re_shape(target_shape)):
        getattr(nl, name)(x, t)
    # PyTorch's side of the difference (docs/migration.rst)
    tx, tt = torch.tensor(x), torch.tensor(t)
    if name in TORCH_RAISES:
        with pytest.raises(ValueError, match="size"):
            _torch_function(torch, name)(tx, tt)
        return
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert tuple(_torch_function(torch, name)(tx, tt, reduction="none").shape) == (3, 4)
    warned = any("target size" in str(w.message) for w in caught)
    assert warned == (name in TORCH_WARNS)


@pytest.mark.parametrize("name", SAME_SHAPE_LOSSES)
def test_a_target_that_does_not_broadcast_is_refused(torch, rng, name):
    x = _arrays(name, rng, (3, 4))[0]
    t = _arrays(name, rng, (5,))[1]
    with pytest.raises(ValueError, match=r"\(3, 4\).*\(5,\)"):
        getattr(nl, name)(x, t)
    with pytest.raises((RuntimeError, ValueError)):
        _torch_function(torch, name)(torch.tensor(x), torch.tensor(t))


def re_shape(shape):
    """A regular expression matching ``shape`` as Python prints it."""
    return r"\(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + r"\)"


# --- weights (the Args sections) ----------------------------------------------------------

#: BCELoss's ``weight`` "is repeated to match input tensor shape", BCEWithLogitsLoss's
#: ``weight`` and ``pos_weight`` broadcast to the input's shape (here ``(2, 3, 4)``).
BROADCAST_WEIGHTS = [
    ("binary_cross_entropy", "weight", (2, 3, 4)),
    ("binary_cross_entropy", "weight", (4,)),
    ("binary_cross_entropy", "weight", (3, 1)),
    ("binary_cross_entropy", "weight", ()),
    ("binary_cross_entropy_with_logits", "weight", (2, 3, 4)),
    ("binary_cross_entropy_with_logits", "weight", (1, 3, 1)),
    ("binary_cross_entropy_with_logits", "pos_weight", (4,)),
    ("binary_cross_entropy_with_logits", "pos_weight", (3, 1)),
    ("binary_cross_entropy_with_logits", "pos_weight", (2, 3, 4)),
]


@pytest.mark.parametrize(("name", "option", "shape"), BROADCAST_WEIGHTS, ids=str)
def test_weights_broadcast_to_the_input(torch, rng, name, option, shape):
    x, t = _arrays(name, rng, (2, 3, 4))
    w = np.asarray(rng.uniform(0.2, 2.0, shape))
    for reduction in REDUCTIONS:
        compare_with_torch(
            torch,
            getattr(nl, name),
            _torch_function(torch, name),
            [x, t],
            (0,),
            reduction=reduction,
            rng=rng,
            kwargs={option: w},
        )


@pytest.mark.parametrize("name", ["l1_loss", "mse_loss", "huber_loss"])
def test_per_element_weights_have_the_input_shape(torch, rng, name):
    """l1, mse and huber's ``weight`` must have the input's shape, as in PyTorch."""
    x, t = _arrays(name, rng, (3, 4))
    w = rng.uniform(0.2, 2.0, (3, 4))
    for reduction in REDUCTIONS:
        compare_with_torch(
            torch,
            getattr(nl, name),
            _torch_function(torch, name),
            [x, t],
            (0,),
            reduction=reduction,
            rng=rng,
            kwargs={"weight": w},
        )
    for bad in [(4,), (3, 1)]:
        with pytest.raises(ValueError, match="weight"):
            getattr(nl, name)(x, t, weight=np.ones(bad))
        with pytest.raises(ValueError, match="Weights and input must have the same size"):
            _torch_function(torch, name)(
                torch.tensor(x), torch.tensor(t), weight=torch.ones(bad, dtype=torch.float64)
            )


# --- margin_ranking_loss ------------------------------------------------------------------

#: "Input1: (N) or (). Input2: (N) or (), same shape as the Input1. Target: (N) or (),
#: same shape as the inputs."  Higher ranks of one shape are elementwise too, as in
#: PyTorch.
RANKING_SHAPES = [(), (0,), (6,), (3, 4)]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", RANKING_SHAPES, ids=str)
def test_margin_ranking_shapes(torch, rng, shape, reduction):
    x1, x2, y = _arrays("margin_ranking_loss", rng, shape)
    compare_with_torch(
        torch,
        nl.margin_ranking_loss,
        torch.nn.functional.margin_ranking_loss,
        [x1, x2, y],
        (0, 1),
        reduction=reduction,
        rng=rng,
        kwargs={"margin": 0.3},
    )


def test_margin_ranking_refuses_broadcasting(torch, rng):
    x1, x2, y = _arrays("margin_ranking_loss", rng, (6,))
    # PyTorch broadcasts arguments of the same number of dimensions (silently) and
    # raises for different numbers; numbaloss wants one shape.
    for a, b, t in [(x1, x2[:1], y), (x1, x2, y[:1]), (x1, x2, np.float64(1.0) + 0 * y[0])]:
        with pytest.raises(ValueError, match="same shape"):
            nl.margin_ranking_loss(a, b, t)
    loss = torch.nn.functional.margin_ranking_loss(
        torch.tensor(x1), torch.tensor(x2[:1]), torch.tensor(y), reduction="none"
    )
    assert tuple(loss.shape) == (6,)
    with pytest.raises(RuntimeError, match="same dimension"):
        torch.nn.functional.margin_ranking_loss(
            torch.tensor(x1), torch.tensor(x2), torch.tensor(y[0])
        )


# --- gaussian_nll_loss --------------------------------------------------------------------

#: GaussianNLLLoss: "Target: (N, *) or (*), same shape as the input, or same shape as
#: the input but with one dimension equal to 1 (to allow for broadcasting). Var: (N, *)
#: or (*), same shape as the input, or same shape as the input but with one dimension
#: equal to 1, or same shape as the input but with one fewer dimension (to allow for
#: broadcasting), or a scalar value."  ``(input, target, var)`` shapes; ``"float"`` is
#: a Python float variance.
GAUSSIAN_FORMS = [
    ((5,), (5,), (5,)),
    ((5,), (1,), (5,)),
    ((5,), (5,), (1,)),
    ((5,), (1,), ()),
    ((5,), (1,), "float"),
    ((3, 5), (3, 5), (3, 5)),
    ((3, 5), (3, 1), (3, 5)),
    ((3, 5), (1, 5), (3, 5)),
    ((3, 5), (3, 1), (3, 1)),
    ((3, 5), (1, 5), (1, 5)),
    ((3, 5), (3, 5), (3,)),
    ((3, 5), (3, 1), (3,)),
    ((3, 5), (1, 5), "float"),
    ((2, 3, 4), (2, 1, 4), (2, 3, 4)),
    ((2, 3, 4), (2, 3, 1), (2, 3)),
    ((2, 3, 4), (1, 3, 4), (2, 1, 4)),
    ((2, 3, 4), (2, 3, 4), (1, 3, 4)),
    ((4, 4), (4, 1), (4,)),  # (4,) is the input without its last axis: (4, 1)
    ((), (), ()),
    ((), (), "float"),
    ((0, 3), (1, 3), (0, 3)),
    ((0, 3), (0, 1), (0,)),
    ((2, 0), (2, 1), (2, 1)),
]


def _gaussian_case(rng, shapes):
    xs, ts, vs = shapes
    x = np.asarray(rng.standard_normal(xs))
    t = np.asarray(rng.standard_normal(ts))
    var = 0.7 if vs == "float" else np.asarray(rng.uniform(0.2, 2.0, vs))
    return x, t, var


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shapes", GAUSSIAN_FORMS, ids=str)
def test_gaussian_documented_forms(torch, rng, shapes, reduction):
    x, t, var = _gaussian_case(rng, shapes)
    if isinstance(var, float):
        # PyTorch takes a float as a constant; the gradient numbaloss returns for it is
        # that of one variance shared by every element: PyTorch's with the float
        # spread over the input's shape, summed.
        F = torch.nn.functional
        tx = torch.tensor(x, requires_grad=True)
        tv = torch.full(x.shape, var, dtype=torch.float64, requires_grad=True)
        ref = F.gaussian_nll_loss(tx, torch.tensor(t), tv, reduction=reduction)
        as_float = F.gaussian_nll_loss(tx, torch.tensor(t), var, reduction=reduction)
        grad_output = rng.uniform(0.5, 1.5, tuple(ref.shape))
        ref.backward(torch.tensor(grad_output))
        loss, (gx, gv) = nl.gaussian_nll_loss(
            x, t, var, reduction=reduction, return_grad=True, grad_output=grad_output
        )
        assert np.shape(loss) == tuple(as_float.shape)
        assert_close(loss, as_float.detach().numpy(), np.float64)
        assert gx.shape == x.shape and np.shape(gv) == ()
        assert_close(gx, tx.grad.numpy(), np.float64)
        assert_close(gv, tv.grad.sum().item(), np.float64)
        return
    compare_with_torch(
        torch,
        nl.gaussian_nll_loss,
        torch.nn.functional.gaussian_nll_loss,
        [x, t, var],
        (0, 2),
        reduction=reduction,
        rng=rng,
    )


def test_gaussian_numpy_scalar_and_0d_variances(torch, rng):
    """A scalar value is a variance for any input: a NumPy scalar or a 0-d array too
    (PyTorch takes a Python float, and a 0-d tensor only for inputs of at most one
    dimension); its gradient is 0-d."""
    x, t = rng.standard_normal((2, 3, 5))
    want = torch.nn.functional.gaussian_nll_loss(torch.tensor(x), torch.tensor(t), 0.7).item()
    for var in [np.float32(0.7), np.float64(0.7), np.array(0.7)]:
        loss, (gx, gv) = nl.gaussian_nll_loss(x, t, var, return_grad=True)
        assert_close(loss, want, np.float32)
        assert gx.shape == (3, 5) and np.shape(gv) == ()
        assert_close(gv, nl.gaussian_nll_loss(x, t, 0.7, return_grad=True)[1][1], np.float32)
    with pytest.raises(ValueError, match="var is of incorrect size"):
        torch.nn.functional.gaussian_nll_loss(
            torch.tensor(x), torch.tensor(t), torch.tensor(0.7, dtype=torch.float64)
        )


#: Undocumented ``(input, target, var)`` shapes: numbaloss raises ``ValueError`` naming
#: both shapes.  ``torch``: what PyTorch does, ``"raises"`` or the loss's shape when
#: it broadcasts (a difference listed in docs/migration.rst).
GAUSSIAN_REFUSED = [
    # targets
    ((3, 5), (5,), (3, 5), (3, 5)),  # one fewer dimension
    ((3, 5), (1, 1), (3, 5), (3, 5)),  # two axes of size 1
    ((3, 5), (), (3, 5), (3, 5)),
    ((3, 1), (3, 5), (3, 1), (3, 5)),  # the input is the one of size 1
    ((3, 5), (3, 2), (3, 5), "raises"),
    ((3, 5), (3, 5, 1), (3, 5), "raises"),
    # variances
    ((3, 5), (3, 5), (1, 1), "raises"),
    ((3, 5), (3, 5), (5,), "raises"),
    ((3, 5), (3, 5), (3, 5, 1), "raises"),
    ((3, 5), (3, 5), (3, 2), "raises"),
    ((2, 3, 4), (2, 3, 4), (2,), "raises"),
    ((2, 3, 4), (2, 3, 4), (3, 4), "raises"),
]


@pytest.mark.parametrize(("xs", "ts", "vs", "in_torch"), GAUSSIAN_REFUSED, ids=str)
def test_gaussian_undocumented_forms_are_refused(torch, rng, xs, ts, vs, in_torch):
    x, t, var = _gaussian_case(rng, (xs, ts, vs))
    bad, other = ("target", ts) if ts != xs else ("var", vs)
    with pytest.raises(ValueError, match=re_shape(other) + r".*" + re_shape(xs)) as info:
        nl.gaussian_nll_loss(x, t, var)
    assert bad in str(info.value)
    targs = [torch.tensor(a) for a in (x, t, var)]
    if in_torch == "raises":
        with pytest.raises((RuntimeError, ValueError)):
            torch.nn.functional.gaussian_nll_loss(*targs)
    else:
        loss = torch.nn.functional.gaussian_nll_loss(*targs, reduction="none")
        assert tuple(loss.shape) == in_torch
