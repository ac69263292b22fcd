"""Argument validation of the softmax family, shared by the CPU and CUDA back ends.

Each function takes a loss's own arguments (the public signature without the
gradient keywords) and an ``args`` coercer (:data:`HOST` on the CPU, a
:class:`numbaloss._core.cuda_support.DeviceArgs` on the GPU: ``args.array`` for the
logits and targets, ``args.option`` for the class weights, which may come from the
host), and returns a plan.  The checks, their order and their messages are the
same on both back ends; checks that need a pass over the data (class indices in
range) are made by each back end's kernels.
"""

import functools
from dataclasses import dataclass

import numpy as np

from .._core.chunking import DASK_ARGS, Chunking, Share, axis_labels
from .._core.validation import (
    check_index,
    check_real_scalar,
    check_reduction,
    compute_dtype,
    result_dtype,
)
from . import points


@dataclass
class ClassPlan:
    """One call of a loss over a class axis, validated.

    ``kind`` is ``'index'`` (cross entropy or focal loss with class indices,
    ``params`` a :class:`~.points.CrossEntropy` or :class:`~.points.Focal`), ``'prob'``
    (cross entropy with class probabilities) or ``'nll'``.  ``x`` are the logits
    (or log-probabilities), ``target`` the class indices (of shape ``loss_shape``)
    or probabilities (of the input's shape), ``weight`` the class weights as given
    (``None``: all 1).  ``n_classes``, ``loss_shape`` and ``rows`` describe the
    class axis (axis 1, or axis 0 of a 1-D input).
    """

    kind: str
    x: object
    target: object
    weight: object
    reduction: str
    n_classes: int
    loss_shape: tuple
    rows: int
    params: tuple = None
    ignore_index: int = -100
    label_smoothing: float = 0.0


def class_axis(x, name="input"):
    """``(n_classes, loss_shape, rows)`` of logits ``x``; ``ValueError`` for a scalar or C = 0."""
    if x.ndim == 0:
        raise ValueError(f"{name} must have at least one dimension (the classes); got a scalar")
    shape = tuple(x.shape)
    n_classes = shape[1] if len(shape) >= 2 else shape[0]
    loss_shape = (shape[0], *shape[2:]) if len(shape) >= 2 else ()
    rows = int(np.prod(loss_shape, dtype=np.int64))
    if n_classes == 0 and rows > 0:
        raise ValueError(f"{name} of shape {shape} has no classes (C = 0)")
    return n_classes, loss_shape, rows


def class_targets(args, target, x, loss_shape):
    """Class-index targets: integers of shape ``loss_shape`` (not yet range-checked)."""
    t = args.array(target, "target")
    if np.dtype(t.dtype).kind not in "iu":
        raise TypeError(f"target must hold integer class indices, got dtype {t.dtype}")
    if tuple(t.shape) != tuple(loss_shape):
        raise ValueError(
            f"target of shape {tuple(t.shape)} does not fit input of shape {tuple(x.shape)}: "
            f"class-index targets must have shape {tuple(loss_shape)}"
        )
    return t


def class_weight(args, weight, n_classes):
    """The class weights as given (host or device), shape ``(C,)`` checked; ``None`` stays."""
    if weight is None:
        return None
    w = args.option(weight, "weight")
    if tuple(w.shape) != (n_classes,):
        raise ValueError(
            f"weight must have one entry per class, shape ({n_classes},); got {tuple(w.shape)}"
        )
    return w


def _index_plan(args, params, x, target, weight, reduction):
    n_classes, loss_shape, rows = class_axis(x)
    t = class_targets(args, target, x, loss_shape)
    w = class_weight(args, weight, n_classes)
    return ClassPlan(
        "index",
        x,
        t,
        w,
        reduction,
        n_classes,
        loss_shape,
        rows,
        params,
        params.ignore_index,
        params.smoothing,
    )


