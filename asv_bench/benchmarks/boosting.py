"""End to end: XGBoost ``hist`` training with numbaloss objectives (numbaloss.boosting).

Binary classification, 10^6 rows x 20 float32 features, 50 rounds (and 2000 rows for
smoke runs), the DMatrix built in setup, so that a time is training alone:

* ``XGBoostLogistic``: the built-in ``binary:logistic``, against
  ``xgboost_objective("binary_cross_entropy_with_logits")`` and the NumPy objective
  users write today (``p = 1 / (1 + np.exp(-x)); g = p - y; h = p * (1 - p)``);
* ``XGBoostFocal``: ``xgboost_objective("sigmoid_focal_loss")`` against its
  hand-written NumPy gradient and Hessian.

Goal (issue 16): the numbaloss objective within 1.15x of the built-in's wall time,
and faster than the NumPy one.  Setup checks that the NumPy objectives give the same
gradients and Hessians as numbaloss's, so that the times compare the same work.
Needs xgboost (``pip install xgboost-cpu``); asv skips these without it.
"""

import numpy as np

from .common import rng

ROWS = [2000, 1_000_000]
FEATURES = 20
ROUNDS = 50
PARAMS = {"tree_method": "hist", "max_depth": 6, "eta": 0.3}


def _xgboost_or_skip():
    try:
        import xgboost
    except ImportError as exc:
        raise NotImplementedError("xgboost is not installed") from exc
    return xgboost


def _data(rows, rare):
    """Features and binary labels: about 30% positive, or 5% for the focal workload."""
    gen = rng()
    x = gen.standard_normal((rows, FEATURES), dtype=np.float32)
    score = x[:, 0] + 0.5 * x[:, 1] - 0.3 * x[:, 2] ** 2 + gen.standard_normal(rows)
    return x, (score > (2.0 if rare else 0.5)).astype(np.float32)


def _logistic(x, y):
    """The NumPy objective of binary_cross_entropy_with_logits users write today."""
    p = 1 / (1 + np.exp(-x))
    return p - y, p * (1 - p)


def _sigmoid_focal(x, y, alpha=0.25, gamma=2.0):
    """torchvision's sigmoid focal loss ``a_t (1 - q)^gamma (-log q)``, q = sigmoid(z),
    z = x for y = 1 and -x for y = 0: its derivatives by hand, in z (binary labels)."""
    s = 2 * y - 1
    z = s * x
    q = 1 / (1 + np.exp(-z))
    u = 1 - q
    log_q = -np.logaddexp(0, -z)
    a_t = alpha * y + (1 - alpha) * (1 - y)
    u_gamma = u**gamma
    b = gamma * q * log_q - u
    grad = s * a_t * u_gamma * b
    hess = a_t * q * u_gamma * (u * (gamma * (log_q + 1) + 1) - gamma * b)
    return grad, hess


def _numpy_objective(grad_hess, **options):
    """``obj(preds, dtrain)`` from a hand-written NumPy gradient and Hessian, with the
    Hessian floored as numbaloss's (the focal loss's is negative in places)."""

    def objective(preds, dtrain):
        grad, hess = grad_hess(preds, dtrain.get_label(), **options)
        return grad, np.maximum(hess, np.float32(1e-16))

    return objective


def _check(ours, numpy_objective, dtrain):
    """numbaloss's and the NumPy objective's gradient and Hessian agree."""
    preds = rng().standard_normal(dtrain.num_row()).astype(np.float32) * 3
    for a, b in zip(ours(preds, dtrain), numpy_objective(preds, dtrain)):
        np.testing.assert_allclose(a, b, rtol=2e-4, atol=1e-6)


class XGBoostLogistic:
    """binary:logistic built in, from numbaloss, and in NumPy."""

    params = [ROWS]
    param_names = ["rows"]
    timeout = 900
    number = 1
    repeat = 3

    def setup(self, rows):
        xgb = _xgboost_or_skip()
        from numbaloss.boosting import xgboost_objective

        self.xgb = xgb
        x, y = _data(rows, rare=False)
        self.dtrain = xgb.DMatrix(x, y)
        self.numbaloss = xgboost_objective("binary_cross_entropy_with_logits")
        self.numpy = _numpy_objective(_logistic)
        _check(self.numbaloss, self.numpy, self.dtrain)  # and compiles numbaloss's kernel

    def _train(self, obj=None):
        if obj is None:  # the same starting margin 0 for all three
            params = {**PARAMS, "objective": "binary:logistic", "base_score": 0.5}
        else:
            params = {**PARAMS, "base_score": 0.0}
        return self.xgb.train(params, self.dtrain, ROUNDS, obj=obj)

    def time_builtin(self, rows):
        self._train()

    def time_numbaloss(self, rows):
        self._train(self.numbaloss)

    def time_numpy(self, rows):
        self._train(self.numpy)


class XGBoostFocal:
    """A sigmoid-focal objective (alpha 0.25, gamma 2) on imbalanced labels: numbaloss
    against the hand-written NumPy version."""

    params = [ROWS]
    param_names = ["rows"]
    timeout = 900
    number = 1
    repeat = 3

    def setup(self, rows):
        xgb = _xgboost_or_skip()
        from numbaloss.boosting import xgboost_objective

        self.xgb = xgb
        x, y = _data(rows, rare=True)
        self.dtrain = xgb.DMatrix(x, y)
        self.numbaloss = xgboost_objective("sigmoid_focal_loss", alpha=0.25, gamma=2.0)
        self.numpy = _numpy_objective(_sigmoid_focal, alpha=0.25, gamma=2.0)
        _check(self.numbaloss, self.numpy, self.dtrain)

    def _train(self, obj):
        return self.xgb.train({**PARAMS, "base_score": 0.0}, self.dtrain, ROUNDS, obj=obj)

    def time_numbaloss(self, rows):
        self._train(self.numbaloss)

    def time_numpy(self, rows):
        with np.errstate(all="ignore"):
            self._train(self.numpy)
