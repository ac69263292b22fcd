"""The elementwise losses: one value per element, fused value and gradient.

Every function takes array_like arguments and returns NumPy results (see the
package docs for the common keywords ``reduction``, ``return_grad``,
``grad_output`` and ``grad_out``).
"""

import numpy as np

from .._core.dispatch import on_device
from .._core.driver import Operands, run_elementwise
from .._core.validation import (
    as_array,
    check_bool,
    check_real_scalar,
    check_reduction,
    check_same_shape,
)
from . import cpu

_GRAD_DOC = """
    return_grad : bool, optional
        Also return the gradient of ``sum(grad_output * loss)`` with respect to
        {preds}, from the same fused pass.
    grad_output : scalar or array_like, optional
        Upstream gradient, broadcastable to the loss's shape; ``None`` means 1.
    grad_out : ndarray{s}, optional
        Preallocated array{s} (shape and result dtype of {preds}) to write the
        gradient into; may be the prediction itself, for an in-place update.

    Returns
    -------
    loss : ndarray or NumPy scalar
        ``reduction='none'``: an array of the input's shape; otherwise a scalar of
        the result dtype (NumPy's ``result_type`` of the floating inputs).
    grad : ndarray{s}
        Only with ``return_grad=True``: ``(loss, grad)`` is returned.
"""


def _grad_doc(preds):
    many = "," in preds
    return _GRAD_DOC.format(preds=preds, s=" or tuple" if many else "")


def _fill_doc(func):
    """Put the common keywords' docs where ``{grad_doc}`` stands, at that line's indentation."""
    # _GRAD_DOC is written at four spaces, as are the docstrings' bodies
    block = _grad_doc(func._preds).strip("\n")
    func.__doc__ = func.__doc__.replace("    {grad_doc}\n", block + "\n\n")
    return func


def _doc(preds):
    def deco(func):
        func._preds = preds
        return _fill_doc(func)

    return deco


def _input_target(input, target, names=("input", "target")):
    x = as_array(input, names[0])
    t = as_array(target, names[1])
    check_same_shape(list(names), [x, t])
    return x, t


def _pointwise(
    params,
    x,
    t,
    *,
    extra=(),
    reduction,
    return_grad,
    grad_output,
    grad_out,
    divisor=None,
    domain_error=None,
    allowed=("none", "mean", "sum"),
):
    """Run a loss of one prediction ``x`` against ``t`` (and ``extra`` operands)."""
    check_reduction(reduction, allowed)
    ops = Operands(x, [x, t, *(e for e in extra if e is not None)])
    operands = [ops.flat(x), ops.flat(t)]
    operands += [ops.flat(e) if e is not None else ops.cdtype.type(1) for e in extra]
    return run_elementwise(
        cpu.run_block_range,
        params,
        ops,
        operands,
        reduction="mean" if reduction == "batchmean" else reduction,
        return_grad=return_grad,
        grad_output=grad_output,
        grad_out=grad_out,
        grad_names=["input"],
        divisor=divisor,
        domain_error=domain_error,
    )


def _check_weight(weight, x, name="weight"):
    if weight is None:
        return None
    w = as_array(weight, name)
    if w.shape != x.shape:
        raise ValueError(
            f"{name} must have the same shape as input; got {name} {w.shape}, input {x.shape}"
        )
    return w


def _weight_sum(w, x):
    return None if w is None else float(np.sum(w, dtype=np.float64))


@on_device("elementwise")
@_doc("input")
def l1_loss(
    input,
    target,
    reduction="mean",
    weight=None,
    *,
    return_grad=False,
    grad_output=None,
    grad_out=None,
):
    r"""Mean absolute error.

    .. math:: \ell_i = w_i \lvert x_i - y_i \rvert, \qquad
              \partial \ell_i / \partial x_i = w_i \operatorname{sign}(x_i - y_i)

    with ``sign(0) = 0`` (PyTorch's subgradient).

    Parameters
    ----------
    input, target : array_like
        Predictions and targets, of one shape.
    reduction : {'mean', 'sum', 'none'}, optional
        ``'mean'`` divides by the number of elements, or with ``weight`` by the
        sum of the weights (as PyTorch does).
    weight : array_like, optional
        Per-element weights of the input's shape.
    {grad_doc}
    Examples
    --------
    >>> import numbaloss as nl
    >>> loss, grad = nl.l1_loss([1.0, 2.0, 4.0], [1.5, 2.0, 3.0], return_grad=True)
    >>> float(loss), grad.tolist()
    (0.5, [-0.3333333333333333, 0.0, 0.3333333333333333])
    """
    x, t = _input_target(input, target)
    w = _check_weight(weight, x)
    return _pointwise(
        cpu.L1(),
        x,
        t,
        extra=(w,),
        reduction=reduction,
        return_grad=return_grad,
        grad_output=grad_output,
        grad_out=grad_out,
        divisor=_weight_sum(w, x),
    )