def cross_entropy(
    args, input, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0
):
    check_reduction(reduction)
    ignore_index = check_index(ignore_index, "ignore_index")
    label_smoothing = check_real_scalar(label_smoothing, "label_smoothing")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be between 0.0 and 1.0, got {label_smoothing}")
    x = args.array(input, "input")
    n_classes, loss_shape, rows = class_axis(x)
    t = args.array(target, "target")
    if np.dtype(t.dtype).kind == "f":
        if tuple(t.shape) != tuple(x.shape):
            raise ValueError(_float_target_message(t, x, loss_shape))
        w = class_weight(args, weight, n_classes)
        return ClassPlan(
            "prob",
            x,
            t,
            w,
            reduction,
            n_classes,
            loss_shape,
            rows,
            None,
            ignore_index,
            label_smoothing,
        )
    return _index_plan(
        args, points.CrossEntropy(ignore_index, label_smoothing), x, t, weight, reduction
    )


def _float_target_message(t, x, loss_shape):
    """Why a floating ``target`` that is not of the input's shape is refused, and the fix."""
    shape, x_shape, loss_shape = tuple(t.shape), tuple(x.shape), tuple(loss_shape)
    if shape == loss_shape:
        return (
            f"target has dtype {t.dtype} and the shape {shape} of class indices, but class "
            f"indices must be integers (e.g. target.astype(np.int64)); a floating target "
            f"holds class probabilities, of the input's shape {x_shape}"
        )
    return (
        f"a floating target holds class probabilities and must have the input's shape "
        f"{x_shape}; got {shape} (class indices, of shape {loss_shape}, must be integers)"
    )


def focal_loss(args, input, target, gamma=2.0, weight=None, ignore_index=-100, reduction="mean"):
    gamma = check_real_scalar(gamma, "gamma", nonnegative=True)
    if gamma == 0:
        return cross_entropy(args, input, target, weight, ignore_index, reduction, 0.0)
    check_reduction(reduction)
    ignore_index = check_index(ignore_index, "ignore_index")
    x = args.array(input, "input")
    class_axis(x)
    return _index_plan(args, points.Focal(ignore_index, 0.0, gamma), x, target, weight, reduction)


def nll_loss(args, input, target, weight=None, ignore_index=-100, reduction="mean"):
    check_reduction(reduction)
    ignore_index = check_index(ignore_index, "ignore_index")
    x = args.array(input, "input")
    n_classes, loss_shape, rows = class_axis(x)
    t = class_targets(args, target, x, loss_shape)
    w = class_weight(args, weight, n_classes)
    return ClassPlan("nll", x, t, w, reduction, n_classes, loss_shape, rows, None, ignore_index)


@dataclass
class ZeroOnePlan:
    """``zero_one_loss``: scores ``(N, C)`` (``scores`` True) or labels ``(N)``."""

    x: object
    target: object
    reduction: str
    scores: bool


def zero_one_loss(args, input, target, reduction="mean", return_grad=False):
    if return_grad:
        raise ValueError(
            "zero_one_loss is piecewise constant and has no gradient; "
            "return_grad=True is not supported"
        )
    check_reduction(reduction)
    x = args.array(input, "input")
    t = args.array(target, "target")
    if x.ndim not in (1, 2):
        raise ValueError(f"input must be scores (N, C) or labels (N); got shape {tuple(x.shape)}")
    if tuple(t.shape) != tuple(x.shape[:1]):
        raise ValueError(
            f"target must have shape ({x.shape[0]},) for input of shape "
            f"{tuple(x.shape)}; got {tuple(t.shape)}"
        )
    if x.ndim == 2 and x.shape[1] == 0 and x.shape[0] > 0:
        raise ValueError("input scores have no classes (shape (N, 0))")
    return ZeroOnePlan(x, t, reduction, x.ndim == 2)


