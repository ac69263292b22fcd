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
    x = args.array(input, "input")
    shape = tuple(x.shape)
    t = args.array(target, "target")
    if tuple(t.shape) != shape and not _one_axis_of_size_one(tuple(t.shape), shape):
        raise ValueError(
            f"target of shape {tuple(t.shape)} does not fit input of shape {shape}: target "
            "must have the input's shape, or that shape with one axis of size 1"
        )
    v = args.option(var, "var")
    caller_shape = tuple(v.shape)
    v_full_shape = _gaussian_var_shape(caller_shape, shape)
    if v_full_shape != caller_shape:
        v = v.reshape(v_full_shape)
    params = points.GaussianNLL(check_bool(full, "full"), check_real_scalar(eps, "eps"))
    # The gradient of var comes back in var's own shape wherever that differs from the
    # input's: also for a var of the input's shape without a last axis of length 1, which
    # is reshaped to the input's shape above (a dask chunk one column wide meets it).
    broadcast = caller_shape != shape
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


def _one_axis_of_size_one(shape, full):
    """``shape`` is ``full`` with exactly one axis, of another size there, set to 1."""
    if len(shape) != len(full):
        return False
    differ = [s for s, f in zip(shape, full) if s != f]
    return differ == [1]


def _gaussian_var_shape(vshape, shape):
    """The shape ``var`` takes to broadcast to the input's ``shape``.

    The forms of ``GaussianNLLLoss``'s documentation, checked in PyTorch's order: the
    input's shape; a scalar (a number or a 0-d array); the input's shape without its
    last axis, which ``var`` is given back (one variance per row of the last axis); the
    input's shape with one axis of size 1.
    """
    if vshape == shape or vshape == ():
        return vshape
    if vshape == shape[:-1]:
        return (*vshape, 1)
    if _one_axis_of_size_one(vshape, shape):
        return vshape
    raise ValueError(
        f"var is of incorrect size: var {vshape} for input {shape}; var must have the "
        "input's shape, that shape with one axis of size 1 or without its last axis, "
        "or be a scalar"
    )


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
    # torchvision weights by alpha_t only for alpha >= 0; a negative alpha is its way to
    # switch the weighting off.  Above 1, 1 - alpha < 0 would give negative losses.
    if not (alpha < 0 or 0 <= alpha <= 1):
        raise ValueError(
            f"alpha must be in [0, 1] (the weight of the positive class), or negative to "
            f"switch the weighting off; got {alpha}"
        )
    gamma = check_real_scalar(gamma, "gamma", nonnegative=True)
    params = points.SigmoidFocalSquare(alpha) if gamma == 2 else points.SigmoidFocal(alpha, gamma)
    return Plan(params, x, [x, y], [x, y], reduction, grad_names=("inputs",))


# --- regression objectives of the gradient-boosting libraries -----------------------------


def _check_open_unit(value, name):
    value = check_real_scalar(value, name)
    if not 0 < value < 1:
        raise ValueError(f"{name} must be in the open interval (0, 1), got {value}")
    return value


def _check_finite_positive(value, name):
    value = check_real_scalar(value, name, positive=True)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    return value


def pseudo_huber_loss(args, input, target, delta=1.0, reduction="mean"):
    x, t = _input_target(args, input, target)
    params = points.PseudoHuber(_check_finite_positive(delta, "delta"))
    return _pointwise(params, x, t, reduction)


def quantile_loss(args, input, target, quantile=0.5, reduction="mean"):
    x, t = _input_target(args, input, target)
    return _pointwise(points.Quantile(_check_open_unit(quantile, "quantile")), x, t, reduction)


def expectile_loss(args, input, target, expectile=0.5, reduction="mean"):
    x, t = _input_target(args, input, target)
    return _pointwise(points.Expectile(_check_open_unit(expectile, "expectile")), x, t, reduction)


def log_cosh_loss(args, input, target, reduction="mean"):
    x, t = _input_target(args, input, target)
    return _pointwise(points.LogCosh(), x, t, reduction)


def _mean_domain(log_input):
    return "" if log_input else " and input > 0 (the mean, log_input=False)"


def tweedie_loss(args, input, target, power=1.5, log_input=True, full=False, reduction="mean"):
    x, t = _input_target(args, input, target)
    power = check_real_scalar(power, "power")
    if not 1 <= power <= 2:
        raise ValueError(f"power must be in [1, 2], got {power}")
    log_input = check_bool(log_input, "log_input")
    full = check_bool(full, "full")
    if power == 2:
        params = points.Gamma(log_input, full)
        target_domain = "target > 0"
    else:
        target_domain = "target >= 0"
        if power == 1:
            params = points.TweediePoisson(log_input, full)
        else:
            params = points.Tweedie(power, log_input, full)
    return _pointwise(
        params,
        x,
        t,
        reduction,
        domain_error=f"tweedie_loss with power={power:g} needs {target_domain}"
        + _mean_domain(log_input),
    )


def gamma_loss(args, input, target, log_input=True, full=False, reduction="mean"):
    x, t = _input_target(args, input, target)
    log_input = check_bool(log_input, "log_input")
    params = points.Gamma(log_input, check_bool(full, "full"))
    return _pointwise(
        params,
        x,
        t,
        reduction,
        domain_error="gamma_loss needs target > 0" + _mean_domain(log_input),
    )


def squared_log_error_loss(args, input, target, reduction="mean"):
    x, t = _input_target(args, input, target)
    return _pointwise(
        points.SquaredLogError(),
        x,
        t,
        reduction,
        domain_error="squared_log_error_loss needs input > -1 and target > -1",
    )


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


_GRADIENT_KEYWORDS = ("return_grad", "grad_output", "grad_out", "return_hess", "hess_out")