@on_device("elementwise")
@_doc("input")
def mse_loss(
    input,
    target,
    reduction="mean",
    weight=None,
    *,
    return_grad=False,
    grad_output=None,
    grad_out=None,
):
    r"""Mean squared error.

    .. math:: \ell_i = w_i (x_i - y_i)^2, \qquad
              \partial \ell_i / \partial x_i = 2 w_i (x_i - y_i)

    Parameters
    ----------
    input, target : array_like
        Predictions and targets, of one shape.
    reduction : {'mean', 'sum', 'none'}, optional
        ``'mean'`` divides by the number of elements, or with ``weight`` by the
        sum of the weights (as PyTorch does).
    weight : array_like, optional
        Per-element weights of the input's shape.
    {grad_doc}
    Examples
    --------
    >>> import numbaloss as nl
    >>> float(nl.mse_loss([1.0, 2.0], [0.0, 4.0]))
    2.5
    """
    x, t = _input_target(input, target)
    w = _check_weight(weight, x)
    return _pointwise(
        cpu.MSE(),
        x,
        t,
        extra=(w,),
        reduction=reduction,
        return_grad=return_grad,
        grad_output=grad_output,
        grad_out=grad_out,
        divisor=_weight_sum(w, x),
    )


@on_device("elementwise")
@_doc("input")
def smooth_l1_loss(
    input, target, reduction="mean", beta=1.0, *, return_grad=False, grad_output=None, grad_out=None
):
    r"""Smooth L1 loss: quadratic below ``beta``, linear above.

    .. math:: \ell_i = \begin{cases} 0.5 d_i^2 / \beta & |d_i| < \beta \\
              |d_i| - 0.5 \beta & \text{otherwise} \end{cases}, \quad d_i = x_i - y_i

    The gradient is :math:`d_i / \beta` inside and :math:`\operatorname{sign}(d_i)`
    outside.  ``beta=0`` is exactly :func:`l1_loss` (finite gradients, no 0/0).
    ``huber_loss(delta=b) == b * smooth_l1_loss(beta=b)``.

    Parameters
    ----------
    input, target : array_like
        Predictions and targets, of one shape.
    reduction : {'mean', 'sum', 'none'}, optional
        How the per-element losses are combined (``'mean'`` divides by their number).
    beta : float, optional
        Non-negative threshold; ``ValueError`` if negative.
    {grad_doc}
    Examples
    --------
    >>> import numbaloss as nl
    >>> float(nl.smooth_l1_loss([0.5, 3.0], [0.0, 0.0]))
    1.3125
    """
    x, t = _input_target(input, target)
    beta = check_real_scalar(beta, "beta", nonnegative=True)
    params = cpu.L1() if beta == 0 else cpu.SmoothL1(beta)
    return _pointwise(
        params,
        x,
        t,
        extra=(None,),
        reduction=reduction,
        return_grad=return_grad,
        grad_output=grad_output,
        grad_out=grad_out,
    )


@on_device("elementwise")
@_doc("input")
def huber_loss(
    input,
    target,
    reduction="mean",
    delta=1.0,
    weight=None,
    *,
    return_grad=False,
    grad_output=None,
    grad_out=None,
):
    r"""Huber loss: quadratic below ``delta``, ``delta``-scaled linear above.

    .. math:: \ell_i = w_i \begin{cases} 0.5 d_i^2 & |d_i| < \delta \\
              \delta (|d_i| - 0.5 \delta) & \text{otherwise} \end{cases}

    The gradient is :math:`w_i \operatorname{clip}(d_i, -\delta, \delta)`.

    Parameters
    ----------
    input, target : array_like
        Predictions and targets, of one shape.
    reduction : {'mean', 'sum', 'none'}, optional
        With ``weight``, ``'mean'`` divides by the number of elements (PyTorch's
        convention for this loss, unlike ``l1_loss``/``mse_loss``).
    delta : float, optional
        Positive threshold; ``ValueError`` otherwise.
    weight : array_like, optional
        Per-element weights of the input's shape.
    {grad_doc}
    Examples
    --------
    >>> import numbaloss as nl
    >>> float(nl.huber_loss([0.5, 3.0], [0.0, 0.0], delta=2.0))
    2.0625
    """
    x, t = _input_target(input, target)
    delta = check_real_scalar(delta, "delta", positive=True)
    w = _check_weight(weight, x)
    return _pointwise(
        cpu.Huber(delta),
        x,
        t,
        extra=(w,),
        reduction=reduction,
        return_grad=return_grad,
        grad_output=grad_output,
        grad_out=grad_out,
    )


