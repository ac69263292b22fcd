"""Custom objectives and evaluation metrics for XGBoost and LightGBM.

``xgboost_objective(loss, **options)`` and ``lightgbm_objective(loss, **options)``
turn a numbaloss loss into the per-sample gradient and Hessian diagonal that the
gradient-boosting libraries take as a custom objective; ``xgboost_metric`` and
``lightgbm_metric`` turn it into an evaluation metric.  Each returned object is one
callable that serves both of its library's interfaces:

* the native one (``xgboost.train(obj=..., custom_metric=...)``,
  ``lightgbm.train(params={"objective": ...}, feval=...)``), which calls it as
  ``f(preds, data)`` with a ``DMatrix`` / ``Dataset``;
* the scikit-learn one (``XGBRegressor(objective=...)``,
  ``LGBMClassifier(objective=...)``, ``eval_metric=...``), which calls it as
  ``f(y_true, y_pred)`` or ``f(y_true, y_pred, sample_weight)``.

The form is told apart by the type of the second argument.  xgboost and lightgbm
are imported only when an adapter is made (``pip install numbaloss[boosting]``);
``import numbaloss`` imports neither.  The conventions (Hessians, weights, layouts,
``min_hessian``) are on the docs page "Gradient boosting" (``docs/boosting.rst``).
"""

import inspect
import warnings

import numpy as np

from ._core import registry

__all__ = ["lightgbm_metric", "lightgbm_objective", "xgboost_metric", "xgboost_objective"]

#: The keywords that the adapters set themselves: a loss option of these names would
#: change what the libraries receive (a mean instead of per-sample gradients, ...).
_RESERVED = ("reduction", "return_grad", "return_hess", "grad_output", "grad_out", "hess_out")

#: ``hessian=`` values: the factor applied to the exact diagonal of a softmax loss.
#: For ``cross_entropy`` the exact diagonal is ``w * p * (1 - p)``, so these give
#: XGBoost's ``multi:softprob`` (``2 p (1 - p)``) and LightGBM's ``multiclass``
#: (``K / (K - 1) p (1 - p)``) exactly.
_HESSIANS = ("exact", "xgboost", "lightgbm")

#: The default ``min_hessian``: XGBoost's own floor of its logistic and softmax
#: Hessians (``eps = 1e-16f`` in its objectives).
MIN_HESSIAN = 1e-16

_LIBRARIES = {
    "xgboost": ("xgboost", "DMatrix", "xgboost>=2"),
    "lightgbm": ("lightgbm", "Dataset", "lightgbm>=4"),
}


def _import_library(library, caller):
    module_name, _, requirement = _LIBRARIES[library]
    try:
        return __import__(module_name)
    except ImportError as exc:
        raise ImportError(
            f"{caller} needs {requirement} (pip install 'numbaloss[boosting]'): {exc}"
        ) from exc


def _entry_of(loss, caller):
    """The registry entry of ``loss`` (a name or a numbaloss function), checked for use as
    a boosting objective or metric: one prediction argument and a Hessian diagonal."""
    if isinstance(loss, str):
        e = registry.lookup(loss)
        if e is None:
            raise ValueError(
                f"{caller}: loss={loss!r} is not a numbaloss loss; the losses with a Hessian "
                f"are {', '.join(registry.names(with_hessian=True))}"
            )
    elif callable(loss):
        e = registry.BY_NAME.get(getattr(loss, "__name__", None))
        if e is None or e.function is not loss:
            raise TypeError(
                f"{caller}: loss must be a numbaloss loss function or its name, got {loss!r}"
            )
    else:
        raise TypeError(
            f"{caller}: loss must be a numbaloss loss function or its name, got "
            f"{type(loss).__name__}"
        )
    if not e.hessian:
        raise TypeError(
            f"{caller}: loss={e.name!r} has no Hessian diagonal (return_hess), which a "
            f"boosting objective needs; the losses with one are "
            f"{', '.join(registry.names(with_hessian=True))}"
        )
    if len(e.predictions) != 1:
        raise TypeError(
            f"{caller}: loss={e.name!r} takes {len(e.predictions)} predictions "
            f"({', '.join(e.predictions)}); a boosting objective has one raw score per "
            f"sample (and class)"
        )
    return e


