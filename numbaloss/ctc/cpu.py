r"""CPU kernels of the CTC loss: the alpha-beta recursion in log space.

One sample is one work item; :func:`run_sample_range` runs samples
``start..stop`` and is handed to :func:`numbaloss._core.parallel.run_ranges`, so
samples run in parallel over the batch and each sample's loss and gradient rows
are written by exactly one thread (results do not depend on the split).

For a target :math:`l` of length :math:`L` the extended label sequence
:math:`l'` of length :math:`2L + 1` has the blank at even positions and
:math:`l_{(s-1)/2}` at odd positions.  With emissions :math:`e_t(s) =
x_{t, l'_s}` (log-probabilities), the forward variable (emission at :math:`t`
included) and the backward variable (emission at :math:`t` excluded) are

.. math::

    \alpha_t(s) &= e_t(s) + \operatorname{LSE}\bigl(\alpha_{t-1}(s),
        \alpha_{t-1}(s-1), \alpha_{t-1}(s-2) + k(s)\bigr) \\
    \beta_t(s) &= \operatorname{LSE}\bigl(\beta_{t+1}(s) + e_{t+1}(s),
        \beta_{t+1}(s+1) + e_{t+1}(s+1), \beta_{t+1}(s+2) + e_{t+1}(s+2) + k(s+2)\bigr)

where :math:`k(s) = 0` when the skip :math:`s-2 \to s` is allowed (:math:`s`
odd and :math:`l'_s \ne l'_{s-2}`) and :math:`-\infty` otherwise.  The loss is
:math:`-\log P` with :math:`\log P = \operatorname{LSE}(\alpha_{T-1}(2L),
\alpha_{T-1}(2L-1))`, and for every :math:`t`, :math:`\sum_s \exp(\alpha_t(s) +
\beta_t(s)) = P`.  The derivative of the loss with respect to the
log-probability :math:`x_{t,c}` is minus the posterior occupancy of :math:`c`
at :math:`t`:

.. math::

    \frac{\partial\,\mathrm{loss}}{\partial x_{t,c}} =
    -\sum_{s:\, l'_s = c} \exp\bigl(\alpha_t(s) + \beta_t(s) + \mathrm{loss}\bigr).

alpha and beta are always computed in float64 (also for float32 inputs): the
log-probabilities of thousands of frames are summed along every path, and
float32 would lose about ``T * 6e-8`` of the loss in relative accuracy.  The
inner loops run along the extended label axis ``s`` (each step at ``t`` reads
only step ``t - 1``) with the vectorizable :func:`~numbaloss._core.vecmath.exp`
and :func:`~numbaloss._core.vecmath.log`, so LLVM puts them in SIMD registers.
Memory: the whole alpha table of the sample being processed (``T_n x (2 L_n +
1)`` float64) when a gradient is asked for, two rows of it otherwise; nothing
is sized by the longest sample of the batch.
"""

import numpy as np

from .._core.vecmath import exp, log, log1p
from .._jit import kernel_jit, math_jit

#: ``status`` values that a sample reports back to the wrapper.
OK = 0
BAD_LABEL = 1


@math_jit
def log_add_exp(a, b):
    """log(exp(a) + exp(b)) for float64: both -inf gives -inf, NaN propagates."""
    if a != a or b != b:
        return a + b
    m = a if a > b else b
    if m == -np.inf or m == np.inf:
        return m
    other = b if a > b else a
    return m + log1p(exp(other - m))


@math_jit
def log_add_exp3(a, b, c):
    """log(exp(a) + exp(b) + exp(c)) for float64, branch free (vectorizable).

    The largest term is factored out (so the sum of exponentials lies in
    [1, 3]); when all three are -inf the shift is 0 and the result is -inf.
    NaN in any term gives NaN, +inf gives NaN or +inf as IEEE arithmetic does.
    """
    m = a
    if b > m:
        m = b
    if c > m:
        m = c
    shift = m if m > -np.inf else 0.0
    return shift + log(exp(a - shift) + exp(b - shift) + exp(c - shift))