@on_device("elementwise")
@_doc("input")
def soft_margin_loss(
    input, target, reduction="mean", *, return_grad=False, grad_output=None, grad_out=None
):
    r"""Two-class logistic loss with targets :math:`y \in \{-1, 1\}`.

    .. math:: \ell_i = \log(1 + e^{-y_i x_i}), \qquad
              \partial \ell_i / \partial x_i = -y_i \, \sigma(-y_i x_i)

    Computed as a softplus, so it stays finite where PyTorch's ``log1p(exp(.))``
    overflows to inf (and its gradient to NaN) for :math:`-y x \gtrsim 89` in float32.

    Parameters
    ----------
    input, target : array_like
        Scores and targets (usually +-1), of one shape.
    reduction : {'mean', 'sum', 'none'}, optional
        How the per-element losses are combined (``'mean'`` divides by their number).
    {grad_doc}
    Examples
    --------
    >>> import numbaloss as nl
    >>> round(float(nl.soft_margin_loss([2.0, -1.0], [1.0, -1.0])), 6)
    0.220095
    """
    x, t = _input_target(input, target)
    return _pointwise(
        cpu.SoftMargin(),
        x,
        t,
        reduction=reduction,
        return_grad=return_grad,
        grad_output=grad_output,
        grad_out=grad_out,
    )


def _broadcast_weight(weight, shape, name):
    if weight is None:
        return None
    w = as_array(weight, name)
    try:
        full = np.broadcast_shapes(w.shape, shape)
    except ValueError:
        full = None
    if full != tuple(shape):
        raise ValueError(
            f"{name} of shape {tuple(w.shape)} cannot be broadcast to the input shape {tuple(shape)}"
        )
    return w


@on_device("elementwise")
@_doc("input")
def binary_cross_entropy(
    input,
    target,
    weight=None,
    reduction="mean",
    *,
    return_grad=False,
    grad_output=None,
    grad_out=None,
):
    r"""Binary cross entropy between probabilities ``input`` and ``target``.

    .. math:: \ell_i = -w_i \left[ y_i \max(\log x_i, -100)
              + (1 - y_i) \max(\log(1 - x_i), -100) \right]

    The logs are clamped at -100 as in PyTorch, so ``x = 0`` or ``1`` gives a
    finite loss.  The gradient is the derivative of this clamped function,
    :math:`w_i(-y_i/x_i + (1-y_i)/(1-x_i))`, each term dropped where its log is
    clamped.  PyTorch instead returns :math:`w_i (x_i - y_i)/\max(x_i(1-x_i), 10^{-12})`;
    the two agree wherever neither log is clamped.

    Parameters
    ----------
    input : array_like
        Probabilities in [0, 1]; ``ValueError`` for values outside (NaN propagates).
    target : array_like
        Targets of the input's shape (usually in [0, 1]).
    weight : array_like, optional
        Rescaling weight broadcastable to the input's shape.
    reduction : {'mean', 'sum', 'none'}, optional
        How the per-element losses are combined (``'mean'`` divides by their number).
    {grad_doc}
    Examples
    --------
    >>> import numbaloss as nl
    >>> round(float(nl.binary_cross_entropy([0.9, 0.2], [1.0, 0.0])), 6)
    0.164252
    """
    x, t = _input_target(input, target)
    w = _broadcast_weight(weight, x.shape, "weight")
    return _pointwise(
        cpu.BCE(),
        x,
        t,
        extra=(w,),
        reduction=reduction,
        return_grad=return_grad,
        grad_output=grad_output,
        grad_out=grad_out,
        domain_error="all elements of input should be between 0 and 1",
    )