def _check_options(e, options, caller):
    """Keyword options of the loss: known to it, and none that the adapter sets."""
    params = inspect.signature(e.function).parameters
    for name in options:
        if name in _RESERVED:
            raise TypeError(
                f"{caller}: {name}= is set by the adapter (per-sample gradients and "
                f"Hessians, as the boosting libraries expect); leave it out"
            )
        if name not in params or list(params).index(name) < 2:
            raise TypeError(f"{caller}: {e.name} has no option {name!r}")


def _bool_free_float(value, name, caller):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
        raise TypeError(f"{caller}: {name} must be a real number, got {value!r}")
    value = float(value)
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"{caller}: {name} must be finite and >= 0, got {value!r}")
    return value


class _Adapter:
    """What objectives and metrics share: the loss, its options, the library, and
    turning the library's arguments into ``(preds, labels, weights)``."""

    #: "objective" or "metric", for messages and the repr
    kind = ""

    def __init__(self, library, loss, options, caller):
        _import_library(library, caller)
        self.library = library
        self._entry = _entry_of(loss, caller)
        _check_options(self._entry, options, caller)
        self.loss = self._entry.function
        self.options = dict(options)
        self._caller = caller

    @property
    def multiclass(self):
        """Whether the loss is a softmax loss: predictions ``(n, K)``, labels class indices."""
        return self._entry.family == "softmax"

    def _arguments(self, first, second, sample_weight):
        """``(native, preds, labels, weights)`` from a native call ``(preds, data)``
        (``native`` True) or a scikit-learn call ``(y_true, y_pred, sample_weight)``."""
        module_name, data_class, _ = _LIBRARIES[self.library]
        data_type = getattr(__import__(module_name), data_class)
        native = isinstance(second, data_type)
        if native:
            if sample_weight is not None:
                raise TypeError(
                    f"{self!r}: a native call (preds, {data_class}) takes the weights from "
                    f"the {data_class}, not from sample_weight"
                )
            preds, labels, weights = first, second.get_label(), second.get_weight()
        else:
            labels, preds, weights = first, second, sample_weight
        preds = np.asarray(preds)
        if preds.dtype not in (np.float32, np.float64):
            preds = preds.astype(np.float64)
        if labels is None:
            raise ValueError(f"{self!r}: the training data has no labels")
        labels = np.asarray(labels)
        if weights is not None:
            weights = np.asarray(weights, dtype=preds.dtype)
            if weights.size == 0:  # XGBoost's get_weight() without weights
                weights = None
        return native, preds, labels, weights

    def _targets(self, preds, labels):
        """The loss's target for ``preds``: class indices for a softmax loss, otherwise
        the labels as floats of the predictions' shape."""
        n = preds.shape[0] if preds.ndim else 0
        if self.multiclass:
            if preds.ndim != 2:
                raise ValueError(
                    f"{self!r}: {self._entry.name} needs predictions of shape (n, K), one "
                    f"column per class, got shape {preds.shape}; for two classes use "
                    f"binary_cross_entropy_with_logits, or give the library num_class"
                )
            if labels.size != n:
                raise ValueError(
                    f"labels: {self._entry.name} takes one class index per row, got "
                    f"{labels.size} labels for {n} rows"
                )
            labels = labels.reshape(n)
            classes = labels.astype(np.int64)
            if not np.array_equal(classes, labels):
                raise ValueError(
                    f"labels: {self._entry.name} takes class indices 0 .. K-1, got "
                    f"non-integer labels such as {labels[classes != labels][0]!r}"
                )
            return classes
        if labels.size != preds.size:
            raise ValueError(f"labels: {labels.size} labels for predictions of shape {preds.shape}")
        return labels.astype(preds.dtype, copy=False).reshape(preds.shape)

    def _sample_axis(self, weights, preds):
        """The weights shaped to broadcast against the loss (one value per sample)."""
        n = preds.shape[0] if preds.ndim else 1
        if weights.shape != (n,):
            raise ValueError(
                f"sample_weight: shape {weights.shape} for {n} samples (expected ({n},))"
            )
        if self.multiclass or preds.ndim <= 1:
            return weights
        return weights.reshape((n,) + (1,) * (preds.ndim - 1))

    def _describe(self):
        return [repr(self._entry.name)] + [f"{k}={v!r}" for k, v in self.options.items()]

    def __repr__(self):
        return f"{self.library}_{self.kind}({', '.join(self._describe())})"


