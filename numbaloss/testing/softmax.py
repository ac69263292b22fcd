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


def np_nll(logp, t, weight=None, ignore_index=-100, reduction="mean"):
    """``nll_loss``: minus the (weighted) log-probability of each target class."""
    rows = class_last(np.asarray(logp, dtype=np.float64))
    n_classes = rows.shape[-1]
    rows = rows.reshape(-1, n_classes)
    t = np.asarray(t).reshape(-1)
    w = np.ones(n_classes) if weight is None else np.asarray(weight, dtype=np.float64)
    keep = t != ignore_index
    safe = np.where(keep, t, 0)
    w_t = np.where(keep, w[safe], 0.0)
    loss = -w_t * rows[np.arange(len(t)), safe]
    if reduction == "none":
        return loss.reshape(np.shape(t))
    return loss.sum() if reduction == "sum" else loss.sum() / w_t.sum()


def from_class_last(rows, shape):
    """The inverse of :func:`class_last`: ``(rows, C)`` back to the input's ``shape``."""
    if len(shape) == 1:
        return rows.reshape(shape)
    moved = rows.reshape((shape[0], *shape[2:], shape[1]))
    return np.moveaxis(moved, -1, 1)


def _row_upstream(grad_output, reduction, n_rows, divisor):
    """``grad_output`` per row of the unreduced loss, with the mean's division."""
    g = 1.0 if grad_output is None else np.asarray(grad_output, dtype=np.float64)
    if reduction == "none":
        return np.broadcast_to(g, (n_rows,)) if np.ndim(g) == 0 else g.reshape(-1)
    scale = float(g) / divisor if reduction == "mean" else float(g)
    return np.full(n_rows, scale)


def np_cross_entropy_hess(
    x,
    t,
    weight=None,
    ignore_index=-100,
    reduction="mean",
    label_smoothing=0.0,
    grad_output=None,
):
    """Diagonal of the Hessian of ``sum(grad_output * cross_entropy)`` in the logits.

    ``p_c (1 - p_c)`` times the row's factor of ``lse``: ``(1 - eps) w_t + eps/C sum w``
    (0 for ignored rows), or ``sum_c w_c q_c`` for class probabilities.
    """
    x = np.asarray(x, dtype=np.float64)
    rows = class_last(x)
    n_rows, n_classes = rows.shape
    w = np.ones(n_classes) if weight is None else np.asarray(weight, dtype=np.float64)
    p = np.exp(np_log_softmax(rows))
    t = np.asarray(t)
    if t.dtype.kind == "f":
        q = class_last(t) * (1 - label_smoothing) + label_smoothing / n_classes
        factor = (w * q).sum(axis=1)
        divisor = n_rows
    else:
        tf = t.reshape(-1).astype(np.int64)
        keep = tf != ignore_index
        w_t = np.where(keep, w[np.where(keep, tf, 0)], 0.0)
        factor = np.where(
            keep, (1 - label_smoothing) * w_t + label_smoothing / n_classes * w.sum(), 0
        )
        divisor = w_t.sum()
    g = _row_upstream(grad_output, reduction, n_rows, divisor)
    return from_class_last((g * factor)[:, None] * p * (1 - p), x.shape)


def np_focal_hess(x, t, gamma, weight=None, ignore_index=-100, reduction="mean", grad_output=None):
    """Diagonal of the Hessian of ``sum(grad_output * focal_loss)`` in the logits.

    With ``phi(P) = -(1 - P)**gamma log P`` of the target's probability ``P``,
    ``dP/dx_c = P (d - p_c)`` and ``d2P/dx_c2 = P ((d - p_c)**2 - p_c (1 - p_c))``
    (``d = [c == t]``), the chain rule gives ``w_t (phi'' (dP/dx_c)**2 + phi' d2P/dx_c2)``.
    """
    x = np.asarray(x, dtype=np.float64)
    rows = class_last(x)
    n_rows, n_classes = rows.shape
    w = np.ones(n_classes) if weight is None else np.asarray(weight, dtype=np.float64)
    p = np.exp(np_log_softmax(rows))
    tf = np.asarray(t).reshape(-1).astype(np.int64)
    keep = tf != ignore_index
    tc = np.where(keep, tf, 0)
    w_t = np.where(keep, w[tc], 0.0)
    big_p = p[np.arange(n_rows), tc][:, None]
    q = 1 - big_p
    log_p = np.log(big_p)
    d1 = gamma * q ** (gamma - 1) * log_p - q**gamma / big_p
    d2 = (
        -gamma * (gamma - 1) * q ** (gamma - 2) * log_p
        + 2 * gamma * q ** (gamma - 1) / big_p
        + q**gamma / big_p**2
    )
    delta = np.zeros_like(p)
    delta[np.arange(n_rows), tc] = 1.0
    dp = big_p * (delta - p)
    d2p = big_p * ((delta - p) ** 2 - p * (1 - p))
    g = _row_upstream(grad_output, reduction, n_rows, w_t.sum())
    h = (g * w_t)[:, None] * (d2 * dp**2 + d1 * d2p)
    return from_class_last(np.where(keep[:, None], h, 0.0), x.shape)


def np_nll_hess(logp, t, weight=None, ignore_index=-100, reduction="mean", grad_output=None):
    """``nll_loss`` is linear in its input: its Hessian is 0."""
    return np.zeros(np.shape(logp))


def _np_linear_logits(x, linear_weight, linear_bias):
    """The logits ``(N, C, d...)`` (``(C)`` for a 1-D input) of a linear layer, float64."""
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(linear_weight, dtype=np.float64)
    flat = w.reshape(w.shape[0] * int(np.prod(w.shape[1:-1])), w.shape[-1])
    z = x @ flat.T
    if linear_bias is not None:
        z = z + np.asarray(linear_bias, dtype=np.float64).reshape(-1)
    return z.reshape(*x.shape[:-1], *w.shape[:-1])