@on_device("elementwise")
@_doc("input")
def binary_cross_entropy_with_logits(
    input,
    target,
    weight=None,
    reduction="mean",
    pos_weight=None,
    *,
    return_grad=False,
    grad_output=None,
    grad_out=None,
):
    r"""Binary cross entropy on logits, stable for any magnitude.

    .. math:: \ell_i = w_i \left[ (1 - y_i) x_i + (1 + (p_i - 1) y_i)
              \operatorname{softplus}(-x_i) \right]

    .. math:: \partial \ell_i / \partial x_i = w_i \left[ (1 - y_i)
              - (1 + (p_i - 1) y_i) \, \sigma(-x_i) \right]

    where :math:`p` is ``pos_weight`` (1 when not given).

    Parameters
    ----------
    input : array_like
        Logits.
    target : array_like
        Targets of the input's shape.
    weight : array_like, optional
        Rescaling weight broadcastable to the input's shape.
    reduction : {'mean', 'sum', 'none'}, optional
        How the per-element losses are combined (``'mean'`` divides by their number).
    pos_weight : array_like, optional
        Weight of positive examples, broadcastable to the input's shape (usually
        one per class, along the last axis).
    {grad_doc}
    Examples
    --------
    >>> import numbaloss as nl
    >>> round(float(nl.binary_cross_entropy_with_logits([2.0, -1.0], [1.0, 0.0])), 6)
    0.220095
    """
    x, t = _input_target(input, target)
    w = _broadcast_weight(weight, x.shape, "weight")
    pw = _broadcast_weight(pos_weight, x.shape, "pos_weight")
    return _pointwise(
        cpu.BCEWithLogits(),
        x,
        t,
        extra=(w, pw),
        reduction=reduction,
        return_grad=return_grad,
        grad_output=grad_output,
        grad_out=grad_out,
    )


@on_device("elementwise")
@_doc("input")
def poisson_nll_loss(
    input,
    target,
    log_input=True,
    full=False,
    eps=1e-8,
    reduction="mean",
    *,
    return_grad=False,
    grad_output=None,
    grad_out=None,
):
    r"""Negative log likelihood of a Poisson distribution.

    With ``log_input=True``: :math:`\ell_i = e^{x_i} - y_i x_i`, gradient
    :math:`e^{x_i} - y_i`.  With ``log_input=False``:
    :math:`\ell_i = x_i - y_i \log(x_i + \epsilon)`, gradient
    :math:`1 - y_i / (x_i + \epsilon)`.  ``full=True`` adds Stirling's term
    :math:`y \log y - y + \tfrac12 \log(2\pi y)` where :math:`y > 1` (no gradient).

    Parameters
    ----------
    input : array_like
        Log-rates (``log_input=True``) or rates.
    target : array_like
        Counts, of the input's shape.
    log_input : bool, optional
        ``True``: ``input`` holds log-rates; ``False``: rates.
    full : bool, optional
        Add Stirling's approximation of :math:`\log y!` (constant in ``input``).
    eps : float, optional
        Added to the rate before its log when ``log_input=False``.
    reduction : {'mean', 'sum', 'none'}, optional
        How the per-element losses are combined (``'mean'`` divides by their number).
    {grad_doc}
    Examples
    --------
    >>> import numbaloss as nl
    >>> round(float(nl.poisson_nll_loss([0.0, 1.0], [1.0, 2.0])), 6)
    0.859141
    """
    x, t = _input_target(input, target)
    params = cpu.PoissonNLL(
        check_bool(log_input, "log_input"), check_bool(full, "full"), check_real_scalar(eps, "eps")
    )
    return _pointwise(
        params,
        x,
        t,
        reduction=reduction,
        return_grad=return_grad,
        grad_output=grad_output,
        grad_out=grad_out,
    )


