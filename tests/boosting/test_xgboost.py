"""numbaloss objectives and metrics in real XGBoost training, against its built-ins.

Same data and parameters (``hist``, 20 rounds, the same starting margin), so the
raw margins of a built-in objective and of the numbaloss loss that it is must agree
to float32 rounding: a split chosen differently would change them by far more.
"""

import numpy as np
import pytest
from scipy.optimize import minimize_scalar

import numbaloss as nl
from numbaloss.boosting import xgboost_metric, xgboost_objective

from .conftest import ROUNDS

PARAMS = {"tree_method": "hist", "max_depth": 4, "eta": 0.3, "nthread": 1}


def margins(booster, dmatrix):
    return booster.predict(dmatrix, output_margin=True)


def test_binary_logistic(xgb, data):
    """binary:logistic against binary_cross_entropy_with_logits, with its metric beside
    XGBoost's logloss, on the native interface.  The built-in objective in ``params``
    makes base_score a probability (0.5: margin 0) for both, and XGBoost evaluates its
    logloss on probabilities and the custom metric on the margins."""
    x, y = data["x"][0], data["binary"][0]
    xv, yv = data["x"][1], data["binary"][1]
    train, valid = xgb.DMatrix(x, y), xgb.DMatrix(xv, yv)
    params = {**PARAMS, "objective": "binary:logistic", "base_score": 0.5}
    logs_builtin, logs_numbaloss = {}, {}
    builtin = xgb.train(
        {**params, "eval_metric": "logloss"},
        train,
        ROUNDS,
        evals=[(valid, "valid")],
        evals_result=logs_builtin,
        verbose_eval=False,
    )
    ours = xgb.train(
        {**params, "disable_default_eval_metric": 1},
        train,
        ROUNDS,
        obj=xgboost_objective("binary_cross_entropy_with_logits"),
        custom_metric=xgboost_metric(nl.binary_cross_entropy_with_logits, name="nl_logloss"),
        evals=[(valid, "valid")],
        evals_result=logs_numbaloss,
        verbose_eval=False,
    )
    np.testing.assert_allclose(margins(ours, valid), margins(builtin, valid), rtol=0, atol=1e-5)
    assert np.ptp(margins(ours, valid)) > 1  # it learned something
    # XGBoost logs a custom metric to 6 decimals
    np.testing.assert_allclose(
        logs_numbaloss["valid"]["nl_logloss"], logs_builtin["valid"]["logloss"], atol=2e-6
    )


def test_squared_error(xgb, data):
    """reg:squarederror is (x - y)^2 / 2; mse_loss is (x - y)^2, whose gradient and
    Hessian are twice XGBoost's.  Doubling lambda and min_child_weight makes every
    leaf value -G / (H + lambda) the same; the metric's square root is XGBoost's rmse."""
    x, y = data["x"][0], data["regression"][0]
    xv, yv = data["x"][1], data["regression"][1]
    train, valid = xgb.DMatrix(x, y), xgb.DMatrix(xv, yv)
    common = {**PARAMS, "base_score": 0.0}
    logs = {}
    builtin = xgb.train(
        {**common, "objective": "reg:squarederror", "lambda": 1.0, "min_child_weight": 1.0},
        train,
        ROUNDS,
        evals=[(valid, "valid")],
        evals_result=logs,
        verbose_eval=False,
    )
    ours = xgb.train(
        {**common, "lambda": 2.0, "min_child_weight": 2.0},
        train,
        ROUNDS,
        obj=xgboost_objective("mse_loss"),
    )
    np.testing.assert_allclose(margins(ours, valid), margins(builtin, valid), rtol=0, atol=1e-5)
    mse = xgboost_metric("mse_loss")(margins(builtin, valid), valid)
    assert mse[0] == "mse_loss"
    np.testing.assert_allclose(np.sqrt(mse[1]), logs["valid"]["rmse"][-1], rtol=1e-6)


