"""Argument validation of the elementwise losses, shared by the CPU and CUDA back ends.

Each function here takes a loss's own arguments (the public signature without the
gradient keywords) and returns a :class:`Plan`: the parameter tuple of the loss
(:mod:`.points`), its operands in kernel slot order and what the reduction divides by.
Both back ends run the same plans: :mod:`.losses` on NumPy arrays, :mod:`.cuda` on
device arrays.  ``args`` coerces arrays for the back end: :data:`HOST` (NumPy) or a
:class:`numbaloss._core.cuda_support.DeviceArgs`; ``args.array`` is used for the large
arrays, ``args.option`` for small options that may come from the host on the GPU.
"""

from dataclasses import dataclass

import numpy as np

from .._core.chunking import DASK_ARGS, Chunking, Share, axis_labels, right_aligned, size
from .._core.traits import UNIT
from .._core.validation import (
    check_bool,
    check_real_scalar,
    check_reduction,
    check_same_shape,
    result_dtype,
)
from . import points


@dataclass
class Plan:
    """One elementwise call, validated.

    ``operands`` fill the kernel slots ``a, b, c, d`` in order: arrays (of the
    input's shape or broadcastable to it) or :data:`~numbaloss._core.traits.UNIT` (an
    absent weight, which the kernels skip at compile time); the
    remaining slots are zeros.  ``dtype_from`` are the arrays that set the result
    dtype.  ``reduction`` is ``'none'``, ``'mean'`` or ``'sum'`` (``'batchmean'``
    arrives as ``'mean'`` with its ``divisor``).  ``divisor`` is what ``'mean'``
    divides by (``None``: the number of elements); ``mean_weight`` an array whose
    sum is the divisor (weighted means).  ``grad_slots`` say which kernel gradient
    outputs (0 = ``dloss/da``, 1 = ``dloss/db``) belong to ``grad_names``.
    ``grad_b_shape`` is set when the second prediction was broadcast: its gradient
    is summed back to that shape.
    """

    params: tuple
    first: object
    operands: list
    dtype_from: list
    reduction: str
    grad_names: tuple = ("input",)
    grad_slots: tuple = (0,)
    divisor: float = None
    mean_weight: object = None
    domain_error: str = None
    grad_b_shape: tuple = None


def _input_target(args, input, target, names=("input", "target")):
    x = args.array(input, names[0])
    t = args.array(target, names[1])
    check_same_shape(list(names), [x, t])
    return x, t


def _pointwise(params, x, t, reduction, extra=(), allowed=("none", "mean", "sum"), **kwargs):
    check_reduction(reduction, allowed)
    present = [e for e in extra if e is not None]
    return Plan(
        params,
        x,
        [x, t, *(UNIT if e is None else e for e in extra)],
        [x, t, *present],
        "mean" if reduction == "batchmean" else reduction,
        **kwargs,
    )


def _check_weight(args, weight, x, name="weight"):
    if weight is None:
        return None
    w = args.option(weight, name)
    if tuple(w.shape) != tuple(x.shape):
        raise ValueError(
            f"{name} must have the same shape as input; got {name} {tuple(w.shape)}, input {tuple(x.shape)}"
        )
    return w


def _broadcast_weight(args, weight, shape, name):
    if weight is None:
        return None
    w = args.option(weight, name)
    try:
        full = np.broadcast_shapes(tuple(w.shape), tuple(shape))
    except ValueError:
        full = None
    if full != tuple(shape):
        raise ValueError(
            f"{name} of shape {tuple(w.shape)} cannot be broadcast to the input shape {tuple(shape)}"
        )
    return w


def l1_loss(args, input, target, reduction="mean", weight=None):
    x, t = _input_target(args, input, target)
    w = _check_weight(args, weight, x)
    return _pointwise(points.L1(), x, t, reduction, extra=(w,), mean_weight=w)


