"""The adapters of numbaloss.boosting without training: what the objective returns for
each call form, weights, the Hessian conventions and floor, the metric's forms, and
the errors for bad arguments."""

import copy
import pickle
import subprocess
import sys
import warnings

import numpy as np
import pytest

import numbaloss as nl
from numbaloss.boosting import (
    lightgbm_metric,
    lightgbm_objective,
    xgboost_metric,
    xgboost_objective,
)

ADAPTERS = [xgboost_objective, lightgbm_objective]


def test_import_numbaloss_imports_no_boosting_library():
    """``import numbaloss`` and ``import numbaloss.boosting`` import neither library;
    making an adapter imports its own library only."""
    code = (
        "import sys, numbaloss, numbaloss.boosting\n"
        "assert 'xgboost' not in sys.modules and 'lightgbm' not in sys.modules\n"
        "from numbaloss.boosting import lightgbm_objective\n"
        "lightgbm_objective('mse_loss')\n"
        "assert 'lightgbm' in sys.modules and 'xgboost' not in sys.modules\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


@pytest.fixture(params=["xgboost", "lightgbm"])
def make(request, xgb, lgb):
    return {"xgboost": xgboost_objective, "lightgbm": lightgbm_objective}[request.param]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_elementwise_is_the_sum_gradient_and_hessian(make, rng, dtype):
    """The scikit-learn form (y_true, y_pred): the loss's own gradient and Hessian of
    the sum (not the mean) with the options passed through, in the predictions' dtype."""
    x = rng.standard_normal(300).astype(dtype)
    y = (rng.uniform(size=300) < 0.3).astype(dtype)
    grad, hess = make("sigmoid_focal_loss", alpha=0.6, gamma=1.5)(y, x)
    _, g, h = nl.sigmoid_focal_loss(
        x, y, alpha=0.6, gamma=1.5, reduction="sum", return_grad=True, return_hess=True
    )
    assert grad.dtype == hess.dtype == dtype
    np.testing.assert_array_equal(grad, g)
    np.testing.assert_array_equal(hess, np.maximum(h, dtype(1e-16)))


def test_weights_multiply_gradient_and_hessian(make, rng):
    x = rng.standard_normal(200)
    y = rng.standard_normal(200)
    w = rng.uniform(0, 3, 200)
    w[:10] = 0
    obj = make("pseudo_huber_loss", delta=0.7)
    g1, h1 = obj(y, x)
    gw, hw = obj(y, x, w)
    np.testing.assert_allclose(gw, w * g1, rtol=1e-14)
    np.testing.assert_allclose(hw, w * h1, rtol=1e-14)
    # weight 0: no gradient and no Hessian, not even the floor
    assert not gw[:10].any() and not hw[:10].any()


def test_min_hessian_floors_flat_and_concave_regions(make, rng):
    """The floor replaces Hessians below it: 0 on huber's linear pieces, and the
    negative curvature of the focal loss; it is a keyword-only float >= 0."""
    x = np.array([-5.0, -0.5, 0.0, 0.5, 5.0])
    y = np.zeros(5)
    _, h = make("huber_loss", delta=1.0, min_hessian=0.25)(y, x)
    np.testing.assert_array_equal(h, [0.25, 1.0, 1.0, 1.0, 0.25])
    x = np.linspace(-6, 6, 101)
    y = np.ones(101)
    _, _, exact = nl.sigmoid_focal_loss(
        x, y, gamma=4.0, reduction="sum", return_grad=True, return_hess=True
    )
    assert exact.min() < 0  # focal loss is not convex in the logit
    _, h = make("sigmoid_focal_loss", gamma=4.0, min_hessian=1e-3)(y, x)
    np.testing.assert_array_equal(h, np.maximum(exact, 1e-3))
    with pytest.raises(ValueError, match="min_hessian"):
        make("mse_loss", min_hessian=-1.0)
    with pytest.raises(TypeError, match="min_hessian"):
        make("mse_loss", min_hessian=True)


def test_zero_hessian_warns_once(make, rng):
    """A piecewise-linear loss with the default floor warns (its steps would be set by
    the floor); with min_hessian given it does not."""
    x, y = rng.standard_normal(50), rng.standard_normal(50)
    obj = make("quantile_loss", quantile=0.8)
    with pytest.warns(RuntimeWarning, match="min_hessian"):
        obj(y, x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        obj(y, x)  # once per objective
        _, h = make("quantile_loss", quantile=0.8, min_hessian=1.0)(y, x)
    np.testing.assert_array_equal(h, np.ones(50))


@pytest.mark.parametrize("hessian, factor", [("exact", 1.0), ("xgboost", 2.0), ("lightgbm", 4 / 3)])
def test_softmax_hessian_conventions(make, rng, hessian, factor):
    """'exact' is numbaloss's diagonal; 'xgboost' twice it, 'lightgbm' K/(K-1) times it,
    which for cross_entropy are 2 p (1 - p) and K/(K-1) p (1 - p); class indices come as
    floats (as the libraries store labels) and the layout is (n, K)."""
    x = rng.standard_normal((40, 4))
    y = rng.integers(0, 4, 40)
    grad, hess = make("cross_entropy", hessian=hessian)(y.astype(np.float32), x)
    p = np.exp(x - x.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    np.testing.assert_allclose(grad, p - np.eye(4)[y], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(hess, factor * p * (1 - p), rtol=1e-12, atol=1e-15)
    # the same factor on focal_loss's exact diagonal, with its options
    _, _, h = nl.focal_loss(x, y, gamma=1.0, reduction="sum", return_grad=True, return_hess=True)
    _, hf = make("focal_loss", gamma=1.0, hessian=hessian)(y, x)
    np.testing.assert_allclose(hf, np.maximum(factor * h, 1e-16), rtol=1e-12)


def test_softmax_weights_and_class_options(make, rng):
    """Sample weights scale rows; the loss's class weights and ignore_index pass through."""
    x = rng.standard_normal((30, 3))
    y = rng.integers(0, 3, 30)
    y[:3] = -1
    w = rng.uniform(0.5, 2, 30)
    cw = np.array([1.0, 2.0, 0.5])
    grad, hess = make("cross_entropy", weight=cw, ignore_index=-1)(y, x, w)
    _, g, h = nl.cross_entropy(
        x,
        y,
        weight=cw,
        ignore_index=-1,
        reduction="none",
        grad_output=w,
        return_grad=True,
        return_hess=True,
    )
    np.testing.assert_allclose(grad, g, rtol=1e-14)
    np.testing.assert_allclose(hess, np.maximum(h, 1e-16 * w[:, None]), rtol=1e-14)
    assert not grad[:3].any()


def test_pickle_and_deepcopy(make):
    """scikit-learn clones estimators' parameters with deepcopy, and fitted models are
    pickled: the adapters survive both."""
    obj = make("focal_loss", gamma=1.5, hessian="xgboost", min_hessian=1e-6)
    x = np.random.default_rng(0).standard_normal((10, 3))
    y = np.arange(10) % 3
    for other in (copy.deepcopy(obj), pickle.loads(pickle.dumps(obj))):
        assert repr(other) == repr(obj)
        for a, b in zip(other(y, x), obj(y, x)):
            np.testing.assert_array_equal(a, b)
    name = make.__name__.split("_")[0]
    assert (
        repr(obj)
        == f"{name}_objective('focal_loss', gamma=1.5, hessian='xgboost', min_hessian=1e-06)"
    )


def test_metric_forms(xgb, lgb, rng):
    """The metric: weighted mean of the per-sample loss, as (name, value) natively and
    value from XGBoost's scikit-learn form, (name, value, False) from LightGBM's."""
    x = rng.standard_normal(100).astype(np.float32)
    y = (rng.uniform(size=100) < 0.5).astype(np.float32)
    w = rng.uniform(0.5, 2, 100).astype(np.float32)
    per_sample = nl.binary_cross_entropy_with_logits(
        x.astype(np.float64), y.astype(np.float64), reduction="none"
    )
    mean = per_sample.mean()
    wmean = np.sum(w * per_sample) / np.sum(w.astype(np.float64))
    m = xgboost_metric("binary_cross_entropy_with_logits")
    assert m.__name__ == "binary_cross_entropy_with_logits"
    np.testing.assert_allclose(m(y, x), mean, rtol=1e-12)
    np.testing.assert_allclose(m(y, x, sample_weight=w), wmean, rtol=1e-12)
    name, value = m(x, xgb.DMatrix(np.zeros((100, 1)), y, weight=w))
    assert name == "binary_cross_entropy_with_logits"
    np.testing.assert_allclose(value, wmean, rtol=1e-12)
    lm = lightgbm_metric(nl.binary_cross_entropy_with_logits, name="bce")
    assert lm(y, x, None)[0] == "bce" and lm(y, x, None)[2] is False
    np.testing.assert_allclose(lm(y, x, w)[1], wmean, rtol=1e-12)
    d = lgb.Dataset(np.zeros((100, 1)), y, weight=w, free_raw_data=False).construct()
    np.testing.assert_allclose(lm(x, d)[1], wmean, rtol=1e-12)


# --- bad arguments --------------------------------------------------------------------


def test_unknown_loss_name(make):
    with pytest.raises(ValueError, match="loss='nope' is not a numbaloss loss"):
        make("nope")
    with pytest.raises(ValueError, match="loss="):
        xgboost_metric("nope")


def test_not_a_numbaloss_function(make):
    with pytest.raises(TypeError, match="loss must be a numbaloss loss"):
        make(lambda a, b: (a, b))
    with pytest.raises(TypeError, match="loss must be a numbaloss loss"):
        make(3)


@pytest.mark.parametrize(
    "loss", ["ctc_loss", "zero_one_loss", "cosine_embedding_loss", "log_softmax"]
)
def test_loss_without_hessian(make, loss):
    with pytest.raises(TypeError, match=f"loss='{loss}' has no Hessian"):
        make(loss)


@pytest.mark.parametrize("loss", ["margin_ranking_loss", "gaussian_nll_loss"])
def test_loss_with_two_predictions(make, loss):
    with pytest.raises(TypeError, match=f"loss='{loss}' takes 2 predictions"):
        make(loss)


def test_hessian_argument(make):
    with pytest.raises(ValueError, match="hessian='xgboost' is a convention of the softmax"):
        make("mse_loss", hessian="xgboost")
    with pytest.raises(ValueError, match="hessian must be one of"):
        make("cross_entropy", hessian="fisher")
    make("mse_loss", hessian="exact")  # the default, accepted everywhere


def test_options_are_the_loss_options(make):
    with pytest.raises(TypeError, match="mse_loss has no option 'delta'"):
        make("mse_loss", delta=1.0)
    with pytest.raises(TypeError, match="reduction= is set by the adapter"):
        make("mse_loss", reduction="mean")
    with pytest.raises(TypeError, match="has no option 'target'"):
        make("mse_loss", target=1.0)
    with pytest.raises(ValueError, match="quantile must be in"):
        make("quantile_loss", quantile=1.5)(np.zeros(3), np.zeros(3))


def test_bad_shapes_and_labels(make, rng):
    with pytest.raises(ValueError, match=r"predictions of shape \(n, K\)"):
        make("cross_entropy")(np.zeros(5), np.zeros(5))
    with pytest.raises(ValueError, match="labels: cross_entropy takes class indices"):
        make("cross_entropy")(np.full(5, 0.5), np.zeros((5, 3)))
    with pytest.raises(ValueError, match="labels: 4 labels"):
        make("mse_loss")(np.zeros(4), np.zeros(5))
    with pytest.raises(ValueError, match="sample_weight"):
        make("mse_loss")(np.zeros(5), np.zeros(5), np.ones(4))
