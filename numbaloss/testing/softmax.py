"""Plain NumPy references for the softmax family, from the formulas."""

import numpy as np


def class_last(x):
    """(C) -> (1, C); (N, C, d...) -> (N*d..., C) in float64."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 1:
        return x[None, :]
    return np.moveaxis(x, 1, -1).reshape(-1, x.shape[1])


def np_log_softmax(rows):
    m = rows.max(axis=1, keepdims=True)
    return rows - m - np.log(np.exp(rows - m).sum(axis=1, keepdims=True))


def np_cross_entropy(x, t, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    """Cross entropy from the formula (class indices or probabilities), in float64."""
    x = np.asarray(x, dtype=np.float64)
    rows = class_last(x)
    n_classes = rows.shape[1]
    w = np.ones(n_classes) if weight is None else np.asarray(weight, dtype=np.float64)
    lsm = np_log_softmax(rows)
    loss_shape = (x.shape[0], *x.shape[2:]) if x.ndim >= 2 else ()
    t = np.asarray(t)
    if t.dtype.kind == "f":
        q = class_last(t) * (1 - label_smoothing) + label_smoothing / n_classes
        per_row = -(w * q * lsm).sum(axis=1)
        divisor = rows.shape[0]
    else:
        tf = t.reshape(-1).astype(np.int64)
        keep = tf != ignore_index
        tc = np.where(keep, tf, 0)
        w_t = np.where(keep, w[tc], 0.0)
        nll = -w_t * lsm[np.arange(rows.shape[0]), tc]
        smooth = np.where(keep, -(w * lsm).sum(axis=1), 0.0)
        per_row = (1 - label_smoothing) * nll + label_smoothing / n_classes * smooth
        divisor = w_t.sum()
    if reduction == "none":
        return per_row.reshape(loss_shape)
    if reduction == "sum":
        return per_row.sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        return per_row.sum() / divisor


def np_focal(x, t, gamma, weight=None, ignore_index=-100, reduction="mean"):
    x = np.asarray(x, dtype=np.float64)
    rows = class_last(x)
    w = np.ones(rows.shape[1]) if weight is None else np.asarray(weight, dtype=np.float64)
    lsm = np_log_softmax(rows)
    tf = np.asarray(t).reshape(-1).astype(np.int64)
    keep = tf != ignore_index
    tc = np.where(keep, tf, 0)
    w_t = np.where(keep, w[tc], 0.0)
    lp = lsm[np.arange(rows.shape[0]), tc]
    per_row = -w_t * (1 - np.exp(lp)) ** gamma * lp
    loss_shape = (x.shape[0], *x.shape[2:]) if x.ndim >= 2 else ()
    if reduction == "none":
        return per_row.reshape(loss_shape)
    if reduction == "sum":
        return per_row.sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        return per_row.sum() / w_t.sum()
