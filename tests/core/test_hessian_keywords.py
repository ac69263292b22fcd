"""``return_hess``/``hess_out`` across the registry: who has a Hessian's diagonal, who raises."""

import inspect

import numpy as np
import pytest

import numbaloss as nl
from numbaloss._core import registry

WITH = registry.names(with_hessian=True)
WITHOUT = registry.names(with_hessian=False)


def test_the_losses_with_a_hessian():
    """The elementwise family and the softmax losses over class scores (issue scope)."""
    assert set(registry.names("elementwise")) <= set(WITH)
    assert {"cross_entropy", "nll_loss", "focal_loss"} <= set(WITH)
    assert set(registry.names("margin")) <= set(WITHOUT)
    assert set(registry.names("ctc")) <= set(WITHOUT)
    assert {"zero_one_loss", "softmax", "log_softmax", "logsumexp"} <= set(WITHOUT)


@pytest.mark.parametrize("name", WITHOUT)
def test_return_hess_is_a_type_error_naming_the_loss(name):
    func = getattr(nl, name)
    with pytest.raises(TypeError, match=rf"^{name} has no Hessian diagonal"):
        func(np.zeros(3), np.zeros(3), return_grad=True, return_hess=True)
    with pytest.raises(TypeError, match=rf"^{name} has no Hessian diagonal"):
        func(np.zeros(3), np.zeros(3), hess_out=np.zeros(3))


@pytest.mark.parametrize("name", [n for n in WITHOUT if registry.entry(n).cls])
def test_classes_without_a_hessian_raise_alike(name):
    """The classes pass ``return_hess`` along: ``False`` is dropped, ``True`` raises."""
    loss_fn = getattr(nl, registry.entry(name).cls)()
    with pytest.raises(TypeError, match=rf"^{name} has no Hessian diagonal"):
        loss_fn(np.zeros(3), np.zeros(3), return_grad=True, return_hess=True)


@pytest.mark.parametrize("name", WITH)
def test_functions_with_a_hessian_take_the_keywords(name):
    params = inspect.signature(getattr(nl, name)).parameters
    assert params["return_hess"].default is False
    assert params["hess_out"].default is None
    assert params["return_hess"].kind is inspect.Parameter.KEYWORD_ONLY
    doc = getattr(nl, name).__doc__
    assert "return_hess : bool" in doc and "hess_out : ndarray" in doc


def test_a_class_without_a_hessian_runs_with_the_default(rng):
    x = rng.standard_normal((4, 3))
    y = np.array([0, 2, 1, 1])
    assert nl.MultiMarginLoss()(x, y) == nl.multi_margin_loss(x, y)
    loss, grad = nl.MultiMarginLoss()(x, y, return_grad=True)
    assert grad.shape == x.shape


@pytest.mark.parametrize("name", WITH)
def test_every_loss_with_a_hessian_has_a_numpy_reference(name):
    """``numbaloss.testing.<family>.HESSIANS`` holds each one's NumPy second derivative."""
    import importlib

    family = registry.entry(name).family
    testing = importlib.import_module(f"numbaloss.testing.{family}")
    assert name in getattr(testing, "HESSIANS", {}), (
        f"{name} has no NumPy Hessian in numbaloss.testing.{family}.HESSIANS"
    )