class Objective(_Adapter):
    """A custom objective for XGBoost or LightGBM (made by :func:`xgboost_objective` or
    :func:`lightgbm_objective`).

    Calling it returns ``(grad, hess)``: the gradient and the Hessian's diagonal of the
    summed (weighted) loss with respect to the raw scores, of the shape of the scores.
    """

    kind = "objective"

    def __init__(self, library, loss, *, hessian, min_hessian, options, caller):
        super().__init__(library, loss, options, caller)
        if hessian not in _HESSIANS:
            raise ValueError(
                f"{caller}: hessian must be one of {', '.join(map(repr, _HESSIANS))}, "
                f"got {hessian!r}"
            )
        if hessian != "exact" and not self.multiclass:
            raise ValueError(
                f"{caller}: hessian={hessian!r} is a convention of the softmax losses "
                f"(cross_entropy, focal_loss); {self._entry.name} takes only "
                f"hessian='exact'"
            )
        self.hessian = hessian
        self.min_hessian = _bool_free_float(min_hessian, "min_hessian", caller)
        self._warned = False

    def __call__(self, first, second, sample_weight=None):
        """``(grad, hess)`` for ``(preds, data)`` (native) or ``(y_true, y_pred[,
        sample_weight])`` (scikit-learn); see the module's docstring."""
        _, preds, labels, weights = self._arguments(first, second, sample_weight)
        return self.grad_hess(preds, labels, weights)

    def grad_hess(self, preds, labels, weights=None):
        """The gradient and Hessian's diagonal for raw scores ``preds``, ``labels`` and
        optional per-sample ``weights`` (the computation behind every call form)."""
        preds = np.asarray(preds)
        if preds.dtype not in (np.float32, np.float64):
            preds = preds.astype(np.float64)
        target = self._targets(preds, np.asarray(labels))
        if weights is None:
            # The gradient of the sum is the per-sample gradient, and 'sum' writes no
            # per-sample loss array.
            kw = dict(reduction="sum")
        else:
            w = self._sample_axis(np.asarray(weights, dtype=preds.dtype), preds)
            kw = dict(reduction="none", grad_output=w)
        _, grad, hess = self.loss(
            preds, target, **self.options, **kw, return_grad=True, return_hess=True
        )
        if self.hessian != "exact":
            k = preds.shape[1]
            factor = 2.0 if self.hessian == "xgboost" else k / (k - 1.0)
            hess *= hess.dtype.type(factor)
        if self.min_hessian == MIN_HESSIAN and not self._warned and hess.size and not hess.any():
            self._warned = True
            warnings.warn(
                f"{self!r}: the Hessian of {self._entry.name} is 0 for every sample "
                f"(a piecewise-linear loss), so the default floor min_hessian="
                f"{MIN_HESSIAN!r} sets every step; pass min_hessian (1.0 gives "
                f"gradient steps, as the libraries' own L1 and quantile objectives)",
                RuntimeWarning,
                stacklevel=3,
            )
        floor = hess.dtype.type(self.min_hessian)
        if weights is not None:
            # The floor scales with the weight, so that a sample of weight 0 adds nothing.
            floor = floor * w.reshape(w.shape + (1,) * (hess.ndim - w.ndim))
        np.maximum(hess, floor, out=hess)
        return grad, hess

    def _describe(self):
        out = super()._describe()
        if self.hessian != "exact":
            out.append(f"hessian={self.hessian!r}")
        if self.min_hessian != MIN_HESSIAN:
            out.append(f"min_hessian={self.min_hessian!r}")
        return out