@on_device("elementwise")
@_doc("input, var")
def gaussian_nll_loss(
    input,
    target,
    var,
    full=False,
    eps=1e-6,
    reduction="mean",
    *,
    return_grad=False,
    grad_output=None,
    grad_out=None,
):
    r"""Negative log likelihood of a Gaussian with predicted mean and variance.

    .. math:: \ell_i = \tfrac12 \left( \log v_i + (x_i - y_i)^2 / v_i \right)
              [+ \tfrac12 \log 2\pi], \qquad v_i = \max(\mathrm{var}_i, \epsilon)

    Gradients: :math:`(x_i - y_i)/v_i` for the input and
    :math:`\tfrac12 (1/v_i - (x_i - y_i)^2 / v_i^2)` for ``var`` where
    ``var >= eps``, and 0 where the clamp is active.  (PyTorch clamps under
    ``no_grad`` and so passes the unclamped formula's gradient through there.)
    A ``var`` broadcast along axes (homoscedastic) gets its gradient summed over them.

    Parameters
    ----------
    input, target : array_like
        Means and observations, of one shape.
    var : array_like or float
        Variances: the input's shape, the input's shape without its last axis,
        or the input's shape with one axis of size 1 (PyTorch's rules).
        Negative entries raise ``ValueError``.
    full : bool, optional
        Add the constant :math:`\tfrac12 \log 2\pi`.
    eps : float, optional
        Lower clamp of the variance.
    reduction : {'mean', 'sum', 'none'}, optional
        How the per-element losses are combined (``'mean'`` divides by their number).
    {grad_doc}
    Examples
    --------
    >>> import numbaloss as nl
    >>> round(float(nl.gaussian_nll_loss([0.0, 1.0], [0.5, 1.0], [1.0, 2.0])), 6)
    0.235787
    """
    check_reduction(reduction)
    x, t = _input_target(input, target)
    var_given_as_float = isinstance(var, (int, float)) and not isinstance(var, bool)
    v = as_array(var, "var")
    v_full = _gaussian_var_shape(v, x.shape, var_given_as_float)
    params = cpu.GaussianNLL(check_bool(full, "full"), check_real_scalar(eps, "eps"))
    ops = Operands(x, [x, t, v])
    operands = [ops.flat(x), ops.flat(t), ops.flat(v_full)]
    broadcast_var = v_full.shape != x.shape or isinstance(operands[2], np.generic)
    names = ["input", "var"]
    outs = [None, None]
    if return_grad and grad_out is not None:
        if not isinstance(grad_out, (tuple, list)) or len(grad_out) != 2:
            raise ValueError("grad_out must be a tuple of 2 arrays, for input, var")
        outs = list(grad_out)
    result = run_elementwise(
        cpu.run_block_range,
        params,
        ops,
        operands,
        reduction=reduction,
        return_grad=return_grad,
        grad_output=grad_output,
        grad_out=(outs[0], None if broadcast_var else outs[1]),
        grad_names=names,
        grad_slots=(0, 1),
        domain_error="var has negative entry/entries",
    )
    if not return_grad:
        return result
    loss, (gx, gv) = result
    if broadcast_var:
        gv = _sum_to_shape(gv, v.shape if not var_given_as_float else ())
        gv = np.asarray(gv, dtype=ops.dtype)
        if outs[1] is not None:
            np.copyto(outs[1], gv.reshape(outs[1].shape))
            gv = outs[1]
    return loss, (gx, gv)


def _gaussian_var_shape(v, shape, as_float):
    """``v`` reshaped so that it broadcasts to ``shape`` as PyTorch's rules allow."""
    if as_float or v.shape == tuple(shape):
        return v
    if v.shape == tuple(shape[:-1]):
        return v[..., None]
    if v.ndim == len(shape) and sum(s for s, xs in zip(v.shape, shape) if s != xs) == 1:
        return v
    raise ValueError(f"var is of incorrect size: var {tuple(v.shape)} for input {tuple(shape)}")


def _sum_to_shape(g, shape):
    """Sum the gradient of a broadcast operand back to the operand's shape."""
    if g.shape == tuple(shape):
        return g
    if len(shape) == 0:
        return g.sum(dtype=np.float64)
    if len(shape) == g.ndim - 1:  # var given without the last axis
        return g.sum(axis=-1, dtype=np.float64)
    axes = tuple(i for i, (s, gs) in enumerate(zip(shape, g.shape)) if s != gs)
    return g.sum(axis=axes, keepdims=True, dtype=np.float64)


