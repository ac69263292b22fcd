"""The CTC loss: validated wrappers around the alpha-beta kernels of :mod:`.cpu`."""

import numpy as np

from .._core import outputs, parallel
from .._core.driver import Operands
from .._core.registry import public
from .._core.validation import (
    HOST,
    compute_dtype,
    native,
    result_dtype,
)
from . import cpu, plans

_COMMON_DOC = """
    targets : array_like of int
        Either padded, ``(N, S)``, where row ``n`` holds the labels of sample
        ``n`` in its first ``target_lengths[n]`` entries and anything after
        them; or concatenated, 1-D with ``sum(target_lengths)`` entries.  For
        unbatched input ``N = 1``: ``(target_length,)`` or ``(1, S)``, as in
        PyTorch.  Labels lie in ``[0, C)`` and differ from ``blank``; no cap on
        the length.
    input_lengths : int or array_like of int
        Frames of each sample, ``0 <= input_lengths[n] <= T``; an int applies
        to every sample.
    target_lengths : int or array_like of int
        Labels of each sample, ``0 <= target_lengths[n]`` (and ``<= S`` when
        padded); an int applies to every sample.
    blank : int, optional
        The blank class, in ``[0, C)``.
    reduction : {'mean', 'sum', 'none'}, optional
        ``'none'``: the ``(N,)`` per-sample losses (a 0-d array for unbatched
        input); ``'sum'``: their sum; ``'mean'``: each loss divided by its target
        length clamped to 1, then the mean over the batch (PyTorch's rule).
    zero_infinity : bool, optional
        Replace infinite losses (samples with no possible alignment) by 0, and
        their gradients by 0.
    return_grad : bool, optional
        Also return the gradient of ``sum(grad_output * loss)`` with respect to
        ``{pred}``, from the same call.
    grad_output : scalar or array_like, optional
        Upstream gradient, broadcastable to the loss's shape; ``None`` means 1.
    grad_out : ndarray, optional
        Preallocated array (shape and result dtype of ``{pred}``) to write the
        gradient into; may be ``{pred}`` itself, for an in-place update.

    Returns
    -------
    loss : ndarray or NumPy scalar
        Of the result dtype (that of ``{pred}``; float64 for integer input).
    grad : ndarray
        Only with ``return_grad=True``: ``(loss, grad)`` is returned.

    Raises
    ------
    ValueError
        For shapes PyTorch rejects, negative lengths, lengths past the arrays,
        a concatenated ``targets`` whose size is not ``sum(target_lengths)``,
        ``blank`` outside ``[0, C)``, a label equal to ``blank`` or outside
        ``[0, C)`` (the message names the value and the sample), an unknown
        ``reduction``.
    TypeError
        For non-numeric ``{pred}``, or targets or lengths that are not integers.
"""


def _fill_doc(pred):
    def deco(func):
        common = _COMMON_DOC.replace("{pred}", pred).strip("\n")
        func.__doc__ = func.__doc__.replace("    {common_doc}", common)
        return func

    return deco


def _grad_scale(reduction, grad_output, loss_shape, n_samples, target_lengths):
    """The factor of each sample's gradient: grad_output and the reduction's weights."""
    if reduction == "none":
        if grad_output is None:
            return np.ones(n_samples)
        g = outputs.upstream_array(grad_output, loss_shape)
        return np.broadcast_to(g.astype(np.float64), loss_shape).reshape(n_samples).copy()
    g = outputs.upstream_scalar(grad_output)
    if reduction == "sum":
        return np.full(n_samples, g)
    return g / (n_samples * np.maximum(target_lengths, 1).astype(np.float64))