class Metric(_Adapter):
    """An evaluation metric for XGBoost or LightGBM (made by :func:`xgboost_metric` or
    :func:`lightgbm_metric`): the sample-weighted mean of the per-sample loss."""

    kind = "metric"

    def __init__(self, library, loss, *, name, options, caller):
        super().__init__(library, loss, options, caller)
        name = self._entry.name if name is None else name
        if not isinstance(name, str) or not name:
            raise TypeError(f"{caller}: name must be a non-empty str, got {name!r}")
        self.name = name
        # XGBoost's scikit-learn interface names a callable metric by its __name__.
        self.__name__ = name

    def __call__(self, first, second, sample_weight=None):
        """``(name, value)`` (XGBoost, native), ``value`` (XGBoost, scikit-learn) or
        ``(name, value, False)`` (LightGBM, both), for ``(preds, data)`` or
        ``(y_true, y_pred[, sample_weight])``."""
        native, preds, labels, weights = self._arguments(first, second, sample_weight)
        value = self.value(preds, labels, weights)
        if self.library == "lightgbm":
            return self.name, value, False
        return (self.name, value) if native else value

    def value(self, preds, labels, weights=None):
        """The weighted mean ``sum(w * loss) / sum(w)`` of the per-sample loss (float64)."""
        preds = np.asarray(preds, dtype=np.float64)
        target = self._targets(preds, np.asarray(labels))
        loss = self.loss(preds, target, **self.options, reduction="none")
        if weights is None:
            return float(np.mean(loss))
        w = np.broadcast_to(self._sample_axis(np.asarray(weights, np.float64), preds), loss.shape)
        return float(np.sum(w * loss) / np.sum(w))

    def _describe(self):
        out = super()._describe()
        if self.name != self._entry.name:
            out.append(f"name={self.name!r}")
        return out


def xgboost_objective(loss, *, hessian="exact", min_hessian=MIN_HESSIAN, **options):
    """A numbaloss loss as an XGBoost custom objective.

    Parameters
    ----------
    loss : str or callable
        A numbaloss loss with a Hessian diagonal, by name (``"sigmoid_focal_loss"``)
        or as the function (``numbaloss.sigmoid_focal_loss``).  Softmax losses
        (``cross_entropy``, ``focal_loss``) take predictions ``(n, K)`` and class
        indices as labels; the others take predictions and float labels of one shape.
    hessian : {'exact', 'xgboost', 'lightgbm'}, optional
        For the softmax losses: the exact diagonal (default), twice it (XGBoost's
        ``multi:softprob`` convention, ``2 p (1 - p)`` for ``cross_entropy``) or
        ``K / (K - 1)`` times it (LightGBM's ``multiclass``).  Other losses take only
        ``'exact'``.
    min_hessian : float, optional
        Floor of the Hessian (times the sample's weight), default ``1e-16`` as
        XGBoost's own: keeps leaf values finite where the loss is flat or concave.
        Piecewise-linear losses (``l1_loss``, ``quantile_loss``) need a larger one,
        typically 1.0.
    **options
        The loss's own options (``gamma=2.0``, ``quantile=0.9``, ...), passed to it.

    Returns
    -------
    Objective
        ``obj(preds, dtrain) -> (grad, hess)`` for ``xgboost.train(obj=...)``, and
        ``obj(y_true, y_pred, sample_weight=None)`` for ``XGBRegressor(objective=...)``
        and ``XGBClassifier``; ``grad`` and ``hess`` have the shape and dtype of the
        predictions (float32 from XGBoost).

    Examples
    --------
    >>> import numpy as np, xgboost as xgb
    >>> from numbaloss.boosting import xgboost_objective
    >>> x = np.random.default_rng(0).standard_normal((500, 4))
    >>> y = (x[:, 0] > 1).astype(float)
    >>> obj = xgboost_objective("sigmoid_focal_loss", alpha=0.25, gamma=2.0)
    >>> booster = xgb.train({"base_score": 0.0}, xgb.DMatrix(x, y), 10, obj=obj)
    """
    return Objective(
        "xgboost",
        loss,
        hessian=hessian,
        min_hessian=min_hessian,
        options=options,
        caller="xgboost_objective",
    )


