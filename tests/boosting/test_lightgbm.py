"""numbaloss objectives and metrics in real LightGBM training, against its built-ins.

LightGBM starts a custom objective from raw score 0, so the built-in runs use
``boost_from_average=False``; then the raw scores agree to float32 rounding.
"""

import inspect

import numpy as np
import pytest
from scipy.optimize import minimize_scalar

import numbaloss as nl
from numbaloss.boosting import lightgbm_metric, lightgbm_objective

from .conftest import ROUNDS

PARAMS = {
    "num_leaves": 15,
    "learning_rate": 0.3,
    "min_data_in_leaf": 20,
    "num_threads": 1,
    "verbosity": -1,
    "deterministic": True,
}


def test_binary(lgb, data):
    """binary against binary_cross_entropy_with_logits (native), and the metric, fed the
    raw scores, against binary_logloss of the built-in model."""
    x, y = data["x"][0], data["binary"][0]
    xv, yv = data["x"][1], data["binary"][1]
    train = lgb.Dataset(x, y, free_raw_data=False)
    valid = lgb.Dataset(xv, yv, reference=train, free_raw_data=False)
    logs = {}
    builtin = lgb.train(
        {**PARAMS, "objective": "binary", "boost_from_average": False, "metric": "binary_logloss"},
        train,
        ROUNDS,
        valid_sets=[valid],
        valid_names=["valid"],
        callbacks=[lgb.record_evaluation(logs)],
    )
    objective = lightgbm_objective("binary_cross_entropy_with_logits")
    ours = lgb.train({**PARAMS, "objective": objective}, train, ROUNDS)
    raw = ours.predict(xv, raw_score=True)
    np.testing.assert_allclose(raw, builtin.predict(xv, raw_score=True), rtol=0, atol=1e-5)
    assert np.ptp(raw) > 1
    metric = lightgbm_metric("binary_cross_entropy_with_logits", name="logloss")
    name, value, higher_is_better = metric(builtin.predict(xv, raw_score=True), valid)
    assert (name, higher_is_better) == ("logloss", False)
    np.testing.assert_allclose(value, logs["valid"]["binary_logloss"][-1], rtol=1e-9)


def test_multiclass(lgb, data):
    """multiclass against cross_entropy with hessian='lightgbm' (K/(K-1) p (1-p)), raw
    scores (n, K); the cross_entropy metric as feval beside multi_logloss."""
    x, y = data["x"][0], data["classes"][0]
    xv, yv = data["x"][1], data["classes"][1]
    train = lgb.Dataset(x, y, free_raw_data=False)
    valid = lgb.Dataset(xv, yv, reference=train, free_raw_data=False)
    params = {**PARAMS, "num_class": 3}
    logs = {}
    builtin = lgb.train(
        {**params, "objective": "multiclass", "boost_from_average": False},
        train,
        ROUNDS,
        valid_sets=[valid],
        valid_names=["valid"],
        callbacks=[lgb.record_evaluation(logs)],
    )
    ours_logs = {}
    ours = lgb.train(
        {
            **params,
            "objective": lightgbm_objective("cross_entropy", hessian="lightgbm"),
            "metric": "None",
        },
        train,
        ROUNDS,
        valid_sets=[valid],
        valid_names=["valid"],
        feval=lightgbm_metric("cross_entropy"),
        callbacks=[lgb.record_evaluation(ours_logs)],
    )
    raw = ours.predict(xv, raw_score=True)
    assert raw.shape == (1000, 3)
    np.testing.assert_allclose(raw, builtin.predict(xv, raw_score=True), rtol=0, atol=1e-5)
    # feval saw the raw scores of our model, as multi_logloss the built-in model's
    np.testing.assert_allclose(
        ours_logs["valid"]["cross_entropy"], logs["valid"]["multi_logloss"], rtol=1e-6
    )


def test_regression_l2(lgb, data):
    """regression (l2: gradient x - y, Hessian 1) against mse_loss, whose gradient and
    Hessian are twice LightGBM's: doubling lambda_l2 and min_sum_hessian_in_leaf makes
    every leaf value the same.  The metric's square root against rmse."""
    x, y = data["x"][0], data["regression"][0]
    xv, yv = data["x"][1], data["regression"][1]
    train = lgb.Dataset(x, y, free_raw_data=False)
    valid = lgb.Dataset(xv, yv, reference=train, free_raw_data=False)
    logs = {}
    common = {**PARAMS, "min_data_in_leaf": 20}
    builtin = lgb.train(
        {
            **common,
            "objective": "regression",
            "boost_from_average": False,
            "lambda_l2": 1.0,
            "min_sum_hessian_in_leaf": 1e-3,
            "metric": "rmse",
        },
        train,
        ROUNDS,
        valid_sets=[valid],
        valid_names=["valid"],
        callbacks=[lgb.record_evaluation(logs)],
    )
    ours = lgb.train(
        {
            **common,
            "objective": lightgbm_objective("mse_loss"),
            "lambda_l2": 2.0,
            "min_sum_hessian_in_leaf": 2e-3,
        },
        train,
        ROUNDS,
    )
    raw = builtin.predict(xv, raw_score=True)
    np.testing.assert_allclose(ours.predict(xv, raw_score=True), raw, rtol=0, atol=1e-5)
    _, mse, _ = lightgbm_metric("mse_loss")(raw, valid)
    np.testing.assert_allclose(np.sqrt(mse), logs["valid"]["rmse"][-1], rtol=1e-9)