def mse_loss(args, input, target, reduction="mean", weight=None):
    x, t = _input_target(args, input, target)
    w = _check_weight(args, weight, x)
    return _pointwise(points.MSE(), x, t, reduction, extra=(w,), mean_weight=w)


def smooth_l1_loss(args, input, target, reduction="mean", beta=1.0):
    x, t = _input_target(args, input, target)
    beta = check_real_scalar(beta, "beta", nonnegative=True)
    params = points.L1() if beta == 0 else points.SmoothL1(beta)
    return _pointwise(params, x, t, reduction, extra=(None,))


def huber_loss(args, input, target, reduction="mean", delta=1.0, weight=None):
    x, t = _input_target(args, input, target)
    delta = check_real_scalar(delta, "delta", positive=True)
    w = _check_weight(args, weight, x)
    return _pointwise(points.Huber(delta), x, t, reduction, extra=(w,))


def soft_margin_loss(args, input, target, reduction="mean"):
    x, t = _input_target(args, input, target)
    return _pointwise(points.SoftMargin(), x, t, reduction)


def binary_cross_entropy(args, input, target, weight=None, reduction="mean"):
    x, t = _input_target(args, input, target)
    w = _broadcast_weight(args, weight, x.shape, "weight")
    return _pointwise(
        points.BCE(),
        x,
        t,
        reduction,
        extra=(w,),
        domain_error="all elements of input should be between 0 and 1",
    )


def binary_cross_entropy_with_logits(
    args, input, target, weight=None, reduction="mean", pos_weight=None
):
    x, t = _input_target(args, input, target)
    w = _broadcast_weight(args, weight, x.shape, "weight")
    pw = _broadcast_weight(args, pos_weight, x.shape, "pos_weight")
    return _pointwise(points.BCEWithLogits(), x, t, reduction, extra=(w, pw))


def poisson_nll_loss(args, input, target, log_input=True, full=False, eps=1e-8, reduction="mean"):
    x, t = _input_target(args, input, target)
    params = points.PoissonNLL(
        check_bool(log_input, "log_input"), check_bool(full, "full"), check_real_scalar(eps, "eps")
    )
    return _pointwise(params, x, t, reduction)


def gaussian_nll_loss(args, input, target, var, full=False, eps=1e-6, reduction="mean"):
    check_reduction(reduction)
    x, t = _input_target(args, input, target)
    var_given_as_float = isinstance(var, (int, float)) and not isinstance(var, bool)
    v = args.option(var, "var")
    caller_shape = () if var_given_as_float else tuple(v.shape)
    v_full_shape = _gaussian_var_shape(tuple(v.shape), tuple(x.shape), var_given_as_float)
    if v_full_shape != tuple(v.shape):
        v = v.reshape(v_full_shape)
    params = points.GaussianNLL(check_bool(full, "full"), check_real_scalar(eps, "eps"))
    # The gradient of var comes back in var's own shape wherever that differs from the
    # input's, also for a var of the input's shape without a last axis of length 1.
    broadcast = caller_shape != tuple(x.shape)
    return Plan(
        params,
        x,
        [x, t, v],
        [x, t, v],
        reduction,
        grad_names=("input", "var"),
        grad_slots=(0, 1),
        domain_error="var has negative entry/entries",
        grad_b_shape=caller_shape if broadcast else None,
    )


def _gaussian_var_shape(vshape, shape, as_float):
    """The shape ``var`` takes to broadcast to ``shape`` as PyTorch's rules allow."""
    if as_float or vshape == shape:
        return vshape
    if vshape == shape[:-1]:
        return (*vshape, 1)
    if len(vshape) == len(shape) and sum(s for s, xs in zip(vshape, shape) if s != xs) == 1:
        return vshape
    raise ValueError(f"var is of incorrect size: var {vshape} for input {shape}")


