"""A plain NumPy CTC reference, written from the textbook formulas (Graves et al. 2006).

alpha and beta both include the emission at their frame here (unlike the
kernels, whose beta excludes it), the tables are full ``(T, 2L + 1)`` arrays,
and ``np.logaddexp`` does every log-sum-exp; all in float64.
"""

import numpy as np


def extended(labels, blank):
    ext = np.full(2 * len(labels) + 1, blank, dtype=np.int64)
    ext[1::2] = labels
    return ext


def _skip_allowed(ext):
    allowed = np.zeros(len(ext), dtype=bool)
    allowed[3::2] = ext[3::2] != ext[1:-2:2]
    return allowed


def alpha_beta(lp, labels, blank):
    """Full alpha and beta tables (log space) of one sample; ``lp`` is ``(T, C)``."""
    lp = np.asarray(lp, dtype=np.float64)
    ext = extended(labels, blank)
    width = len(ext)
    n_frames = lp.shape[0]
    allowed = _skip_allowed(ext)
    alpha = np.full((n_frames, width), -np.inf)
    beta = np.full((n_frames, width), -np.inf)
    if n_frames == 0:
        return ext, alpha, beta
    emit = lp[:, ext]
    alpha[0, 0] = emit[0, 0]
    if width > 1:
        alpha[0, 1] = emit[0, 1]
    with np.errstate(invalid="ignore"):
        for t in range(1, n_frames):
            prev = alpha[t - 1]
            acc = prev.copy()
            acc[1:] = np.logaddexp(acc[1:], prev[:-1])
            acc[2:] = np.where(allowed[2:], np.logaddexp(acc[2:], prev[:-2]), acc[2:])
            alpha[t] = acc + emit[t]
        beta[-1, -1] = emit[-1, -1]
        if width > 1:
            beta[-1, -2] = emit[-1, -2]
        for t in range(n_frames - 2, -1, -1):
            nxt = beta[t + 1]
            acc = nxt.copy()
            acc[:-1] = np.logaddexp(acc[:-1], nxt[1:])
            # s -> s + 2 is allowed when the skip into s + 2 is.
            acc[:-2] = np.where(allowed[2:], np.logaddexp(acc[:-2], nxt[2:]), acc[:-2])
            beta[t] = acc + emit[t]
    return ext, alpha, beta


def ctc_value(lp, labels, blank=0):
    """The loss of one sample with two alpha rows (for targets too long for full tables)."""
    lp = np.asarray(lp, dtype=np.float64)
    ext = extended(np.asarray(labels, dtype=np.int64), blank)
    allowed = _skip_allowed(ext)
    alpha = np.full(len(ext), -np.inf)
    alpha[:2] = lp[0, ext[:2]]
    for t in range(1, lp.shape[0]):
        acc = alpha.copy()
        acc[1:] = np.logaddexp(acc[1:], alpha[:-1])
        acc[2:] = np.where(allowed[2:], np.logaddexp(acc[2:], alpha[:-2]), acc[2:])
        alpha = acc + lp[t, ext]
    return -np.logaddexp(alpha[-1], alpha[-2])


def ctc_sample(lp, labels, blank=0):
    """Loss and d loss / d lp of one sample: ``lp`` is ``(T_n, C)`` (frames in use)."""
    lp = np.asarray(lp, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    ext, alpha, beta = alpha_beta(lp, labels, blank)
    grad = np.zeros_like(lp)
    n_frames = lp.shape[0]
    if n_frames == 0:
        return (0.0 if len(labels) == 0 else np.inf), grad
    log_p = alpha[-1, -1]
    if len(ext) > 1:
        log_p = np.logaddexp(log_p, alpha[-1, -2])
    loss = -log_p
    if not np.isfinite(loss):
        return loss, grad
    with np.errstate(invalid="ignore"):
        # Both tables include the emission at t: subtract it once.
        occupancy = np.exp(alpha + beta - lp[:, ext] + loss)
    occupancy = np.where(np.isneginf(alpha) | np.isneginf(beta), 0.0, occupancy)
    for s, c in enumerate(ext):
        grad[:, c] -= occupancy[:, s]
    return loss, grad


def ctc_batch(log_probs, labels_per_sample, input_lengths, blank=0):
    """Per-sample losses ``(N,)`` and gradients ``(T, N, C)`` of a ``(T, N, C)`` batch."""
    log_probs = np.asarray(log_probs, dtype=np.float64)
    losses = np.zeros(log_probs.shape[1])
    grad = np.zeros_like(log_probs)
    for n, labels in enumerate(labels_per_sample):
        length = int(input_lengths[n])
        losses[n], grad[:length, n] = ctc_sample(log_probs[:length, n], labels, blank)
    return losses, grad


def log_softmax(x, axis=-1):
    x = np.asarray(x, dtype=np.float64)
    m = np.max(x, axis=axis, keepdims=True)
    return x - m - np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True))


def through_log_softmax(grad, log_probs):
    """d/d logits of a loss whose gradient w.r.t. ``log_softmax(logits)`` is ``grad``."""
    return grad - np.exp(log_probs) * grad.sum(axis=-1, keepdims=True)


#: The NumPy reference of each function (see ``tests/core/test_registry.py``).
REFERENCES = {
    "ctc_loss": ctc_batch,
    "ctc_loss_from_logits": lambda logits, *args, **kw: ctc_batch(log_softmax(logits), *args, **kw),
}