def _ctc(call):
    """Run one :class:`.plans.Call` on the CPU."""
    plan = plans.ctc(HOST, call)
    pred, from_logits = call.pred, call.from_logits
    grad_output, grad_out = call.grad_output, call.grad_out
    x = plan.x
    reduction, zero_infinity, return_grad = plan.reduction, plan.zero_infinity, plan.return_grad
    unbatched, blank = plan.unbatched, plan.blank
    n_frames, n_samples, n_classes = plan.n_frames, plan.n_samples, plan.n_classes
    il, tl, labels, offsets = plan.input_lengths, plan.target_lengths, plan.labels, plan.offsets
    # The kernel reads x as C-ordered (T, N, C) in the compute dtype; Operands of
    # that array (result dtype from x) lets a GradSlot write grad_out in place.
    data = np.ascontiguousarray(native(x, compute_dtype(result_dtype(x))))
    ops = Operands(data, [x])
    x3 = data.reshape(n_frames, n_samples, n_classes)

    loss_shape = () if unbatched else (n_samples,)
    target = None
    grad = None
    scale = np.empty(0)
    if return_grad:
        (target,) = outputs.grad_slots([pred], ops, grad_out, [data])
        grad = target.buffer.reshape(n_frames, n_samples, n_classes)
        scale = _grad_scale(reduction, grad_output, loss_shape, n_samples, tl)

    losses = np.empty(n_samples, dtype=np.float64)
    status = np.zeros(n_samples, dtype=np.int64)
    bad_labels = np.zeros(n_samples, dtype=np.int64)
    width = 2 * int(tl.max(initial=0)) + 1
    work = n_frames * (width + (n_classes if return_grad or from_logits else 0))
    parallel.run_ranges(
        cpu.run_sample_range,
        n_samples,
        work,
        x3,
        x3.dtype.type(0),
        labels,
        offsets,
        il,
        tl,
        blank,
        from_logits,
        zero_infinity,
        scale,
        losses,
        grad,
        status,
        bad_labels,
    )
    bad = np.flatnonzero(status != cpu.OK)
    if bad.size:
        i = bad[0]
        label = bad_labels[i]
        raise ValueError(plans.bad_label_message(label, i, blank, n_classes))

    dtype = ops.dtype
    if reduction == "none":
        loss = losses.astype(dtype).reshape(loss_shape)
    elif reduction == "sum":
        loss = outputs.scalar_loss(losses.sum(), reduction, dtype)
    else:
        mean = (losses / np.maximum(tl, 1)).sum() / n_samples if n_samples else np.nan
        loss = dtype.type(mean)
    return outputs.results(loss, [target] if return_grad else None)