def primitive_axes(ndim, axis):
    """``(axes, dest)``: the reduced axes (normalized) and where they are moved (last)."""
    try:
        from numpy.lib.array_utils import normalize_axis_tuple  # NumPy 2
    except ImportError:  # NumPy 1.x
        from numpy.core.numeric import normalize_axis_tuple

    axes = tuple(range(ndim)) if axis is None else normalize_axis_tuple(axis, ndim)
    dest = tuple(range(ndim - len(axes), ndim))
    return axes, dest


# --- linear_cross_entropy ------------------------------------------------------------


@dataclass
class LinearPlan:
    """One call of ``linear_cross_entropy``, validated (shapes as PyTorch 2.13 checks them).

    ``x`` is the input as given (``(in_features)`` or ``(N, in_features)``),
    ``linear_weight`` of shape ``(C, d1, ..., dk, in_features)``, ``bias`` of shape
    ``(C, d1, ..., dk)`` or ``None``.  ``kind`` is ``'index'`` (class indices of shape
    ``loss_shape``) or ``'prob'`` (class probabilities of the logits' shape
    ``(N, C, d1, ..., dk)``, or ``(C)`` for a 1-D input).  ``rows`` is ``N`` (1 for a 1-D
    input) and ``positions`` the number of positions ``D = d1 * ... * dk`` (1 without
    ``out_features``): the cross entropy runs over ``rows * positions`` rows of ``C``
    logits.  ``chunk_size`` is the caller's (``None``: the back end's default).
    """

    kind: str
    x: object
    linear_weight: object
    target: object
    bias: object
    weight: object
    reduction: str
    ignore_index: int
    label_smoothing: float
    chunk_size: object
    rows: int
    in_features: int
    n_classes: int
    out_features: tuple
    loss_shape: tuple
    params: tuple = None

    @property
    def positions(self):
        return int(np.prod(self.out_features, dtype=np.int64))

    @property
    def logits_shape(self):
        batch = (self.rows,) if len(self.x.shape) == 2 else ()
        return (*batch, self.n_classes, *self.out_features)


def check_chunk_size(chunk_size):
    """``None`` or a positive integer number of rows."""
    if chunk_size is None:
        return None
    if isinstance(chunk_size, (bool, np.bool_)):
        raise TypeError(f"chunk_size must be a positive integer or None, got {chunk_size!r}")
    chunk_size = check_index(chunk_size, "chunk_size")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer or None, got {chunk_size}")
    return chunk_size