@kernel_jit
def _gather_emissions(x, t, n, ext, lse, from_logits, out):
    """``out[s] = x[t, n, ext[s]]`` (minus the row's log-sum-exp for logits), float64."""
    if from_logits:
        shift = lse[t]
        for s in range(ext.size):
            out[s] = np.float64(x[t, n, ext[s]]) - shift
    else:
        for s in range(ext.size):
            out[s] = np.float64(x[t, n, ext[s]])


@kernel_jit
def _row_log_sum_exp(x, t, n):
    """log(sum_c exp(x[t, n, c])) in float64, max-shifted."""
    nc = x.shape[2]
    m = -np.inf
    for c in range(nc):
        v = np.float64(x[t, n, c])
        if v > m or v != v:
            m = v
    shift = m if m > -np.inf and m < np.inf else 0.0
    if m != m:
        return m
    total = 0.0
    for c in range(nc):
        total += exp(np.float64(x[t, n, c]) - shift)
    return shift + log(total)


@kernel_jit
def _alpha_step(prev, cur, emit, skip):
    """One step of the forward recursion over the extended label axis."""
    width = cur.size
    cur[0] = prev[0] + emit[0]
    if width > 1:
        cur[1] = log_add_exp(prev[1], prev[0]) + emit[1]
    for s in range(2, width):
        cur[s] = log_add_exp3(prev[s], prev[s - 1], prev[s - 2] + skip[s]) + emit[s]


@kernel_jit
def _beta_step(with_emit, out, skip):
    """beta_{t-1} from ``with_emit[s] = beta_t(s) + e_t(s)``."""
    width = out.size
    for s in range(width - 2):
        out[s] = log_add_exp3(with_emit[s], with_emit[s + 1], with_emit[s + 2] + skip[s + 2])
    if width > 1:
        out[width - 2] = log_add_exp(with_emit[width - 2], with_emit[width - 1])
    out[width - 1] = with_emit[width - 1]


@kernel_jit
def _fill_row(grad, t, n, value):
    for c in range(grad.shape[2]):
        grad[t, n, c] = value


@kernel_jit
def _write_gradient_row(grad, x, t, n, ext, occupancy, acc, blank, lse, from_logits, scale):
    """Gradient row ``t`` of sample ``n`` from the occupancies of the extended labels.

    ``acc`` is a float64 scratch of length C used sparsely (only at the target's
    labels), so that repeated labels are summed in float64 before the one write.
    """
    width = ext.size
    for s in range(1, width, 2):
        acc[ext[s]] = 0.0
    blank_total = 0.0
    for s in range(0, width, 2):
        blank_total += occupancy[s]
    acc[blank] = blank_total
    for s in range(1, width, 2):
        acc[ext[s]] += occupancy[s]
    if from_logits:
        # The label entries are formed (into ``occupancy``, no longer needed)
        # before the row is overwritten: ``grad`` may be ``x`` itself.
        shift = lse[t]
        for s in range(0, width):
            c = ext[s]
            occupancy[s] = scale * (exp(np.float64(x[t, n, c]) - shift) - acc[c])
        for c in range(grad.shape[2]):
            grad[t, n, c] = scale * exp(np.float64(x[t, n, c]) - shift)
        for s in range(0, width):
            grad[t, n, ext[s]] = occupancy[s]
    else:
        _fill_row(grad, t, n, 0.0)
        for s in range(0, width):
            c = ext[s]
            grad[t, n, c] = -scale * acc[c]


