"""Argument validation of the CTC losses, shared by the CPU and CUDA back ends.

:func:`ctc` takes a loss's own arguments (without the gradient keywords) and an
``args`` coercer, :data:`HOST` (NumPy) on the CPU or a
:class:`numbaloss._core.cuda_support.DeviceArgs` on the GPU, and returns a
:class:`Plan`.  The predictions go through ``args.array`` (on the device for the
GPU); ``targets`` and the lengths through ``args.option`` and are then validated on
the host (they are small; a device one is copied back, which synchronises).  The
labels' values (equal to ``blank``, outside ``[0, C)``) are checked by each back
end: in the CPU kernel, on the host copy for CUDA, with the same message
(:func:`bad_label_message`).
"""

import functools
import inspect
from collections import namedtuple
from dataclasses import dataclass

import numpy as np

from .._core.chunking import DASK_ARGS, Chunking, is_dask_array
from .._core.validation import as_array, check_bool, check_index, check_reduction, result_dtype


@dataclass
class Plan:
    """One CTC call, validated.

    ``x`` is the predictions as given (``(T, N, C)`` or unbatched ``(T, C)``),
    ``labels`` all labels as one flat int64 host array and ``offsets`` where each
    sample's start; ``input_lengths`` and ``target_lengths`` int64 ``(N,)`` host
    arrays.
    """

    x: object
    reduction: str
    zero_infinity: bool
    return_grad: bool
    unbatched: bool
    n_frames: int
    n_samples: int
    n_classes: int
    blank: int
    input_lengths: np.ndarray
    target_lengths: np.ndarray
    labels: np.ndarray
    offsets: np.ndarray

    @property
    def loss_shape(self):
        return () if self.unbatched else (self.n_samples,)


class Call(
    namedtuple(
        "Call",
        "pred x targets input_lengths target_lengths blank reduction zero_infinity "
        "return_grad grad_output grad_out from_logits",
    )
):
    """The arguments of one call of ``ctc_loss`` or ``ctc_loss_from_logits``.

    ``pred`` is the name of the first argument (``'log_probs'`` or ``'logits'``) and
    ``x`` its value; both back ends take a call as this one tuple.
    """

    @classmethod
    def of(cls, arguments, from_logits):
        """The call from a public function's arguments by name, in signature order
        (its ``locals()`` on entry)."""
        arguments = dict(arguments)
        pred = next(iter(arguments))
        return cls(pred, arguments.pop(pred), from_logits=from_logits, **arguments)

    @classmethod
    def bind(cls, function, from_logits, *args, **kwargs):
        """The call ``function(*args, **kwargs)``, with ``function``'s defaults."""
        bound = inspect.signature(function).bind(*args, **kwargs)
        bound.apply_defaults()
        return cls.of(bound.arguments, from_logits)


def _host(args, value, name):
    arr = args.option(value, name)
    return arr.copy_to_host() if hasattr(arr, "copy_to_host") else arr


def _integers(value, name):
    arr = as_array(value, name)
    if arr.size == 0:  # an empty list is float64 to NumPy
        return arr.astype(np.int64)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold integers, got dtype {arr.dtype}")
    return arr


def _lengths(value, name, n_samples, unbatched):
    arr = _integers(value, name)
    if arr.ndim == 0 or (unbatched and arr.shape == (1,)):
        arr = np.broadcast_to(arr.reshape(()), (n_samples,))
    elif arr.shape != (n_samples,) or unbatched:
        expected = "a scalar or shape (1,)" if unbatched else f"a scalar or shape ({n_samples},)"
        raise ValueError(f"{name} must be {expected}, got shape {arr.shape}")
    lengths = np.array(arr, dtype=np.int64)
    negative = np.flatnonzero(lengths < 0)
    if negative.size:
        i = negative[0]
        raise ValueError(f"{name} must be non-negative, got {lengths[i]} for sample {i}")
    return lengths


def _labels(targets, target_lengths, n_samples):
    """The labels as one flat int64 array and the offset of each sample's labels."""
    tg = _integers(targets, "targets")
    if tg.ndim == 2:
        if tg.shape[0] != n_samples:
            raise ValueError(
                f"padded targets must have shape (N, S) with N = {n_samples}, got shape {tg.shape}"
            )
        width = tg.shape[1]
        too_long = np.flatnonzero(target_lengths > width)
        if too_long.size:
            i = too_long[0]
            raise ValueError(
                f"target_lengths must be at most the padded targets' length S = {width}, "
                f"got {target_lengths[i]} for sample {i}"
            )
        offsets = np.arange(n_samples, dtype=np.int64) * width
    elif tg.ndim == 1:
        total = int(target_lengths.sum())
        if tg.size != total:
            raise ValueError(
                f"concatenated targets must have sum(target_lengths) = {total} entries, "
                f"got {tg.size}"
            )
        offsets = np.zeros(n_samples, dtype=np.int64)
        np.cumsum(target_lengths[:-1], out=offsets[1:])
    else:
        raise ValueError(f"targets must be padded (N, S) or concatenated 1-D, got shape {tg.shape}")
    return np.ascontiguousarray(tg, dtype=np.int64).reshape(-1), offsets


def _batch_first_hint(pred, shape):
    """The hint for lengths that fit a batch-first ``(N, T, C)`` reading of ``shape``."""
    return (
        f"{pred} is (T, N, C), time first, as in PyTorch; the lengths fit a batch-first "
        f"(N, T, C) reading of its shape {shape}: pass {pred}.transpose(1, 0, 2) "
        f"(np.swapaxes({pred}, 0, 1))"
    )


