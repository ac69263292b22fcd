"""CUDA kernels of the CTC loss: the functions of :mod:`.losses` on device arrays.

Reached through :func:`numbaloss._core.devices.on_device` when an argument is a
CUDA device array.  ``log_probs``/``logits`` must be on the device; ``targets`` and
the lengths may be on the host or the device.  They are small and are validated on
the host by the same :mod:`.plans` as on the CPU, so the messages are identical; a device ``targets`` or
lengths array is therefore copied to the host (a synchronisation, like the flag
read-back of elementwise's domain checks).

Kernels, one block per sample (grid-stride over samples):

* :func:`row_lse_kernel` (logits only): ``log(sum_c exp(z[t, n, c]))`` per frame,
  one thread per ``(t, n)`` row.
* :func:`ctc_kernel`: threads stride over the extended label axis ``s < 2L + 1``;
  alpha (forward, emission included) and beta (backward, emission excluded) in log
  space, float64, in a global scratch of shape ``(N, T, 2 S_max + 1)`` (no length
  cap beyond memory), ``cuda.syncthreads()`` between time steps.  Then threads stride
  over the classes ``c`` of each frame and sum the occupancies
  ``exp(alpha + beta + loss)`` of the positions with label ``c`` (no atomics), and
  write the gradient row (for logits: ``softmax - occupancy``), times the sample's
  scale (``grad_output`` and the reduction's weight).
* The reduction: per-sample terms reduced with :func:`.cuda_support.sum_kernel` and
  :func:`.cuda_support.reduce_partials` (deterministic, on the device).
"""

import inspect
import math

import numpy as np
from numba import cuda, float64

from .._core import cuda_support as cs
from .._core import traits
from . import losses, plans


@cuda.jit(device=True)
def _lse3(a, b, c):
    """log(exp(a) + exp(b) + exp(c)), -inf when all are -inf, NaN propagates."""
    m = a if a > b else b  # conditionals: builtin max fails numba-cuda's PTX typing
    m = m if m > c else c
    if a != a or b != b or c != c:
        return a + b + c
    if m == -math.inf:
        return -math.inf
    return m + math.log(math.exp(a - m) + math.exp(b - m) + math.exp(c - m))


