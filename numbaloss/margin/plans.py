"""Argument validation of the margin family, shared by the CPU and CUDA back ends.

Each function takes a loss's own arguments (the public signature without the
gradient keywords) and an ``args`` coercer (:data:`HOST` on the CPU, a
:class:`numbaloss._core.cuda_support.DeviceArgs` on the GPU: ``args.array`` for the
scores and targets, ``args.option`` for the class weights, which may come from the
host), and returns a plan.  The checks, their order and their messages are the
same on both back ends; checks that need a pass over the data (class indices in
range) are made by each back end's kernels.
"""

import numbers
from dataclasses import dataclass

import numpy as np

from .._core.chunking import DASK_ARGS, Chunking
from .._core.validation import (
    check_bool,
    check_broadcastable,
    check_real_scalar,
    check_reduction,
    check_same_shape,
    result_dtype,
)

__all__ = [
    "RowPlan",
    "multi_margin_loss",
    "multilabel_soft_margin_loss",
    "multilabel_margin_loss",
    "PairPlan",
    "cosine_embedding_loss",
    "chunking",
]


@dataclass
class RowPlan:
    """One call of a row loss, validated.

    ``x`` are the scores as given (``(N, C)`` or ``(C,)``), ``target`` the class
    indices, ``weight`` the per-class weights as given (``None``: all 1);
    ``n_rows``/``width`` the rows and their width, ``loss_shape`` PyTorch's
    unreduced shape, ``dtype_from`` the arrays that decide the result dtype.
    """

    x: object
    target: object
    weight: object
    reduction: str
    n_rows: int
    width: int
    loss_shape: tuple
    dtype_from: list
    squared: bool = False
    margin: float = 1.0


def class_indices(args, target, name="target"):
    """``target`` as an array of integer class indices; ``TypeError`` otherwise."""
    t = args.array(target, name)
    if np.dtype(t.dtype).kind not in "iu":
        raise TypeError(f"{name} must hold integer class indices, got dtype {t.dtype}")
    return t


def scores_and_rows(x, name="input"):
    """``(n_rows, n_classes)`` of ``(N, C)`` or unbatched ``(C,)`` scores; C must not be 0.

    A 0-d ``x`` is one row of one class, as PyTorch takes it.
    """
    shape = tuple(x.shape)
    if x.ndim > 2 or (x.ndim and shape[-1] == 0):
        raise ValueError(
            f"{name} must be a non-empty vector (C,) or a matrix (N, C) with C > 0, or a "
            f"0-d scalar; got shape {tuple(x.shape)}"
        )
    if x.ndim == 0:
        return 1, 1
    return (shape[0] if x.ndim == 2 else 1), shape[-1]


def multi_margin_loss(args, input, target, p=1, margin=1.0, weight=None, reduction="mean"):
    """The :class:`RowPlan` of :func:`numbaloss.multi_margin_loss`."""
    x = args.array(input, "input")
    t = class_indices(args, target)
    check_reduction(reduction)
    if isinstance(p, (bool, np.bool_)) or not isinstance(p, numbers.Real) or p not in (1, 2):
        raise ValueError(f"p must be 1 or 2, got {p!r}")
    margin = check_real_scalar(margin, "margin")
    n_rows, n_classes = scores_and_rows(x)
    if x.ndim == 2:
        fits = tuple(t.shape) == (n_rows,)
        loss_shape = (n_rows,)
    else:
        fits = tuple(t.shape) in ((), (1,))
        loss_shape = tuple(t.shape)
    if not fits:
        raise ValueError(
            f"target must hold one class index per row of input: input {tuple(x.shape)}, "
            f"target {tuple(t.shape)}"
        )
    w = class_weight(args, weight, n_classes)
    return RowPlan(
        x, t, w, reduction, n_rows, n_classes, loss_shape,
        [x] if w is None else [x, w], squared=p == 2, margin=margin,
    )  # fmt: skip


def class_weight(args, weight, n_classes, name="weight"):
    """``weight`` as given (host or device), checked to be ``(C,)``; ``None`` stays."""
    if weight is None:
        return None
    w = args.option(weight, name)
    if w.ndim != 1 or tuple(w.shape)[0] != n_classes:
        raise ValueError(
            f"{name} must be one-dimensional with one entry per class ({n_classes}); "
            f"got shape {tuple(w.shape)}"
        )
    return w