def bad_label_message(label, sample, blank, n_classes):
    """The ``ValueError`` message of a label equal to ``blank`` or outside ``[0, C)``."""
    what = "equal to blank" if label == blank else f"outside [0, C) = [0, {n_classes})"
    return f"targets: label {label} of sample {sample} is {what}"


def ctc(args, call):
    """Validate one :class:`Call` of ``ctc_loss``/``ctc_loss_from_logits``."""
    pred = call.pred
    x = args.array(call.x, pred)
    shape = tuple(x.shape)
    if len(shape) not in (2, 3):
        raise ValueError(f"{pred} must be (T, N, C) or unbatched (T, C), got shape {shape}")
    reduction = check_reduction(call.reduction)
    zero_infinity = check_bool(call.zero_infinity, "zero_infinity")
    return_grad = check_bool(call.return_grad, "return_grad")
    unbatched = len(shape) == 2
    n_frames, n_classes = shape[0], shape[-1]
    n_samples = 1 if unbatched else shape[1]
    blank = check_index(call.blank, "blank")
    if not 0 <= blank < n_classes:
        raise ValueError(f"blank must be in [0, C) = [0, {n_classes}), got {blank}")
    il_given = _host(args, call.input_lengths, "input_lengths")
    try:
        il = _lengths(il_given, "input_lengths", n_samples, unbatched)
    except ValueError as exc:
        if not unbatched and np.shape(il_given) == (shape[0],) and shape[0] != shape[1]:
            raise ValueError(f"{exc}; {_batch_first_hint(pred, shape)}") from None
        raise
    tl = _lengths(
        _host(args, call.target_lengths, "target_lengths"), "target_lengths", n_samples, unbatched
    )
    too_long = np.flatnonzero(il > n_frames)
    if too_long.size:
        i = too_long[0]
        message = f"input_lengths must be at most T = {n_frames}, got {il[i]} for sample {i}"
        if not unbatched and il.max() <= shape[1]:
            message += f"; {_batch_first_hint(pred, shape)}"
        raise ValueError(message)
    labels, offsets = _labels(_host(args, call.targets, "targets"), tl, n_samples)
    return Plan(
        x,
        reduction,
        zero_infinity,
        return_grad,
        unbatched,
        n_frames,
        n_samples,
        n_classes,
        blank,
        il,
        tl,
        labels,
        offsets,
    )


# --- dask ------------------------------------------------------------------------------


def _sample_lengths(value, n_samples):
    """Per-sample lengths as given (an int or ``(N,)``), as an int64 ``(N,)`` array."""
    arr = np.asarray(value)
    if arr.ndim == 0:
        return np.broadcast_to(arr.reshape(()), (n_samples,)).astype(np.int64)
    return arr.astype(np.int64)


def slice_samples(arguments, spans, n_samples):
    """A chunk's arguments: the targets and lengths of the chunk's samples.

    The chunk's samples are ``spans["n"]``; padded targets are cut by row,
    concatenated ones at the offsets that the lengths of all samples give.
    """
    if "n" not in spans:  # unbatched: one chunk
        return arguments
    start, stop = spans["n"]
    out = dict(arguments)
    lengths = _sample_lengths(arguments["target_lengths"], n_samples)
    for key in ("input_lengths", "target_lengths"):
        if np.ndim(arguments[key]) != 0:
            out[key] = np.asarray(arguments[key])[start:stop]
    targets = np.asarray(arguments["targets"])
    if targets.ndim == 2:
        out["targets"] = targets[start:stop]
    else:
        offsets = np.concatenate(([0], np.cumsum(lengths)))
        out["targets"] = targets[offsets[start] : offsets[stop]]
    return out


def clamped_lengths(arguments):
    """``'mean'``'s per-sample divisors of a chunk: its target lengths clamped to 1."""
    lengths = np.asarray(arguments["target_lengths"], dtype=np.int64)
    return np.maximum(lengths, 1).astype(np.float64)


def chunking(name, arguments):
    """How a CTC call with dask arrays splits into chunks: by samples.

    The time and class axes are whole in every chunk (the alpha-beta recursion runs
    over all of a sample's frames and the log_softmax over its classes); targets and
    lengths are passed whole and cut to the chunk's samples inside its task.
    ``'mean'`` divides each sample's loss by its clamped target length and the sum
    by the number of samples.
    """
    pred = "log_probs" if "log_probs" in arguments else "logits"
    x = DASK_ARGS.array(arguments[pred], pred)
    meta = [arguments[k] for k in ("targets", "input_lengths", "target_lengths")]
    if any(is_dask_array(m) for m in meta):
        # Their values are not known yet: the shape checks now, the rest in the chunks.
        shape = tuple(x.shape)
        if len(shape) not in (2, 3):
            raise ValueError(f"{pred} must be (T, N, C) or unbatched (T, C), got shape {shape}")
        check_reduction(arguments["reduction"])
        check_bool(arguments["zero_infinity"], "zero_infinity")
        blank = check_index(arguments["blank"], "blank")
        if not 0 <= blank < shape[-1]:
            raise ValueError(f"blank must be in [0, C) = [0, {shape[-1]}), got {blank}")
        n_samples = 1 if len(shape) == 2 else shape[1]
    else:
        plan = ctc(DASK_ARGS, Call.of(arguments, from_logits=pred == "logits"))
        n_samples = plan.n_samples
    labels = ("t", "c") if x.ndim == 2 else ("t", "n", "c")
    return Chunking(
        {pred: labels},
        () if x.ndim == 2 else ("n",),
        result_dtype(x),
        whole=frozenset({"t", "c"}),
        divisor=n_samples,
        row_divisors=clamped_lengths,
        per_chunk=functools.partial(slice_samples, n_samples=n_samples),
    )