@cuda.jit(device=True)
def _label(labels, offset, blank, s):
    if s % 2 == 0:
        return blank
    return labels[offset + (s - 1) // 2]


@cuda.jit(device=True)
def _emit(x, lse, t, n, c, from_logits):
    v = float64(x[t, n, c])
    if from_logits:
        v -= lse[t, n]
    return v


@cuda.jit
def row_lse_kernel(x, lse):
    """``lse[t, n] = log(sum_c exp(x[t, n, c]))`` (max-shifted), one thread per row."""
    n_frames, n_samples, n_classes = x.shape
    for i in range(cuda.grid(1), n_frames * n_samples, cuda.gridsize(1)):
        t = i // n_samples
        n = i % n_samples
        m = -math.inf
        has_nan = False
        for c in range(n_classes):
            v = float64(x[t, n, c])
            if v != v:
                has_nan = True
            m = v if v > m else m
        shift = m if -math.inf < m < math.inf else 0.0
        total = 0.0
        for c in range(n_classes):
            total += math.exp(float64(x[t, n, c]) - shift)
        lse[t, n] = math.nan if has_nan else shift + math.log(total)


@cuda.jit
def ctc_kernel(
    x,
    lse,
    labels,
    offsets,
    input_lengths,
    target_lengths,
    blank,
    from_logits,
    zero_infinity,
    weights,
    gmul,
    alpha,
    beta,
    losses_out,
    terms,
    grad,
):
    """Loss (and gradient) of each sample: one block per sample, threads along ``s``.

    ``weights[n]`` is the reduction's weight of sample ``n`` (1, or ``1 / (N max(L,
    1))`` for the mean), ``gmul`` its upstream gradient (scalar, 1-element or
    ``(N,)`` device array).  ``losses_out[n]`` gets the float64 loss and
    ``terms[n]`` the loss times its weight; ``grad`` (``None`` for none) the rows
    ``[:, n, :]``.
    """
    n_frames = x.shape[0]
    n_samples = x.shape[1]
    n_classes = x.shape[2]
    tid = cuda.threadIdx.x
    step = cuda.blockDim.x
    for n in range(cuda.blockIdx.x, n_samples, cuda.gridDim.x):
        length = input_lengths[n]
        n_labels = target_lengths[n]
        offset = offsets[n]
        width = 2 * n_labels + 1
        # forward
        for t in range(length):
            for s in range(tid, width, step):
                e = _emit(x, lse, t, n, _label(labels, offset, blank, s), from_logits)
                if t == 0:
                    alpha[n, 0, s] = e if s < 2 else -math.inf
                else:
                    a = alpha[n, t - 1, s]
                    b = alpha[n, t - 1, s - 1] if s >= 1 else -math.inf
                    c = -math.inf
                    if s >= 3 and s % 2 == 1:
                        if _label(labels, offset, blank, s) != _label(labels, offset, blank, s - 2):
                            c = alpha[n, t - 1, s - 2]
                    alpha[n, t, s] = e + _lse3(a, b, c)
            cuda.syncthreads()
        if length > 0:
            log_p = alpha[n, length - 1, width - 1]
            if width > 1:
                q = alpha[n, length - 1, width - 2]
                log_p = _lse3(log_p, q, -math.inf)
        else:
            log_p = 0.0 if n_labels == 0 else -math.inf
        loss = -log_p
        infinite = loss == math.inf
        if infinite and zero_infinity:
            loss = 0.0
        if tid == 0:
            losses_out[n] = loss
            terms[n] = loss * weights[n]
        if grad is None:
            cuda.syncthreads()
            continue
        # backward
        for t in range(length - 1, -1, -1):
            for s in range(tid, width, step):
                if t == length - 1:
                    beta[n, t, s] = 0.0 if s >= width - 2 else -math.inf
                else:
                    a = beta[n, t + 1, s] + _emit(
                        x, lse, t + 1, n, _label(labels, offset, blank, s), from_logits
                    )
                    b = -math.inf
                    if s + 1 < width:
                        b = beta[n, t + 1, s + 1] + _emit(
                            x, lse, t + 1, n, _label(labels, offset, blank, s + 1), from_logits
                        )
                    c = -math.inf
                    if s + 2 < width and (s + 2) % 2 == 1:
                        l2 = _label(labels, offset, blank, s + 2)
                        if l2 != _label(labels, offset, blank, s):
                            c = beta[n, t + 1, s + 2] + _emit(x, lse, t + 1, n, l2, from_logits)
                    beta[n, t, s] = _lse3(a, b, c)
            cuda.syncthreads()
        scale = weights[n] * float64(traits.at(gmul, n))
        for t in range(n_frames):
            for c in range(tid, n_classes, step):
                if t >= length:
                    value = 0.0
                elif infinite:
                    value = 0.0 if zero_infinity else math.nan
                else:
                    occ = 0.0
                    for s in range(width):
                        if _label(labels, offset, blank, s) == c:
                            occ += math.exp(alpha[n, t, s] + beta[n, t, s] + loss)
                    if from_logits:
                        value = scale * (math.exp(float64(x[t, n, c]) - lse[t, n]) - occ)
                    else:
                        value = -scale * occ
                grad[t, n, c] = value
        cuda.syncthreads()


def _ctc(call):
    """Run one :class:`.plans.Call` on device arrays."""
    args = cs.DeviceArgs()
    plan = plans.ctc(args, call)
    pred, from_logits = call.pred, call.from_logits
    grad_output, grad_out = call.grad_output, call.grad_out
    x = plan.x
    reduction, zero_infinity, return_grad = plan.reduction, plan.zero_infinity, plan.return_grad
    unbatched, blank = plan.unbatched, plan.blank
    n_frames, n_samples, n_classes = plan.n_frames, plan.n_samples, plan.n_classes
    il, tl, labels, offsets = plan.input_lengths, plan.target_lengths, plan.labels, plan.offsets
    dtype, _ = cs.result_dtypes(x)
    x3 = x.reshape(n_frames, 1, n_classes) if unbatched else x
    # The labels' values, on the host copy (the CPU checks them in its kernel).
    for i in range(n_samples):
        row = labels[offsets[i] : offsets[i] + tl[i]]
        bad = np.flatnonzero((row < 0) | (row >= n_classes) | (row == blank))
        if bad.size:
            raise ValueError(plans.bad_label_message(row[bad[0]], i, blank, n_classes))

    loss_shape = () if unbatched else (n_samples,)
    if reduction == "mean":
        weights = 1.0 / (max(n_samples, 1) * np.maximum(tl, 1).astype(np.float64))
    else:
        weights = np.ones(n_samples)
    gmul = 1.0
    slots = None
    grad3 = None
    if return_grad:
        if reduction == "none":
            gmul = cs.device_upstream(args, grad_output, loss_shape, np.float64, host_arrays=True)
        else:
            gmul = cs.device_scale(args, grad_output)
        # The kernel writes the gradient in the result dtype (it computes in float64),
        # through the strides of a (T, N, C) array: any grad_out of that dtype will do.
        layout = cs.DeviceLayout(x.shape, dtype, dtype, "strided", (n_frames, n_samples, n_classes))
        slots = cs.device_grad_slots(args, [pred], layout, grad_out)
        grad3 = slots[0].buffer
    # one factor per sample: a scalar, a reduced loss's 1-element device array, or per row
    if cs.is_numba_device_array(gmul):
        gmul = cs.gather(gmul, (n_samples,), False, np.float64)
    else:
        gmul = cuda.to_device(np.full(n_samples, gmul, dtype=np.float64))

    width = 2 * int(tl.max(initial=0)) + 1
    rows = max(n_frames, 1)
    alpha = cuda.device_array((n_samples, rows, width), dtype=np.float64)
    beta = cuda.device_array(
        (n_samples, rows, width) if return_grad else (0, 1, 1), dtype=np.float64
    )
    lse = cuda.device_array((n_frames, n_samples) if from_logits else (1, 1), dtype=np.float64)
    if from_logits and n_frames * n_samples:
        blocks, threads = cs.launch_config(n_frames * n_samples)
        row_lse_kernel[blocks, threads](x3, lse)
    losses64 = cuda.device_array(n_samples, dtype=np.float64)
    terms = cuda.device_array(n_samples, dtype=np.float64)
    threads, max_blocks = cs.get_launch_config()
    blocks = max(1, min(n_samples, max_blocks))
    if n_samples:
        ctc_kernel[blocks, threads](
            x3,
            lse,
            cuda.to_device(labels),
            cuda.to_device(offsets),
            cuda.to_device(il),
            cuda.to_device(tl),
            blank,
            from_logits,
            zero_infinity,
            cuda.to_device(weights),
            gmul,
            alpha,
            beta,
            losses64,
            terms,
            grad3,
        )

    if reduction == "none":
        result = cs.device_loss_array(args, losses64, loss_shape, dtype)
    else:
        b, t = cs.launch_config(n_samples)
        partials = cuda.device_array(b, dtype=np.float64)
        cs.sum_kernel[b, t](terms, partials)
        divisor = 1.0 if reduction == "sum" or n_samples else 0.0
        result = cs.device_reduced_loss(args, partials, divisor, dtype)
    return cs.device_results(result, slots)


def _runner(cpu_function, from_logits):
    """Runs a CTC loss on device arrays, with ``cpu_function``'s signature."""
    cpu_function = inspect.unwrap(cpu_function)

    def run(*args, **kwargs):
        return _ctc(plans.Call.bind(cpu_function, from_logits, *args, **kwargs))

    return run


ctc_loss = cs.device_twin(losses.ctc_loss, _runner(losses.ctc_loss, False))
ctc_loss_from_logits = cs.device_twin(
    losses.ctc_loss_from_logits, _runner(losses.ctc_loss_from_logits, True)
)


def ptx_signatures():
    """``(kernel, argument types)`` of representative launches, for the offline PTX check."""
    from numba import types

    f64, i64, b1 = types.float64, types.int64, types.boolean
    for dt in (types.float32, f64):
        x = dt[:, :, ::1]
        i1 = i64[::1]
        yield row_lse_kernel, (x, f64[:, ::1])
        for grad in (types.none, x):
            yield (
                ctc_kernel,
                (
                    x,
                    f64[:, ::1],
                    i1,
                    i1,
                    i1,
                    i1,
                    i64,
                    b1,
                    b1,
                    f64[::1],
                    f64[::1],
                    f64[:, :, ::1],
                    f64[:, :, ::1],
                    f64[::1],
                    f64[::1],
                    grad,
                ),
            )