def multilabel_soft_margin_loss(args, input, target, weight=None, reduction="mean"):
    """The :class:`RowPlan` of :func:`numbaloss.multilabel_soft_margin_loss`."""
    x = args.array(input, "input")
    y = args.array(target, "target")
    check_reduction(reduction)
    if x.ndim == 0:
        raise ValueError("input must have a class axis (its last axis); got a 0-d array")
    check_same_shape(["input", "target"], [x, y])
    shape = tuple(x.shape)
    n_classes = shape[-1]
    w = None
    if weight is not None:
        # PyTorch multiplies the elementwise losses by ``weight``: any shape that
        # broadcasts to the input's (without enlarging it) is a weight.
        w = args.option(weight, "weight")
        check_broadcastable("weight", w, "input", shape)
    loss_shape = shape[:-1]
    n_rows = int(np.prod(loss_shape, dtype=np.int64))
    dtype_from = [x, y] if w is None else [x, y, w]
    return RowPlan(x, y, w, reduction, n_rows, n_classes, loss_shape, dtype_from)


def weight_per_row(weight):
    """Whether a weight (checked to broadcast to the scores) differs between rows (has
    an axis before the last of size other than 1), or is one per class for every row."""
    return any(s != 1 for s in tuple(weight.shape)[:-1])


@dataclass
class PairPlan:
    """One call of :func:`numbaloss.cosine_embedding_loss`, validated."""

    x1: object
    x2: object
    target: object
    margin: float
    reduction: str
    n_rows: int
    width: int
    loss_shape: tuple
    dtype_from: list


def cosine_embedding_loss(args, input1, input2, target, margin=0.0, reduction="mean"):
    """The :class:`PairPlan` of :func:`numbaloss.cosine_embedding_loss`."""
    x1 = args.array(input1, "input1")
    x2 = args.array(input2, "input2")
    t = args.array(target, "target")
    check_reduction(reduction)
    margin = check_real_scalar(margin, "margin")
    if t.ndim == 1:
        if x1.ndim != 2 or x2.ndim != 2:
            raise ValueError(
                f"a 1-D target expects 2-D inputs; got input1 {tuple(x1.shape)}, "
                f"input2 {tuple(x2.shape)}, target {tuple(t.shape)}"
            )
    elif t.ndim == 0:
        if x1.ndim != 1 or x2.ndim != 1:
            raise ValueError(
                f"a 0-d target expects 1-D inputs; got input1 {tuple(x1.shape)}, "
                f"input2 {tuple(x2.shape)}"
            )
    else:
        raise ValueError(f"target must be 0-d or 1-D (one entry per pair); got {tuple(t.shape)}")
    check_same_shape(["input1", "input2"], [x1, x2])
    shape = tuple(x1.shape)
    n_rows = shape[0] if x1.ndim == 2 else 1
    if t.size != n_rows:
        raise ValueError(
            f"target must have one entry per row of input1: input1 {shape}, target {tuple(t.shape)}"
        )
    return PairPlan(x1, x2, t, margin, reduction, n_rows, shape[-1], tuple(t.shape), [x1, x2])


def multilabel_margin_loss(args, input, target, reduction="mean"):
    """The :class:`RowPlan` of :func:`numbaloss.multilabel_margin_loss`."""
    x = args.array(input, "input")
    t = class_indices(args, target)
    check_reduction(reduction)
    n_rows, n_classes = scores_and_rows(x)
    # (an unbatched row's target may also be 0-d or (1,) for one class, as in PyTorch)
    unbatched_fits = x.ndim <= 1 and t.ndim <= 1 and t.size == n_classes
    if tuple(t.shape) != tuple(x.shape) and not unbatched_fits:
        raise ValueError(
            f"target must have the shape of input; got input {tuple(x.shape)}, "
            f"target {tuple(t.shape)}"
        )
    loss_shape = (n_rows,) if x.ndim == 2 else ()
    return RowPlan(x, t, None, reduction, n_rows, n_classes, loss_shape, [x])


TRIPLET = ("anchor", "positive", "negative")