def linear_cross_entropy(
    args,
    input,
    linear_weight,
    target,
    linear_bias=None,
    weight=None,
    reduction="mean",
    ignore_index=None,
    label_smoothing=0.0,
    chunk_size=None,
):
    check_reduction(reduction)
    if ignore_index is not None:
        ignore_index = check_index(ignore_index, "ignore_index")
    label_smoothing = check_real_scalar(label_smoothing, "label_smoothing")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be between 0.0 and 1.0, got {label_smoothing}")
    chunk_size = check_chunk_size(chunk_size)
    x = args.array(input, "input")
    w = args.array(linear_weight, "linear_weight")
    x_shape, w_shape = tuple(x.shape), tuple(w.shape)
    if len(x_shape) not in (1, 2):
        raise ValueError(
            f"input must have shape (in_features) or (N, in_features); got {x_shape} "
            f"({len(x_shape)} dimensions)"
        )
    if len(w_shape) < 2:
        raise ValueError(
            f"linear_weight must have shape (C, in_features) or (C, d1, ..., dk, in_features); "
            f"got {w_shape}"
        )
    in_features = x_shape[-1]
    if w_shape[-1] != in_features:
        raise ValueError(
            f"input and linear_weight must have the same last dimension (in_features); "
            f"got input {x_shape} and linear_weight {w_shape}"
        )
    n_classes, out_features = w_shape[0], w_shape[1:-1]
    bias = None
    if linear_bias is not None:
        bias = args.option(linear_bias, "linear_bias")
        if tuple(bias.shape) != (n_classes, *out_features):
            raise ValueError(
                f"linear_bias must have shape {(n_classes, *out_features)} for linear_weight "
                f"{w_shape}; got {tuple(bias.shape)}"
            )
    if out_features and len(x_shape) == 1:
        raise ValueError(
            f"a K-dimensional loss (linear_weight {w_shape}) needs batched input "
            f"(N, {in_features}); got input {x_shape}"
        )
    batch = x_shape[:1] if len(x_shape) == 2 else ()
    rows = batch[0] if batch else 1
    loss_shape = (*batch, *out_features)
    logits_shape = (*batch, n_classes, *out_features)
    if n_classes == 0 and rows * int(np.prod(out_features, dtype=np.int64)) > 0:
        raise ValueError(f"linear_weight of shape {w_shape} has no classes (C = 0)")
    t = args.array(target, "target")
    t_shape, t_kind = tuple(t.shape), np.dtype(t.dtype).kind
    cw = class_weight(args, weight, n_classes)
    common = dict(
        x=x,
        linear_weight=w,
        target=t,
        bias=bias,
        weight=cw,
        reduction=reduction,
        label_smoothing=label_smoothing,
        chunk_size=chunk_size,
        rows=rows,
        in_features=in_features,
        n_classes=n_classes,
        out_features=out_features,
        loss_shape=loss_shape,
    )
    # As PyTorch: a target of the logits' shape holds class probabilities.
    if t_shape == logits_shape:
        if t_kind != "f":
            raise TypeError(
                f"target of the logits' shape {logits_shape} holds class probabilities and "
                f"must be floating; got dtype {t.dtype}"
            )
        if ignore_index is not None:
            raise ValueError("ignore_index cannot be given when target holds class probabilities")
        return LinearPlan("prob", ignore_index=-100, **common)
    if t_kind == "f":
        raise ValueError(
            f"class-probability target must have the logits' shape {logits_shape}; got {t_shape}"
        )
    if t_kind not in "iu":
        raise TypeError(f"target must hold integer class indices, got dtype {t.dtype}")
    if t_shape != loss_shape:
        raise ValueError(
            f"target of shape {t_shape} does not fit input {x_shape} and linear_weight "
            f"{w_shape}: class indices must have shape {loss_shape} (class probabilities "
            f"{logits_shape})"
        )
    ignore_index = -100 if ignore_index is None else ignore_index
    params = points.CrossEntropy(ignore_index, label_smoothing)
    return LinearPlan("index", ignore_index=ignore_index, params=params, **common)


# --- dask ------------------------------------------------------------------------------


def class_share(arguments, ignore_index, n_classes, cdtype):
    """The ``'mean'`` divisor share of a chunk of class-index targets: the summed weights
    (in the compute dtype, as the kernels read them) of the targets not ignored.

    Targets out of range count nothing here: the chunk's own call raises for them.
    """
    t = np.asarray(arguments["target"]).reshape(-1)
    keep = t != ignore_index
    weight = arguments.get("weight")
    if weight is None:
        return float(np.count_nonzero(keep & (t >= 0) & (t < n_classes)))
    t = t[keep & (t >= 0) & (t < n_classes)]
    w = np.asarray(weight).astype(cdtype).astype(np.float64)
    return float(np.sum(w[t], dtype=np.float64))


def _class_labels(ndim):
    """Labels of logits ``(C)``, ``(N, C)`` or ``(N, C, d1, ...)``: the classes are ``c``."""
    if ndim == 1:
        return ("c",)
    return ("n", "c", *(f"d{i}" for i in range(ndim - 2)))