def test_multi_softprob(xgb, data):
    """multi:softprob against cross_entropy with hessian='xgboost' (2 p (1 - p)), and
    the cross_entropy metric against mlogloss; predictions (n, K) go in and come out."""
    x, y = data["x"][0], data["classes"][0]
    xv, yv = data["x"][1], data["classes"][1]
    train, valid = xgb.DMatrix(x, y), xgb.DMatrix(xv, yv)
    params = {**PARAMS, "objective": "multi:softprob", "num_class": 3, "base_score": 0.5}
    logs = {}
    builtin = xgb.train(
        {**params, "eval_metric": "mlogloss"},
        train,
        ROUNDS,
        evals=[(valid, "valid")],
        evals_result=logs,
        verbose_eval=False,
    )
    ours = xgb.train(
        params, train, ROUNDS, obj=xgboost_objective("cross_entropy", hessian="xgboost")
    )
    assert margins(ours, valid).shape == (1000, 3)
    np.testing.assert_allclose(margins(ours, valid), margins(builtin, valid), rtol=0, atol=1e-5)
    name, value = xgboost_metric("cross_entropy")(margins(builtin, valid), valid)
    np.testing.assert_allclose(value, logs["valid"]["mlogloss"][-1], rtol=1e-6)
    # the exact diagonal (half of XGBoost's) takes larger steps: another model
    exact = xgb.train(params, train, ROUNDS, obj=xgboost_objective("cross_entropy"))
    assert np.abs(margins(exact, valid) - margins(builtin, valid)).max() > 1e-2


def test_sklearn_interface_with_weights(xgb, data):
    """XGBClassifier(objective=...) calls the objective as (y_true, y_pred,
    sample_weight=...): weighted binary and multi-class models agree with the built-in
    ones, and the callable eval_metric (named by its __name__) matches logloss."""
    x, y, w = data["x"][0], data["binary"][0], data["weight"][0]
    kw = dict(n_estimators=ROUNDS, tree_method="hist", max_depth=4, learning_rate=0.3, n_jobs=1)
    fit = dict(sample_weight=w, eval_set=[(x, y)], sample_weight_eval_set=[w], verbose=False)
    builtin = xgb.XGBClassifier(objective="binary:logistic", base_score=0.5, **kw).fit(x, y, **fit)
    ours = xgb.XGBClassifier(
        objective=xgboost_objective("binary_cross_entropy_with_logits"),
        eval_metric=xgboost_metric("binary_cross_entropy_with_logits", name="nl_logloss"),
        base_score=0.5,
        **kw,
    ).fit(x, y, **fit)
    np.testing.assert_allclose(
        ours.predict(x, output_margin=True), builtin.predict(x, output_margin=True), atol=1e-5
    )
    np.testing.assert_allclose(ours.predict_proba(x), builtin.predict_proba(x), atol=1e-6)
    logs = ours.evals_result()["validation_0"]
    np.testing.assert_allclose(logs["nl_logloss"], logs["logloss"], atol=2e-6)
    # unweighted training differs: the weights did reach the objective
    unweighted = xgb.XGBClassifier(
        objective=xgboost_objective("binary_cross_entropy_with_logits"), base_score=0.5, **kw
    ).fit(x, y)
    assert (
        np.abs(
            unweighted.predict(x, output_margin=True) - ours.predict(x, output_margin=True)
        ).max()
        > 1e-3
    )

    yk = data["classes"][0].astype(np.int64)
    builtin = xgb.XGBClassifier(objective="multi:softprob", base_score=0.5, **kw)
    ours = xgb.XGBClassifier(
        objective=xgboost_objective(nl.cross_entropy, hessian="xgboost"), base_score=0.5, **kw
    )
    builtin.fit(x, yk, sample_weight=w)
    ours.fit(x, yk, sample_weight=w)
    np.testing.assert_allclose(
        ours.predict(x, output_margin=True), builtin.predict(x, output_margin=True), atol=1e-5
    )


def test_regressor_quantile(xgb, data):
    """XGBRegressor with quantile_loss (min_hessian=1: the exact Hessian is 0): about
    90% of the validation targets fall below the 0.9-quantile model."""
    x, y = data["x"][0], data["regression"][0]
    xv, yv = data["x"][1], data["regression"][1]
    model = xgb.XGBRegressor(
        objective=xgboost_objective("quantile_loss", quantile=0.9, min_hessian=1.0),
        n_estimators=50,
        learning_rate=0.3,
        max_depth=3,
        tree_method="hist",
        base_score=0.0,
        n_jobs=1,
    ).fit(x, y)
    coverage = np.mean(yv <= model.predict(xv))
    assert 0.8 < coverage < 0.97