@public
@_fill_doc("log_probs")
def ctc_loss(
    log_probs,
    targets,
    input_lengths,
    target_lengths,
    blank=0,
    reduction="mean",
    zero_infinity=False,
    *,
    return_grad=False,
    grad_output=None,
    grad_out=None,
):
    r"""Connectionist Temporal Classification loss.

    The negative log-likelihood of the target sequence under all alignments
    of the input frames to it (labels with blanks between and around them,
    each label or blank repeated over consecutive frames; a label repeated in
    the target needs a blank between its two alignments):

    .. math::

        \mathrm{loss}_n = -\log \sum_{\pi \in \mathcal{B}^{-1}(l_n)}
        \prod_{t < T_n} \exp(x_{t, n, \pi_t})

    computed in log space with the alpha (forward) and beta (backward)
    recursions, summed in float64 for every input dtype (for float32 input the
    exponentials and logarithms of each step are evaluated to float32
    accuracy; the loss stays within about 1e-8 relative of the float64 result
    even at T = 3000), with no cap on ``T`` or the target length.  Memory: the
    ``T_n x (2 L_n + 1)`` float64 alpha table of one sample per thread with
    ``return_grad=True``, two of its rows without.  A target with no
    alignment (too few frames for its labels and the blanks its repeats need)
    has loss ``inf``.

    Gradient: the true derivative of the loss with respect to ``log_probs``,
    minus the posterior occupancy of class ``c`` at frame ``t``:

    .. math::

        \frac{\partial\,\mathrm{loss}_n}{\partial x_{t,n,c}} =
        -\sum_{s:\, l'_s = c} \exp\bigl(\alpha_t(s) + \beta_t(s) + \mathrm{loss}_n\bigr)

    (0 for frames ``t >= input_lengths[n]``; NaN for the frames of a sample
    whose loss is ``inf``, as PyTorch gives, or 0 under ``zero_infinity``).

    Differences from PyTorch: PyTorch's ``ctc_loss`` returns, as the gradient
    "with respect to log_probs", ``G * (exp(log_probs) - occupancy)`` (``G`` the
    sample's upstream gradient), which is the gradient with respect to the
    logits under a log_softmax.  numbaloss returns the derivative that the
    function has (a finite-difference check confirms it); pushed through a
    log_softmax, ``grad - exp(log_probs) * grad.sum(-1, keepdims=True)``, it
    equals PyTorch's when ``log_probs`` is normalized.  For logits, use
    :func:`ctc_loss_from_logits`, which does that inside.  PyTorch does not
    check the labels (a label equal to ``blank`` or outside ``[0, C)`` gives
    an undefined result); numbaloss raises ``ValueError``.  An empty batch
    gives 0 (``'sum'``), NaN (``'mean'``) or an empty array (``'none'``) where
    PyTorch raises.

    Parameters
    ----------
    log_probs : array_like
        ``(T, N, C)`` or unbatched ``(T, C)``: log-probabilities of the ``C``
        classes at each frame (normally a log_softmax output; not checked).
        Read in place when C-contiguous in the compute dtype, else copied once.
    {common_doc}

    See Also
    --------
    ctc_loss_from_logits : the same loss of ``log_softmax(logits)``, with the
        gradient with respect to the logits.

    Examples
    --------
    >>> import numpy as np, numbaloss as nl
    >>> log_probs = np.log(np.full((3, 2), 0.5))   # T=3 frames, C=2 classes
    >>> loss, grad = nl.ctc_loss(log_probs, [1], 3, 1, reduction="sum", return_grad=True)
    >>> round(float(loss), 6)   # -log(6 paths * 0.5**3)
    0.287682
    >>> grad.round(4).tolist()
    [[-0.5, -0.5], [-0.3333, -0.6667], [-0.5, -0.5]]
    """
    return _ctc(plans.Call.of(locals(), from_logits=False))


@public
@_fill_doc("logits")
def ctc_loss_from_logits(
    logits,
    targets,
    input_lengths,
    target_lengths,
    blank=0,
    reduction="mean",
    zero_infinity=False,
    *,
    return_grad=False,
    grad_output=None,
    grad_out=None,
):
    r"""CTC loss of unnormalized activations, with the log_softmax fused in.

    ``ctc_loss_from_logits(z, ...)`` equals ``ctc_loss(log_softmax(z, axis=-1),
    ...)``; the log_softmax over the classes is applied inside the kernel (as
    warp-ctc does), so no ``(T, N, C)`` array of log-probabilities is made,
    and the gradient is with respect to the logits:

    .. math::

        \frac{\partial\,\mathrm{loss}_n}{\partial z_{t,n,c}} =
        \operatorname{softmax}(z_{t,n})_c -
        \sum_{s:\, l'_s = c} \exp\bigl(\alpha_t(s) + \beta_t(s) + \mathrm{loss}_n\bigr)

    for ``t < input_lengths[n]`` and 0 after.  This is what PyTorch's
    ``ctc_loss(log_softmax(z), ...)`` gives through autograd (see
    :func:`ctc_loss` for the formula of the loss and its options).

    Parameters
    ----------
    logits : array_like
        ``(T, N, C)`` or unbatched ``(T, C)`` unnormalized activations.
    {common_doc}

    Examples
    --------
    >>> import numpy as np, numbaloss as nl
    >>> logits = np.zeros((3, 2))   # uniform over C=2 classes
    >>> loss, grad = nl.ctc_loss_from_logits(logits, [1], 3, 1, reduction="sum",
    ...                                      return_grad=True)
    >>> round(float(loss), 6)
    0.287682
    >>> grad.round(4).tolist()
    [[0.0, 0.0], [0.1667, -0.1667], [0.0, 0.0]]
    """
    return _ctc(plans.Call.of(locals(), from_logits=True))