def lightgbm_objective(loss, *, hessian="exact", min_hessian=MIN_HESSIAN, **options):
    """A numbaloss loss as a LightGBM custom objective.

    Parameters
    ----------
    loss : str or callable
        A numbaloss loss with a Hessian diagonal, by name or as the function (see
        :func:`xgboost_objective`).
    hessian : {'exact', 'xgboost', 'lightgbm'}, optional
        For the softmax losses: the exact diagonal (default), twice it, or
        ``K / (K - 1)`` times it (LightGBM's ``multiclass``).
    min_hessian : float, optional
        Floor of the Hessian (times the sample's weight), default ``1e-16``.
    **options
        The loss's own options, passed to it.

    Returns
    -------
    Objective
        ``obj(preds, train_data) -> (grad, hess)`` for
        ``lightgbm.train(params={"objective": obj})``, and
        ``obj(y_true, y_pred, weight)`` for ``LGBMRegressor(objective=obj)`` and
        ``LGBMClassifier``; float64, of the predictions' shape (``(n, K)`` for
        ``multiclass``).

    Examples
    --------
    >>> import numpy as np, lightgbm as lgb
    >>> from numbaloss.boosting import lightgbm_objective
    >>> x = np.random.default_rng(0).standard_normal((500, 4))
    >>> y = x[:, 0] + np.random.default_rng(1).standard_normal(500)
    >>> obj = lightgbm_objective("quantile_loss", quantile=0.9, min_hessian=1.0)
    >>> params = {"objective": obj, "verbosity": -1}
    >>> booster = lgb.train(params, lgb.Dataset(x, y), 10)
    """
    return Objective(
        "lightgbm",
        loss,
        hessian=hessian,
        min_hessian=min_hessian,
        options=options,
        caller="lightgbm_objective",
    )


def xgboost_metric(loss, *, name=None, **options):
    """A numbaloss loss as an XGBoost evaluation metric (lower is better).

    Parameters
    ----------
    loss : str or callable
        A numbaloss loss, as for :func:`xgboost_objective`.
    name : str, optional
        The metric's name in XGBoost's logs; default the loss's name.
    **options
        The loss's own options, passed to it.

    Returns
    -------
    Metric
        ``metric(preds, dmatrix) -> (name, value)`` for
        ``xgboost.train(custom_metric=...)``, and ``metric(y_true, y_pred,
        sample_weight=None) -> value`` for ``XGBClassifier(eval_metric=...)``: the
        sample-weighted mean of the per-sample loss, in float64.  XGBoost passes raw
        margins when the objective is custom, transformed predictions otherwise.

    Examples
    --------
    >>> from numbaloss.boosting import xgboost_metric
    >>> metric = xgboost_metric("binary_cross_entropy_with_logits", name="logloss")
    """
    return Metric("xgboost", loss, name=name, options=options, caller="xgboost_metric")


def lightgbm_metric(loss, *, name=None, **options):
    """A numbaloss loss as a LightGBM evaluation metric (lower is better).

    Parameters
    ----------
    loss : str or callable
        A numbaloss loss, as for :func:`lightgbm_objective`.
    name : str, optional
        The metric's name in LightGBM's logs; default the loss's name.
    **options
        The loss's own options, passed to it.

    Returns
    -------
    Metric
        ``metric(preds, eval_data)`` for ``lightgbm.train(feval=...)`` and
        ``metric(y_true, y_pred, weight)`` for ``LGBMClassifier.fit(eval_metric=...)``,
        both returning ``(name, value, False)``: the sample-weighted mean of the
        per-sample loss, in float64.

    Examples
    --------
    >>> from numbaloss.boosting import lightgbm_metric
    >>> metric = lightgbm_metric("cross_entropy", name="multi_logloss")
    """
    return Metric("lightgbm", loss, name=name, options=options, caller="lightgbm_metric")