@dataclass
class TripletPlan:
    """One call of a triplet loss, validated: the three inputs as given and the options."""

    arrays: list
    margin: float
    swap: bool
    reduction: str
    n_rows: int
    width: int
    loss_shape: tuple
    dtype_from: list


def triplet(args, anchor, positive, negative, margin, swap, reduction, return_grad):
    """The :class:`TripletPlan` of the options the triplet losses share."""
    arrays = [args.array(v, n) for v, n in zip((anchor, positive, negative), TRIPLET)]
    check_reduction(reduction)
    margin = check_real_scalar(margin, "margin")
    if not margin > 0:
        raise ValueError(f"margin must be greater than 0, got {margin}")
    swap = check_bool(swap, "swap")
    check_bool(return_grad, "return_grad")
    dims = [a.ndim for a in arrays]
    if len(set(dims)) != 1:
        raise ValueError(
            "anchor, positive and negative must have the same number of dimensions; got "
            + ", ".join(f"{n} {tuple(a.shape)}" for n, a in zip(TRIPLET, arrays))
        )
    if dims[0] == 0:
        raise ValueError("anchor, positive and negative must be embeddings (D,) or (N, D); got 0-d")
    widths = {tuple(a.shape)[-1] for a in arrays}
    if len(widths) != 1:
        raise ValueError(
            "anchor, positive and negative must have the same embedding width (last axis); got "
            + ", ".join(f"{n} {tuple(a.shape)}" for n, a in zip(TRIPLET, arrays))
        )
    check_same_shape(list(TRIPLET), arrays)
    shape = tuple(arrays[0].shape)
    loss_shape = shape[:-1]
    n_rows = int(np.prod(loss_shape, dtype=np.int64))
    return TripletPlan(arrays, margin, swap, reduction, n_rows, shape[-1], loss_shape, arrays)


def pnorm(p, eps):
    """``(p, eps)`` of :func:`numbaloss.triplet_margin_loss`, checked."""
    p = check_real_scalar(p, "p")
    if not p > 0:
        raise ValueError(f"p must be positive, got {p}")
    return p, check_real_scalar(eps, "eps")


# --- dask ------------------------------------------------------------------------------


def _row_labels(ndim, last):
    """Labels of ``(..., width)`` rows: the leading axes ``r0, r1, ...``, then ``last``."""
    return (*(f"r{i}" for i in range(ndim - 1)), last) if ndim else ()


def chunking(name, arguments):
    """How a call of the margin loss ``name`` with dask arrays splits into chunks.

    Each row (its classes, or an embedding's features) is whole in every chunk;
    the rows are cut as the first input is.  ``'mean'`` divides by the number of
    rows.
    """
    options = {k: v for k, v in arguments.items() if k not in ("grad_output", "grad_out")}
    return_grad = options.pop("return_grad", False)
    if name.startswith("triplet"):
        plan = triplet(
            DASK_ARGS,
            options["anchor"],
            options["positive"],
            options["negative"],
            options["margin"],
            options["swap"],
            options["reduction"],
            return_grad,
        )
        if "p" in options:
            pnorm(options["p"], options["eps"])
        labels = _row_labels(len(plan.arrays[0].shape), "w")
        arrays = dict.fromkeys(TRIPLET, labels)
    elif name == "cosine_embedding_loss":
        plan = cosine_embedding_loss(DASK_ARGS, **options)
        labels = _row_labels(len(plan.x1.shape), "w")
        arrays = {"input1": labels, "input2": labels, "target": labels[:-1]}
    else:
        plan = globals()[name](DASK_ARGS, **options)
        labels = _row_labels(len(plan.x.shape), "w")
        target = labels
        if name == "multi_margin_loss":
            # one class index per row; an unbatched row's target may be () or (1,)
            target = labels[:-1] if len(labels) == 2 else ("u",) * len(plan.target.shape)
        arrays = {"input": labels, "target": target}
    loss = tuple(label for label in labels if label != "w")
    if name == "multi_margin_loss" and len(labels) == 1:
        loss = arrays["target"]
    return Chunking(
        arrays,
        loss,
        result_dtype(*plan.dtype_from),
        whole=frozenset({"w", "u"}),
        divisor=plan.n_rows,
    )