def test_sklearn_interface_with_weights(lgb, data):
    """LGBMClassifier(objective=...) calls (y_true, y_pred, weight): weighted binary and
    multi-class models agree with the built-ins; the eval_metric matches theirs."""
    x, y, w = data["x"][0], data["binary"][0].astype(np.int64), data["weight"][0]
    kw = dict(
        n_estimators=ROUNDS,
        num_leaves=15,
        learning_rate=0.3,
        n_jobs=1,
        verbose=-1,
        deterministic=True,
    )
    builtin = lgb.LGBMClassifier(objective="binary", boost_from_average=False, **kw)
    builtin.fit(x, y, sample_weight=w)
    ours = lgb.LGBMClassifier(
        objective=lightgbm_objective("binary_cross_entropy_with_logits"), **kw
    )
    ours.fit(x, y, sample_weight=w)
    np.testing.assert_allclose(
        ours.predict(x, raw_score=True), builtin.predict(x, raw_score=True), rtol=0, atol=1e-5
    )
    unweighted = lgb.LGBMClassifier(
        objective=lightgbm_objective("binary_cross_entropy_with_logits"), **kw
    )
    unweighted.fit(x, y)
    assert (
        np.abs(unweighted.predict(x, raw_score=True) - ours.predict(x, raw_score=True)).max() > 1e-3
    )

    yk = data["classes"][0].astype(np.int64)
    builtin = lgb.LGBMClassifier(objective="multiclass", boost_from_average=False, **kw)
    # LightGBM 4.7 renamed eval_set (a deprecation warning) to eval_X and eval_y
    if "eval_X" in inspect.signature(lgb.LGBMClassifier.fit).parameters:
        evals = dict(eval_X=(x,), eval_y=(yk,), eval_sample_weight=[w])
    else:
        evals = dict(eval_set=[(x, yk)], eval_sample_weight=[w])
    builtin.fit(x, yk, sample_weight=w, **evals)
    ours = lgb.LGBMClassifier(
        objective=lightgbm_objective(nl.cross_entropy, hessian="lightgbm"), **kw
    )
    ours.fit(x, yk, sample_weight=w, eval_metric=lightgbm_metric("cross_entropy"), **evals)
    raw = ours.predict(x, raw_score=True)
    np.testing.assert_allclose(raw, builtin.predict(x, raw_score=True), rtol=0, atol=1e-5)
    np.testing.assert_allclose(
        list(ours.evals_result_.values())[0]["cross_entropy"],
        list(builtin.evals_result_.values())[0]["multi_logloss"],
        rtol=1e-6,
    )


def test_sigmoid_focal_beats_the_constant(lgb, data):
    """LGBMClassifier with a sigmoid-focal objective on imbalanced labels (about 5%
    positive): validation focal loss below the best constant margin's."""
    x, y = data["x"][0], data["rare"][0]
    xv, yv = data["x"][1], data["rare"][1].astype(np.float64)
    opts = dict(alpha=0.25, gamma=2.0)
    model = lgb.LGBMClassifier(
        objective=lightgbm_objective(nl.sigmoid_focal_loss, **opts),
        n_estimators=ROUNDS,
        num_leaves=15,
        learning_rate=0.3,
        n_jobs=1,
        verbose=-1,
    ).fit(x, y.astype(np.int64))
    value = nl.sigmoid_focal_loss(model.predict(xv, raw_score=True), yv, reduction="mean", **opts)
    y64 = y.astype(np.float64)
    c = minimize_scalar(
        lambda c: float(
            nl.sigmoid_focal_loss(np.full(y64.shape, c), y64, reduction="mean", **opts)
        ),
        bounds=(-10, 10),
        method="bounded",
    ).x
    constant = nl.sigmoid_focal_loss(np.full(yv.shape, c), yv, reduction="mean", **opts)
    assert value < 0.8 * constant


def test_softmax_focal_beats_the_constant(lgb, data):
    """lightgbm.train with a softmax-focal objective: validation focal loss below that
    of the best constant logits."""
    from scipy.optimize import minimize

    x, y = data["x"][0], data["classes"][0]
    xv, yv = data["x"][1], data["classes"][1].astype(np.int64)
    booster = lgb.train(
        {**PARAMS, "num_class": 3, "objective": lightgbm_objective("focal_loss", gamma=2.0)},
        lgb.Dataset(x, y),
        ROUNDS,
    )
    value = nl.focal_loss(booster.predict(xv, raw_score=True), yv, gamma=2.0)
    yi = y.astype(np.int64)

    def fun(c):
        loss, g = nl.focal_loss(np.tile(c, (len(yi), 1)), yi, gamma=2.0, return_grad=True)
        return float(loss), g.sum(0)

    c = minimize(fun, np.zeros(3), jac=True).x
    constant = nl.focal_loss(np.tile(c, (len(yv), 1)), yv, gamma=2.0)
    assert value < 0.8 * constant


@pytest.mark.parametrize("weighted", [False, True])
def test_objective_sees_lightgbm_layout(lgb, data, weighted):
    """Called natively, the objective returns float64 arrays of the scores' shape (n, K),
    LightGBM's multiclass formulas times the weights."""
    x, y, w = data["x"][0][:50], data["classes"][0][:50], data["weight"][0][:50]
    d = lgb.Dataset(x, y, weight=w if weighted else None, free_raw_data=False).construct()
    preds = np.random.default_rng(0).standard_normal((50, 3))
    grad, hess = lightgbm_objective("cross_entropy", hessian="lightgbm")(preds, d)
    assert grad.shape == hess.shape == (50, 3)
    assert grad.dtype == hess.dtype == np.float64
    p = np.exp(preds - preds.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    onehot = np.eye(3)[y.astype(int)]
    scale = w[:, None].astype(np.float64) if weighted else 1.0
    np.testing.assert_allclose(grad, (p - onehot) * scale, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(hess, 1.5 * p * (1 - p) * scale, rtol=1e-12, atol=1e-15)