@on_device("elementwise")
@_doc("input")
def kl_div(
    input,
    target,
    reduction="mean",
    log_target=False,
    *,
    return_grad=False,
    grad_output=None,
    grad_out=None,
):
    r"""Kullback-Leibler divergence, with ``input`` given as log-probabilities.

    .. math:: \ell_i = y_i (\log y_i - x_i) \quad (0 \text{ where } y_i = 0), \qquad
              \partial \ell_i / \partial x_i = -y_i

    With ``log_target=True`` the target is a log-probability:
    :math:`\ell_i = e^{y_i}(y_i - x_i)`, gradient :math:`-e^{y_i}`.

    Parameters
    ----------
    input : array_like
        Log-probabilities.
    target : array_like
        Probabilities (or log-probabilities), of the input's shape.
    reduction : {'mean', 'batchmean', 'sum', 'none'}, optional
        ``'batchmean'`` divides the sum by ``input.shape[0]`` (the KL divergence
        proper); ``'mean'`` divides by the number of elements, as PyTorch does.
    log_target : bool, optional
        ``target`` holds log-probabilities.
    {grad_doc}
    Examples
    --------
    >>> import numpy as np, numbaloss as nl
    >>> p = np.log([0.5, 0.5]); q = np.array([0.9, 0.1])
    >>> round(float(nl.kl_div(p, q, reduction="sum")), 6)
    0.368064
    """
    x, t = _input_target(input, target)
    check_reduction(reduction, ("none", "batchmean", "mean", "sum"))
    divisor = None
    if reduction == "batchmean":
        divisor = x.shape[0] if x.ndim else 1
    return _pointwise(
        cpu.KLDiv(check_bool(log_target, "log_target")),
        x,
        t,
        reduction=reduction,
        return_grad=return_grad,
        grad_output=grad_output,
        grad_out=grad_out,
        divisor=divisor,
        allowed=("none", "batchmean", "mean", "sum"),
    )


@on_device("elementwise")
@_doc("input1, input2")
def margin_ranking_loss(
    input1,
    input2,
    target,
    margin=0.0,
    reduction="mean",
    *,
    return_grad=False,
    grad_output=None,
    grad_out=None,
):
    r"""Ranking hinge loss for pairs.

    .. math:: \ell_i = \max(0, -y_i (x^{(1)}_i - x^{(2)}_i) + m)

    Gradients :math:`-y_i` and :math:`y_i` where the hinge is active (including
    exactly at 0, as PyTorch), else 0.

    Parameters
    ----------
    input1, input2 : array_like
        Scores of the two items, of one shape.
    target : array_like
        +1 where ``input1`` should rank higher, -1 where ``input2`` should.
    margin : float, optional
        Margin :math:`m` by which the preferred item should lead.
    reduction : {'mean', 'sum', 'none'}, optional
        How the per-element losses are combined (``'mean'`` divides by their number).
    {grad_doc}
    Examples
    --------
    >>> import numbaloss as nl
    >>> float(nl.margin_ranking_loss([1.0, 0.0], [0.0, 1.0], [1.0, 1.0], margin=0.5))
    0.75
    """
    check_reduction(reduction)
    x1 = as_array(input1, "input1")
    x2 = as_array(input2, "input2")
    y = as_array(target, "target")
    check_same_shape(["input1", "input2", "target"], [x1, x2, y])
    params = cpu.MarginRanking(check_real_scalar(margin, "margin"))
    ops = Operands(x1, [x1, x2, y])
    operands = [ops.flat(x1), ops.flat(x2), ops.flat(y)]
    return run_elementwise(
        cpu.run_block_range,
        params,
        ops,
        operands,
        reduction=reduction,
        return_grad=return_grad,
        grad_output=grad_output,
        grad_out=grad_out,
        grad_names=["input1", "input2"],
        grad_slots=(0, 1),
    )


@on_device("elementwise")
@_doc("input")
def hinge_embedding_loss(
    input,
    target,
    margin=1.0,
    reduction="mean",
    *,
    return_grad=False,
    grad_output=None,
    grad_out=None,
):
    r"""Hinge embedding loss for distances ``input`` and labels +-1.

    .. math:: \ell_i = [y_i \ne -1]\, x_i + [y_i \ne 1] \max(0, m - x_i)

    (PyTorch's definition: a label other than +-1 gets both terms.)  The gradient
    is :math:`[y_i \ne -1] - [y_i \ne 1][m - x_i \ge 0]`.

    Parameters
    ----------
    input : array_like
        Distances (or scores).
    target : array_like
        Labels +-1, of the input's shape.
    margin : float, optional
        Margin :math:`m` below which a distance of a -1 pair is penalised.
    reduction : {'mean', 'sum', 'none'}, optional
        How the per-element losses are combined (``'mean'`` divides by their number).
    {grad_doc}
    Examples
    --------
    >>> import numbaloss as nl
    >>> float(nl.hinge_embedding_loss([0.3, 2.0], [1.0, -1.0]))
    0.15
    """
    x, t = _input_target(input, target)
    return _pointwise(
        cpu.HingeEmbedding(check_real_scalar(margin, "margin")),
        x,
        t,
        reduction=reduction,
        return_grad=return_grad,
        grad_output=grad_output,
        grad_out=grad_out,
    )
