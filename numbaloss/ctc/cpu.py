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

alpha and beta are stored and summed in float64 for every input dtype: the
log-probabilities of thousands of frames are summed along every path, and a
float32 recursion (PyTorch's, for float32 input) loses about ``T * 6e-8`` of
the loss in relative accuracy and much more of the gradient.  For float32
inputs only the increments of each step (an ``exp`` of a difference and a
``log`` of a sum in [1e-250, 3]) are evaluated with float32-accuracy
polynomials, in float64 (:func:`recursion_exp`): errors of about 1e-8 per step
instead of 1e-16, and faster (measured: docs/benchmarks.rst, "Measured design choices").  At T=3000, S=900 the float32 loss is then
within 2e-8 (relative) and the gradient within 2e-7 (absolute) of the float64
result.

Each step costs one ``exp`` and one ``log`` per cell (:func:`_transition`):
the inputs of a block of cells are shifted by the block's maximum, their
exponentials are formed once and shared by the three cells that read each of
them.  A block whose inputs span more than ~575 nats is recomputed with a shift
per cell (:func:`_transition_exact`, two ``exp`` and one ``log1p``), so no
term is lost to underflow.  The inner loops run along the extended label axis
``s`` (each step at ``t`` reads only step ``t - 1``) with the vectorizable
``exp``/``log`` of :mod:`numbaloss._core.vecmath`, so LLVM puts them in SIMD
registers.
Only the cells that lie on some complete alignment are computed: at frame
:math:`t` of :math:`T_n`, :math:`\max(0, 2L + 1 - 2(T_n - t)) \le s <
\min(2L + 1, 2t + 2)`; the others are :math:`-\infty` in alpha or beta.

Rows are stored with ``PAD = 2`` leading entries that stay :math:`-\infty`, so
that the transition loop reads ``s - 1`` and ``s - 2`` without a branch.  beta
is kept in reversed label order (``u = 2L - s``): the extended label sequence
of the reversed target is the reverse of the extended sequence, so the beta
recursion is the alpha recursion of the reversed problem and both use one
loop, :func:`_transition`.

Memory: the whole alpha table of the sample being processed (``T_n x (2 L_n +
3)`` float64) when a gradient is asked for, two rows of it otherwise, in one
buffer per range of samples (sized by the largest sample of that range, one
range per thread); nothing is sized by the longest sample times the batch.
"""

import math

import numpy as np
from numba import types

from .._core.vecmath import exp, log, log1p, make_exp_core, make_log_core, polynomial
from .._jit import core_jit, jit_overload, kernel_jit

#: exp and log in float64 arithmetic with the short polynomials of float32
#: accuracy (Taylor degree 7, 6 atanh terms: relative error about 1e-8).  Built
#: like vecmath's own cores (``core_jit``, which LLVM inlines): numba's IR
#: inliner (``math_jit``) was seen to mix up closures made by one factory (related:
#: numba/numba#5775), and these share their factory with vecmath's float64 cores.
#: ``tests/core/test_numba_workarounds.py::
#: test_cores_of_one_factory_stay_apart_in_one_function`` guards it.
_exp_short = core_jit(make_exp_core(polynomial(tuple(1.0 / math.factorial(k) for k in range(8)))))
_log_short = core_jit(make_log_core(polynomial(tuple(2.0 / (2 * i + 1) for i in range(1, 7)))))


def recursion_exp(precision, x):
    """exp(x) of a float64 ``x`` to the accuracy that ``precision``'s dtype needs.

    For float64 inputs this is :func:`~numbaloss._core.vecmath.exp`.  For
    float32 inputs it is the same float64 algorithm with the shorter
    polynomial that float32 accuracy needs (relative error about 1e-8, no
    float32 rounding and no float32 underflow): the recursion's sums stay in
    float64, and only these increments are computed to float32 accuracy, which
    is faster (docs/benchmarks.rst, "Measured design choices").
    """
    return np.exp(x)


def recursion_log(precision, x):
    """log(x) of a float64 ``x``; see :func:`recursion_exp`."""
    return np.log(x)


@jit_overload(recursion_exp)
def _ov_recursion_exp(precision, x):
    if precision == types.float32:
        return lambda precision, x: _exp_short(x)
    if precision == types.float64:
        return lambda precision, x: exp(x)
    return None


@jit_overload(recursion_log)
def _ov_recursion_log(precision, x):
    if precision == types.float32:
        return lambda precision, x: _log_short(x)
    if precision == types.float64:
        return lambda precision, x: log(x)
    return None


#: ``status`` values that a sample reports back to the wrapper.
OK = 0
BAD_LABEL = 1


#: Leading -inf entries of every row (so that s - 1 and s - 2 need no branch).
PAD = 2


#: An input whose shifted exponential is below this (about exp(-575)) sends its
#: block to the exact transition: near the underflow threshold exp loses bits.
_LOST = 1e-250


#: Cells per block of :func:`_transition` that share one shift.
_SHIFT_BLOCK = 128


@kernel_jit
def _maximum(values):
    """The largest of ``values`` (-inf when empty) as float64.

    Four running maxima: four dependency chains instead of one (a maximum
    that respects NaN is not vectorized by LLVM).
    """
    m0 = -np.inf
    m1 = -np.inf
    m2 = -np.inf
    m3 = -np.inf
    size = values.size
    quads = size // 4 * 4
    for j in range(0, quads, 4):
        m0 = max(m0, np.float64(values[j]))
        m1 = max(m1, np.float64(values[j + 1]))
        m2 = max(m2, np.float64(values[j + 2]))
        m3 = max(m3, np.float64(values[j + 3]))
    for j in range(quads, size):
        m0 = max(m0, np.float64(values[j]))
    return max(max(m0, m1), max(m2, m3))


@kernel_jit
def _transition(src, dst, skip, post, lo, hi, scratch, precision):
    """``dst[i] = LSE(src[i], src[i-1], src[i-2] + skip[i]) + post[i]`` for ``lo <= i < hi``.

    Runs :func:`_transition_block` on blocks of ``_SHIFT_BLOCK`` cells, each
    with its own shift, so that the spread of alpha along a long row (which
    grows with ``T``) rarely reaches the underflow range within a block.
    """
    for start in range(lo, hi, _SHIFT_BLOCK):
        _transition_block(
            src, dst, skip, post, start, min(start + _SHIFT_BLOCK, hi), scratch, precision
        )


@kernel_jit
def _transition_block(src, dst, skip, post, lo, hi, scratch, precision):
    """:func:`_transition` for one block of cells (``hi - lo <= len(scratch) - 2``).

    Fast path, one ``exp`` and one ``log`` per cell: with ``M`` the maximum of
    ``src[lo-2:hi]``, ``p[i] = exp(src[i] - M)`` is formed once per input
    (into ``scratch``) and shared by the three cells that read it, and
    ``dst[i] = M + log(p[i] + p[i-1] + p[i-2] [skip allowed]) + post[i]``.
    An input more than ~575 nats below ``M`` has ``p`` below ``_LOST`` (and
    underflows further down); if the block has one, the block is recomputed
    exactly by :func:`_transition_exact` (typical rows span far less).
    All inputs -inf gives -inf (``log(0)``); NaN propagates.
    """
    n = hi - lo
    window = src[lo - 2 : hi]
    m = _maximum(window)
    if not m > -np.inf:
        # Every input is -inf (or the maximum is NaN): no shift is needed.
        m = 0.0 if m == -np.inf else m
    p = scratch[: n + 2]
    lost = False
    for j in range(n + 2):
        v = window[j]
        q = recursion_exp(precision, v - m)
        p[j] = q
        lost |= (q < _LOST) & (v > -np.inf)
    if lost:
        _transition_exact(src, dst, skip, post, lo, hi)
        return
    # Slices indexed from 0: indices that cannot be negative let LLVM drop
    # numba's wraparound of negative indices (numba/numba#3205), which would turn
    # every load into a gather (cost: docs/benchmarks.rst, "Measured design choices").
    p_here = p[2:]
    p_before = p[1 : n + 1]
    skip_here = skip[lo:hi]
    post_here = post[lo:hi]
    out = dst[lo:hi]
    for j in range(n):
        allowed = skip_here[j] == 0.0
        total = p_here[j] + p_before[j] + (p[j] if allowed else 0.0)
        out[j] = m + recursion_log(precision, total) + post_here[j]


@kernel_jit
def _transition_exact(src, dst, skip, post, lo, hi):
    """:func:`_transition` with a shift per cell: two exponentials and one ``log1p``.

    ``m + log1p(exp(mid - m) + exp(low - m))`` with ``m`` the largest of the
    three terms; branch free, so the loop is vectorized too.  All three -inf
    gives -inf (the shift is then 0, never inf - inf); NaN gives NaN.
    """
    here = src[lo:hi]
    before = src[lo - 1 : hi - 1]
    two_before = src[lo - 2 : hi - 2]
    skip_here = skip[lo:hi]
    post_here = post[lo:hi]
    out = dst[lo:hi]
    for j in range(hi - lo):
        a = here[j]
        b = before[j]
        c = two_before[j] + skip_here[j]
        high_ab = max(a, b)
        low_ab = min(a, b)
        m = max(high_ab, c)
        mid = min(high_ab, c)
        shift = m if m > -np.inf else 0.0
        value = m + log1p(exp(mid - shift) + exp(low_ab - shift))
        has_nan = (a != a) | (b != b) | (c != c)
        out[j] = (a + b + c if has_nan else value) + post_here[j]


@kernel_jit
def _extend(labels, offset, n_labels, blank, reverse, ext, skip):
    """The extended label sequence (padded) and its skip mask, forwards or reversed.

    ``ext[PAD + s]`` is the blank for even ``s`` and the target's label
    ``(s - 1) // 2`` (of the reversed target when ``reverse``) for odd ``s``;
    ``skip[PAD + s]`` is 0 where the transition ``s - 2 -> s`` is allowed
    (``s`` odd, ``s >= 3``, a label different from the one at ``s - 2``), -inf
    elsewhere.
    """
    width = 2 * n_labels + 1
    for i in range(PAD):
        ext[i] = blank
        skip[i] = -np.inf
    for s in range(width):
        if s % 2 == 0:
            label = blank
        else:
            j = (s - 1) // 2
            label = labels[offset + (n_labels - 1 - j if reverse else j)]
        ext[PAD + s] = label
        allowed = s % 2 == 1 and s >= 3 and label != ext[PAD + s - 2]
        skip[PAD + s] = 0.0 if allowed else -np.inf


@kernel_jit
def _gather_emissions(x, t, n, ext, lse, from_logits, out):
    """``out[i] = x[t, n, ext[i]]`` in float64 (log_softmax applied for logits)."""
    shift = lse[t] if from_logits else 0.0
    for i in range(ext.size):
        out[i] = np.float64(x[t, n, ext[i]]) - shift


@kernel_jit
def _row_log_sum_exp(x, t, n, precision):
    """log(sum_c exp(x[t, n, c])) in float64, max-shifted; NaN in the row gives NaN."""
    row = x[t, n]
    m = _maximum(row)
    shift = m if -np.inf < m < np.inf else 0.0
    total = 0.0
    for c in range(row.size):
        total += recursion_exp(precision, np.float64(row[c]) - shift)
    return shift + recursion_log(precision, total)


@kernel_jit
def _occupancy(alpha_row, beta_reversed, loss, width, lo, hi, out, precision):
    """``out[PAD + s] = exp(alpha_t(s) + beta_t(s) + loss)`` for ``lo <= s < hi``."""
    alpha_band = alpha_row[PAD + lo : PAD + hi]
    beta_band = beta_reversed[PAD + width - hi : PAD + width - lo]
    out_band = out[PAD + lo : PAD + hi]
    last = hi - lo - 1
    for j in range(hi - lo):
        # Unsigned: not a negative index, so no wraparound select (see _transition).
        out_band[j] = recursion_exp(precision, alpha_band[j] + beta_band[np.uintp(last - j)] + loss)


@kernel_jit
def _fill_row(grad, t, n, value):
    for c in range(grad.shape[2]):
        grad[t, n, c] = value


@kernel_jit
def _write_gradient_row(
    grad,
    x,
    t,
    n,
    ext,
    occupancy,
    lo,
    hi,
    acc,
    label_grad,
    blank,
    lse,
    from_logits,
    scale,
    precision,
):
    """Gradient row ``t`` of sample ``n`` from the occupancies of the extended labels.

    ``occupancy[PAD + s]`` belongs to ``ext[PAD + s]``; only the band
    ``lo <= s < hi`` is read (the occupancy is 0 outside it).  ``acc`` is a
    float64 scratch of length C, all zeros on entry and on exit, used sparsely
    (only at the target's labels), so that repeated labels are summed in
    float64 before the one write.
    ``label_grad`` is scratch of the length of ``ext``.
    """
    first = PAD + lo
    last = PAD + hi
    first_label = first + 1 - (lo % 2)  # the first odd s of the band
    first_blank = first + (lo % 2)
    # acc is all zeros between calls: add, read, then clear the band's labels.
    for i in range(first_label, last, 2):
        acc[ext[i]] += occupancy[i]
    blank_total = 0.0
    for i in range(first_blank, last, 2):
        blank_total += occupancy[i]
    if from_logits:
        # The label entries are formed before the row is overwritten: ``grad``
        # may be ``x`` itself.
        shift = lse[t]
        for i in range(first_label, last, 2):
            c = ext[i]
            label_grad[i] = scale * (
                recursion_exp(precision, np.float64(x[t, n, c]) - shift) - acc[c]
            )
        blank_grad = scale * (
            recursion_exp(precision, np.float64(x[t, n, blank]) - shift) - blank_total
        )
        for c in range(grad.shape[2]):
            grad[t, n, c] = scale * recursion_exp(precision, np.float64(x[t, n, c]) - shift)
        for i in range(first_label, last, 2):
            grad[t, n, ext[i]] = label_grad[i]
    else:
        _fill_row(grad, t, n, 0.0)
        for i in range(first_label, last, 2):
            c = ext[i]
            grad[t, n, c] = -scale * acc[c]
        blank_grad = -scale * blank_total
    if first < last:
        grad[t, n, blank] = blank_grad
    for i in range(first_label, last, 2):
        acc[ext[i]] = 0.0


@kernel_jit
def _labels_ok(labels, offset, n_labels, n_classes, blank):
    """The index of the first label equal to ``blank`` or outside [0, C), or -1."""
    for j in range(n_labels):
        label = labels[offset + j]
        if label < 0 or label >= n_classes or label == blank:
            return j
    return -1


@kernel_jit
def run_sample_range(
    x,
    precision,
    labels,
    offsets,
    input_lengths,
    target_lengths,
    blank,
    from_logits,
    zero_infinity,
    grad_scale,
    losses,
    grad,
    status,
    bad_labels,
    start,
    stop,
):
    """CTC loss (and gradient rows) of samples ``start..stop``.

    ``x`` is ``(T, N, C)``: log-probabilities, or unnormalized activations when
    ``from_logits`` (the log_softmax over C is then applied here and the
    gradient is taken with respect to ``x``); ``precision`` is a zero of
    ``x``'s dtype (see :func:`recursion_exp`).  Sample ``n``'s labels are
    ``labels[offsets[n]:offsets[n] + target_lengths[n]]``.  ``losses[n]``
    receives the loss; ``grad`` (``None`` for the value only) rows ``[:, n, :]``
    receive ``grad_scale[n]`` times the gradient.  A label equal to ``blank`` or
    outside ``[0, C)`` sets ``status[n] = BAD_LABEL`` and ``bad_labels[n]``.
    """
    n_frames = x.shape[0]
    n_classes = x.shape[2]
    need_grad = grad is not None
    acc = np.zeros(n_classes if need_grad else 0, dtype=np.float64)
    # One alpha buffer for the range, of the size the largest of its samples needs.
    cells = 0
    for n in range(start, stop):
        rows = input_lengths[n] if need_grad else 2
        cells = max(cells, rows * (PAD + 2 * target_lengths[n] + 1))
    alpha_buffer = np.empty(cells, dtype=np.float64)
    for n in range(start, stop):
        length = input_lengths[n]
        n_labels = target_lengths[n]
        offset = offsets[n]
        status[n] = OK
        first_bad = _labels_ok(labels, offset, n_labels, n_classes, blank)
        if first_bad >= 0:
            status[n] = BAD_LABEL
            bad_labels[n] = labels[offset + first_bad]
            losses[n] = np.nan
            continue

        width = 2 * n_labels + 1
        size = PAD + width
        ext = np.empty(size, dtype=np.int64)
        skip = np.empty(size, dtype=np.float64)
        _extend(labels, offset, n_labels, blank, False, ext, skip)

        lse = np.empty(length if from_logits else 0, dtype=np.float64)
        for t in range(length if from_logits else 0):
            lse[t] = _row_log_sum_exp(x, t, n, precision)

        # Forward: alpha rows (all of them for the gradient, two otherwise).
        emit = np.empty(size, dtype=np.float64)
        scratch = np.empty(_SHIFT_BLOCK + 2, dtype=np.float64)
        rows = length if need_grad else 2
        alpha = alpha_buffer[: rows * size].reshape((rows, size))
        alpha[:] = -np.inf
        if length > 0:
            _gather_emissions(x, 0, n, ext, lse, from_logits, emit)
            alpha[0, PAD] = emit[PAD]
            if width > 1:
                alpha[0, PAD + 1] = emit[PAD + 1]
        for t in range(1, length):
            lo = max(0, width - 2 * (length - t))
            hi = min(width, 2 * t + 2)
            _gather_emissions(x, t, n, ext, lse, from_logits, emit)
            row = t if need_grad else t % 2
            prev = t - 1 if need_grad else (t - 1) % 2
            _transition(alpha[prev], alpha[row], skip, emit, PAD + lo, PAD + hi, scratch, precision)

        if length > 0:
            last = alpha[length - 1 if need_grad else (length - 1) % 2]
            log_p = last[PAD + width - 1]
            if width > 1:
                log_p = np.logaddexp(log_p, last[PAD + width - 2])
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

        # Backward: beta in reversed label order (u = width - 1 - s), one row.
        ext_rev = np.empty(size, dtype=np.int64)
        skip_rev = np.empty(size, dtype=np.float64)
        _extend(labels, offset, n_labels, blank, True, ext_rev, skip_rev)
        zeros = np.zeros(size)
        beta = np.full(size, -np.inf)
        with_emit = np.empty(size, dtype=np.float64)
        occupancy = np.empty(size, dtype=np.float64)
        label_grad = np.empty(size if from_logits else 0, dtype=np.float64)
        beta[PAD] = 0.0
        if width > 1:
            beta[PAD + 1] = 0.0
        scale = grad_scale[n]
        for t in range(length - 1, -1, -1):
            lo = max(0, width - 2 * (length - t))
            hi = min(width, 2 * t + 2)
            # Read this frame's emissions before its gradient row is written:
            # the gradient may be written into x itself (grad_out=input).
            _gather_emissions(x, t, n, ext_rev, lse, from_logits, emit)
            _occupancy(alpha[t], beta, loss, width, lo, hi, occupancy, precision)
            _write_gradient_row(
                grad,
                x,
                t,
                n,
                ext,
                occupancy,
                lo,
                hi,
                acc,
                label_grad,
                blank,
                lse,
                from_logits,
                scale,
                precision,
            )
            if t > 0:
                for i in range(size):
                    with_emit[i] = beta[i] + emit[i]
                lo_prev = max(0, width - 2 * (length - t + 1))
                hi_prev = min(width, 2 * t)
                _transition(
                    with_emit,
                    beta,
                    skip_rev,
                    zeros,
                    PAD + width - hi_prev,
                    PAD + width - lo_prev,
                    scratch,
                    precision,
                )