def chunking(name, arguments):
    """How a call of ``name`` with dask arrays splits into chunks.

    The class axis is whole in every chunk (the softmax needs all of a row's
    classes); the other axes are cut as the input is.  ``'mean'`` divides by the
    number of rows (class probabilities, ``zero_one_loss``) or by the summed weight
    of the targets that are not ignored (class indices), summed from per-chunk
    shares of the targets.  ``softmax``, ``log_softmax`` and ``logsumexp`` have the
    axes they reduce whole.
    """
    options = {k: v for k, v in arguments.items() if k not in _GRADIENT_KEYWORDS}
    if "reduction" not in options:
        return _primitive_chunking(options)
    if name == "zero_one_loss":
        plan = zero_one_loss(DASK_ARGS, **options)
        x_labels = ("n", "c") if plan.scores else ("n",)
        return Chunking(
            {"input": x_labels, "target": ("n",)},
            ("n",),
            result_dtype(plan.x),
            whole=frozenset({"c"}),
            divisor=int(plan.x.shape[0]),
        )
    options.pop("return_grad", None)
    plan = globals()[name](DASK_ARGS, **options)
    if name == "linear_cross_entropy":
        return _linear_chunking(plan)
    x_labels = _class_labels(plan.x.ndim)
    loss = tuple(label for label in x_labels if label != "c")
    dtype = result_dtype(plan.x)
    arrays = {"input": x_labels, "target": x_labels if plan.kind == "prob" else loss}
    divisor = _target_divisor(plan, dtype, plan.rows)
    return Chunking(arrays, loss, dtype, whole=frozenset({"c"}), divisor=divisor)


def _target_divisor(plan, dtype, rows):
    """``'mean'``'s divisor: ``rows`` for class probabilities, else the summed weight of the
    targets that are not ignored, from per-chunk shares."""
    if plan.kind == "prob":
        return rows
    share = functools.partial(
        class_share,
        ignore_index=plan.ignore_index,
        n_classes=plan.n_classes,
        cdtype=compute_dtype(dtype),
    )
    return Share(share, ("target", "weight"))


def _linear_chunking(plan):
    """``linear_cross_entropy``: the input is cut by rows, the layer is whole in every chunk.

    Each chunk runs the in-memory chunked driver on its rows with the whole
    ``linear_weight`` (and ``linear_bias``); their gradients are the float64 sums of
    the chunks' (the labels ``c``, ``d0, ...`` and ``f`` are whole, so every chunk
    writes the same block of them).  The positions ``d0, ...`` of a K-dimensional
    weight are whole too: every chunk needs all of the weight.
    """
    positions = tuple(f"d{i}" for i in range(len(plan.out_features)))
    batch = ("n",) if len(plan.x.shape) == 2 else ()
    loss = (*batch, *positions)
    logits = (*batch, "c", *positions)
    arrays = {"input": (*batch, "f"), "linear_weight": ("c", *positions, "f")}
    if plan.bias is not None:
        arrays["linear_bias"] = ("c", *positions)
    arrays["target"] = logits if plan.kind == "prob" else loss
    dtype = result_dtype(plan.x, plan.linear_weight, *([] if plan.bias is None else [plan.bias]))
    return Chunking(
        arrays,
        loss,
        dtype,
        whole=frozenset({"c", "f", *positions}),
        divisor=_target_divisor(plan, dtype, plan.rows * plan.positions),
    )


_GRADIENT_KEYWORDS = ("grad_output", "grad_out", "return_hess", "hess_out")


def _primitive_chunking(options):
    """``softmax``, ``log_softmax`` (argument ``x``) and ``logsumexp`` (``a``, ``keepdims``)."""
    key = "x" if "x" in options else "a"
    x = DASK_ARGS.array(options[key], key)
    labels = axis_labels("p", x.ndim)
    axes, _ = primitive_axes(x.ndim, options.get("axis"))
    whole = frozenset(labels[a] for a in axes)
    if key == "x":
        return Chunking({key: labels}, labels, result_dtype(x), whole=whole)
    if options.get("keepdims"):
        out = tuple(f"k{i}" if i in axes else label for i, label in enumerate(labels))
        extents = {f"k{i}": 1 for i in axes}
    else:
        out = tuple(label for i, label in enumerate(labels) if i not in axes)
        extents = {}
    return Chunking({key: labels}, out, result_dtype(x), whole=whole, extents=extents)