def np_linear_cross_entropy(
    x,
    linear_weight,
    target,
    linear_bias=None,
    weight=None,
    reduction="mean",
    ignore_index=None,
    label_smoothing=0.0,
):
    """``linear_cross_entropy`` from the formula: the logits in full, then cross entropy."""
    z = _np_linear_logits(x, linear_weight, linear_bias)
    ignore_index = -100 if ignore_index is None else ignore_index
    return np_cross_entropy(z, target, weight, ignore_index, reduction, label_smoothing)


def np_cross_entropy_logit_grad(
    x, t, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0, grad_output=1.0
):
    """The gradient of ``sum(grad_output * cross_entropy(x, t, ...))`` with respect to the
    logits ``x`` (any of cross_entropy's shapes), from the formula, in float64."""
    x = np.asarray(x, dtype=np.float64)
    rows = class_last(x)
    n_classes = rows.shape[1]
    w = np.ones(n_classes) if weight is None else np.asarray(weight, dtype=np.float64)
    p = np.exp(np_log_softmax(rows))
    t = np.asarray(t)
    eps = label_smoothing
    if t.dtype.kind == "f":
        q = class_last(t) * (1 - eps) + eps / n_classes
        wq = w * q
        g = p * wq.sum(axis=1, keepdims=True) - wq
        divisor = rows.shape[0]
    else:
        tf = t.reshape(-1).astype(np.int64)
        keep = tf != ignore_index
        tc = np.where(keep, tf, 0)
        w_t = np.where(keep, w[tc], 0.0)
        onehot = np.zeros_like(rows)
        onehot[np.arange(rows.shape[0]), tc] = 1.0
        # d/dx of (1-eps) w_t (lse - x_t) + eps/C sum_c w_c (lse - x_c)
        g = (1 - eps) * w_t[:, None] * (p - onehot)
        g += np.where(keep, 1.0, 0.0)[:, None] * (eps / n_classes) * (p * w.sum() - w)
        divisor = w_t.sum()
    go = np.asarray(grad_output, dtype=np.float64)
    if reduction == "none":
        loss_shape = (x.shape[0], *x.shape[2:]) if x.ndim >= 2 else ()
        g = g * np.broadcast_to(go, loss_shape).reshape(-1)[:, None]
    else:
        g = g * float(go)
        if reduction == "mean":
            with np.errstate(invalid="ignore", divide="ignore"):
                g = g / divisor
    # back to the logits' shape
    if x.ndim == 1:
        return g[0]
    moved = g.reshape(x.shape[0], *x.shape[2:], x.shape[1])
    return np.moveaxis(moved, -1, 1)


def np_linear_cross_entropy_grad(
    x,
    linear_weight,
    target,
    linear_bias=None,
    weight=None,
    reduction="mean",
    ignore_index=None,
    label_smoothing=0.0,
    grad_output=1.0,
):
    """``(grad_input, grad_linear_weight[, grad_linear_bias])`` of ``linear_cross_entropy``
    from the chain rule through the full logits, in float64."""
    x64 = np.asarray(x, dtype=np.float64)
    w64 = np.asarray(linear_weight, dtype=np.float64)
    z = _np_linear_logits(x64, w64, linear_bias)
    ignore_index = -100 if ignore_index is None else ignore_index
    gz = np_cross_entropy_logit_grad(
        z, target, weight, ignore_index, reduction, label_smoothing, grad_output
    )
    n_rows = x64.shape[0] if x64.ndim == 2 else 1
    width = int(np.prod(w64.shape[:-1]))
    x2 = x64.reshape(n_rows, w64.shape[-1])
    flat_w = w64.reshape(width, w64.shape[-1])
    gz2 = gz.reshape(n_rows, width)  # (N, C * D) in the weight's row order
    grads = [(gz2 @ flat_w).reshape(x64.shape), (gz2.T @ x2).reshape(w64.shape)]
    if linear_bias is not None:
        grads.append(gz2.sum(axis=0).reshape(np.shape(linear_bias)))
    return tuple(grads)


def np_logsumexp(x, axis=None):
    x = np.asarray(x, dtype=np.float64)
    m = np.max(x, axis=axis, keepdims=True)
    return np.squeeze(m, axis=axis) + np.log(np.sum(np.exp(x - m), axis=axis))


def np_softmax(x, axis=None):
    x = np.asarray(x, dtype=np.float64)
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def np_zero_one(x, t, reduction="mean"):
    x = np.asarray(x)
    wrong = ((np.argmax(x, axis=1) if x.ndim == 2 else x) != np.asarray(t)).astype(np.float64)
    if reduction == "none":
        return wrong
    return wrong.sum() if reduction == "sum" else wrong.mean()


#: The NumPy reference of each function (see ``tests/core/test_registry.py``).
REFERENCES = {
    "cross_entropy": np_cross_entropy,
    "focal_loss": np_focal,
    "linear_cross_entropy": np_linear_cross_entropy,
    "log_softmax": lambda x, axis=None: np.log(np_softmax(x, axis)),
    "logsumexp": np_logsumexp,
    "nll_loss": np_nll,
    "softmax": np_softmax,
    "zero_one_loss": np_zero_one,
}

#: The NumPy Hessian diagonals of the functions with ``hessian=True`` in the registry.
HESSIANS = {
    "cross_entropy": np_cross_entropy_hess,
    "focal_loss": np_focal_hess,
    "nll_loss": np_nll_hess,
}