def best_constant(loss, y, **options):
    """The loss (reduction='mean') of the best constant margin for targets ``y``."""
    res = minimize_scalar(
        lambda c: float(loss(np.full(y.shape, c), y, reduction="mean", **options)),
        bounds=(-10, 10),
        method="bounded",
    )
    return res.x


def test_sigmoid_focal_beats_the_constant(xgb, data):
    """A sigmoid-focal objective on imbalanced labels (about 5% positive) trains a model
    whose validation focal loss is below that of the best constant margin."""
    x, y = data["x"][0], data["rare"][0]
    xv, yv = data["x"][1], data["rare"][1]
    assert 0.02 < y.mean() < 0.1
    opts = dict(alpha=0.25, gamma=2.0)
    booster = xgb.train(
        {**PARAMS, "base_score": 0.0},
        xgb.DMatrix(x, y),
        ROUNDS,
        obj=xgboost_objective("sigmoid_focal_loss", **opts),
    )
    pred = margins(booster, xgb.DMatrix(xv))
    model = nl.sigmoid_focal_loss(
        pred.astype(np.float64), yv.astype(np.float64), reduction="mean", **opts
    )
    c = best_constant(nl.sigmoid_focal_loss, y.astype(np.float64), **opts)
    constant = nl.sigmoid_focal_loss(
        np.full(yv.shape, c), yv.astype(np.float64), reduction="mean", **opts
    )
    assert model < 0.8 * constant


def test_softmax_focal_beats_the_constant(xgb, data):
    """A softmax-focal objective (XGBClassifier) beats the class frequencies' logits."""
    x, y = data["x"][0], data["classes"][0].astype(np.int64)
    xv, yv = data["x"][1], data["classes"][1].astype(np.int64)
    model = xgb.XGBClassifier(
        objective=xgboost_objective("focal_loss", gamma=2.0),
        n_estimators=ROUNDS,
        tree_method="hist",
        max_depth=4,
        learning_rate=0.3,
        n_jobs=1,
    ).fit(x, y)
    pred = model.predict(xv, output_margin=True).astype(np.float64)
    assert pred.shape == (1000, 3)
    value = nl.focal_loss(pred, yv, gamma=2.0)
    # the best constant logits of a softmax focal loss: minimize over the K logits
    from scipy.optimize import minimize

    res = minimize(
        lambda c: float(nl.focal_loss(np.tile(c, (len(y), 1)), y, gamma=2.0)),
        np.zeros(3),
        jac=lambda c: (
            nl.focal_loss(np.tile(c, (len(y), 1)), y, gamma=2.0, reduction="sum", return_grad=True)[
                1
            ].sum(0)
            / len(y)
        ),
    )
    constant = nl.focal_loss(np.tile(res.x, (len(yv), 1)), yv, gamma=2.0)
    assert value < 0.8 * constant


@pytest.mark.parametrize("weighted", [False, True])
def test_objective_sees_xgboost_layout(xgb, data, weighted):
    """Called natively, the objective returns float32 arrays of the margins' shape
    (XGBoost's own dtype), equal to the direct computation."""
    x, y, w = data["x"][0][:50], data["classes"][0][:50], data["weight"][0][:50]
    d = xgb.DMatrix(x, y, weight=w if weighted else None)
    preds = np.random.default_rng(0).standard_normal((50, 3)).astype(np.float32)
    grad, hess = xgboost_objective("cross_entropy", hessian="xgboost")(preds, d)
    assert grad.shape == hess.shape == (50, 3)
    assert grad.dtype == hess.dtype == np.float32
    p = np.exp(preds - preds.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    onehot = np.eye(3, dtype=np.float32)[y.astype(int)]
    scale = w[:, None] if weighted else 1.0
    np.testing.assert_allclose(grad, (p - onehot) * scale, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(hess, 2 * p * (1 - p) * scale, rtol=1e-5, atol=1e-7)