def kl_div(args, input, target, reduction="mean", log_target=False):
    x, t = _input_target(args, input, target)
    check_reduction(reduction, ("none", "batchmean", "mean", "sum"))
    divisor = None
    if reduction == "batchmean":
        divisor = x.shape[0] if x.ndim else 1
    return _pointwise(
        points.KLDiv(check_bool(log_target, "log_target")),
        x,
        t,
        reduction,
        divisor=divisor,
        allowed=("none", "batchmean", "mean", "sum"),
    )


def margin_ranking_loss(args, input1, input2, target, margin=0.0, reduction="mean"):
    check_reduction(reduction)
    x1 = args.array(input1, "input1")
    x2 = args.array(input2, "input2")
    y = args.array(target, "target")
    check_same_shape(["input1", "input2", "target"], [x1, x2, y])
    params = points.MarginRanking(check_real_scalar(margin, "margin"))
    return Plan(
        params,
        x1,
        [x1, x2, y],
        [x1, x2, y],
        reduction,
        grad_names=("input1", "input2"),
        grad_slots=(0, 1),
    )


def hinge_embedding_loss(args, input, target, margin=1.0, reduction="mean"):
    x, t = _input_target(args, input, target)
    return _pointwise(points.HingeEmbedding(check_real_scalar(margin, "margin")), x, t, reduction)


def sigmoid_focal_loss(args, inputs, targets, alpha=0.25, gamma=2.0, reduction="none"):
    """torchvision's sigmoid focal loss."""
    check_reduction(reduction)
    x = args.array(inputs, "inputs")
    y = args.array(targets, "targets")
    check_same_shape(["inputs", "targets"], [x, y])
    alpha = check_real_scalar(alpha, "alpha")
    gamma = check_real_scalar(gamma, "gamma", nonnegative=True)
    params = points.SigmoidFocalSquare(alpha) if gamma == 2 else points.SigmoidFocal(alpha, gamma)
    return Plan(params, x, [x, y], [x, y], reduction, grad_names=("inputs",))


# --- dask ------------------------------------------------------------------------------


def _var_labels(vshape, shape, labels):
    """The axis labels of ``var`` (see :func:`_gaussian_var_shape`): a ``var`` without the
    input's last axis lines up with the leading axes, anything else from the right."""
    if len(vshape) == len(shape) - 1 and vshape == shape[:-1] and vshape != shape:
        return labels[:-1]
    return right_aligned(labels, len(vshape))


def _weight_share(arguments):
    """A weighted mean's divisor share: the chunk's summed weights."""
    return float(np.sum(arguments["weight"], dtype=np.float64))


def chunking(name, arguments):
    """How a call of the elementwise loss ``name`` with dask arrays splits into chunks.

    Every array argument is cut like the input (those broadcast to it, such as
    ``weight``, ``pos_weight`` or ``gaussian_nll_loss``'s ``var``, along the axes they
    have), and ``'mean'`` divides by the number of elements, the batch size
    (``'batchmean'``) or the summed weights (weighted ``l1_loss``/``mse_loss``).
    """
    options = {k: v for k, v in arguments.items() if k not in _GRADIENT_KEYWORDS}
    plan = globals()[name](DASK_ARGS, **options)
    x = plan.first
    shape = tuple(x.shape)
    labels = axis_labels("e", len(shape))
    arrays = {}
    for key, value in options.items():
        if value is None or isinstance(value, (str, bool, int, float, np.generic)):
            continue
        vshape = tuple(np.shape(value)) if not hasattr(value, "shape") else tuple(value.shape)
        arrays[key] = (
            _var_labels(vshape, shape, labels)
            if key == "var"
            else right_aligned(labels, len(vshape))
        )
    if plan.mean_weight is not None:
        divisor = Share(_weight_share, ("weight",))
    elif plan.divisor is not None:
        divisor = plan.divisor
    else:
        divisor = size(shape)
    return Chunking(arrays, labels, result_dtype(*plan.dtype_from), divisor=divisor)


_GRADIENT_KEYWORDS = ("return_grad", "grad_output", "grad_out")