@kernel_jit
def run_sample_range(x, labels, offsets, input_lengths, target_lengths, blank, from_logits,
                     zero_infinity, grad_scale, losses, grad, status, bad_labels, start, stop):
    """CTC loss (and gradient rows) of samples ``start..stop``.

    ``x`` is ``(T, N, C)``: log-probabilities, or unnormalized activations when
    ``from_logits`` (the log_softmax over C is then applied here and the
    gradient is taken with respect to ``x``).  Sample ``n``'s labels are
    ``labels[offsets[n]:offsets[n] + target_lengths[n]]``.  ``losses[n]``
    receives the loss; ``grad`` (``None`` for the value only) rows ``[:, n, :]``
    receive ``grad_scale[n]`` times the gradient.  A label equal to ``blank`` or
    outside ``[0, C)`` sets ``status[n] = BAD_LABEL`` and ``bad_labels[n]``.
    """
    n_frames = x.shape[0]
    n_classes = x.shape[2]
    need_grad = grad is not None
    acc = np.empty(n_classes if need_grad else 0, dtype=np.float64)
    for n in range(start, stop):
        length = input_lengths[n]
        n_labels = target_lengths[n]
        width = 2 * n_labels + 1
        offset = offsets[n]
        status[n] = OK
        for j in range(n_labels):
            label = labels[offset + j]
            if label < 0 or label >= n_classes or label == blank:
                status[n] = BAD_LABEL
                bad_labels[n] = label
                break
        if status[n] != OK:
            losses[n] = np.nan
            continue

        ext = np.empty(width, dtype=np.int64)
        skip = np.empty(width, dtype=np.float64)
        for s in range(width):
            ext[s] = blank if s % 2 == 0 else labels[offset + (s - 1) // 2]
            allowed = s % 2 == 1 and s >= 3 and ext[s] != ext[s - 2]
            skip[s] = 0.0 if allowed else -np.inf

        lse = np.empty(length if from_logits else 0, dtype=np.float64)
        for t in range(length if from_logits else 0):
            lse[t] = _row_log_sum_exp(x, t, n)

        emit = np.empty(width, dtype=np.float64)
        alpha = np.empty((length if need_grad else 2, width), dtype=np.float64)
        if length > 0:
            _gather_emissions(x, 0, n, ext, lse, from_logits, emit)
            first = alpha[0]
            first[:] = -np.inf
            first[0] = emit[0]
            if width > 1:
                first[1] = emit[1]
        for t in range(1, length):
            row = t if need_grad else t % 2
            prev_row = t - 1 if need_grad else (t - 1) % 2
            _gather_emissions(x, t, n, ext, lse, from_logits, emit)
            _alpha_step(alpha[prev_row], alpha[row], emit, skip)

        if length > 0:
            last = alpha[length - 1 if need_grad else (length - 1) % 2]
            log_p = last[width - 1]
            if width > 1:
                log_p = log_add_exp(log_p, last[width - 2])
        else:
            log_p = 0.0 if n_labels == 0 else -np.inf
        loss = -log_p
        infinite = loss == np.inf
        losses[n] = 0.0 if infinite and zero_infinity else loss

        if not need_grad:
            continue
        for t in range(length, n_frames):
            _fill_row(grad, t, n, 0.0)
        if infinite:
            fill = 0.0 if zero_infinity else np.nan
            for t in range(length):
                _fill_row(grad, t, n, fill)
            continue

        scale = grad_scale[n]
        beta = np.empty(width, dtype=np.float64)
        with_emit = np.empty(width, dtype=np.float64)
        occupancy = np.empty(width, dtype=np.float64)
        beta[:] = -np.inf
        beta[width - 1] = 0.0
        if width > 1:
            beta[width - 2] = 0.0
        for t in range(length - 1, -1, -1):
            # Read this frame's emissions before its gradient row is written:
            # the gradient may be written into x itself (grad_out=input).
            _gather_emissions(x, t, n, ext, lse, from_logits, emit)
            a_row = alpha[t]
            for s in range(width):
                occupancy[s] = exp(a_row[s] + beta[s] + loss)
            _write_gradient_row(grad, x, t, n, ext, occupancy, acc, blank, lse, from_logits,
                                scale)
            if t > 0:
                for s in range(width):
                    with_emit[s] = beta[s] + emit[s]
                _beta_step(with_emit, beta, skip)
