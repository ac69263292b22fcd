"""The elementwise losses: one value per element, fused value and gradient.

Every function takes array_like arguments and returns NumPy results (see the
package docs for the common keywords ``reduction``, ``return_grad``,
``grad_output``, ``grad_out``, ``return_hess`` and ``hess_out``).  The arguments are validated by :mod:`.plans`,
which the CUDA versions in :mod:`.cuda` share; device-array arguments are routed
there by :func:`~numbaloss._core.devices.on_device`.
"""

import numpy as np

from .._core import outputs
from .._core.driver import Operands, run_elementwise
from .._core.outputs import unpack_grad_out
from .._core.registry import public
from .._core.traits import UNIT
from .._core.validation import HOST
from . import cpu, plans


def _run(plan, return_grad, grad_output, grad_out, return_hess=False, hess_out=None):
    """Run a validated :class:`~.plans.Plan` on the CPU and build NumPy results."""
    ops = Operands(plan.first, plan.dtype_from)
    operands = [
        ops.flat(o) if isinstance(o, np.ndarray) else o if o is UNIT else ops.cdtype.type(o)
        for o in plan.operands
    ]
    divisor = plan.divisor
    if plan.mean_weight is not None:
        divisor = float(np.sum(plan.mean_weight, dtype=np.float64))
    names = list(plan.grad_names)
    broadcast_b = plan.grad_b_shape is not None
    outs = unpack_grad_out(grad_out, names) if return_grad else [None] * len(names)
    houts = unpack_grad_out(hess_out, names, "hess_out") if return_hess else [None] * len(names)
    # A broadcast second prediction gets its full-size gradient (and second
    # derivative: the diagonal of its own block sums alike) first, summed back below.
    kernel_outs = [None if broadcast_b and k == 1 else o for k, o in enumerate(outs)]
    kernel_houts = [None if broadcast_b and k == 1 else o for k, o in enumerate(houts)]
    result = run_elementwise(
        cpu.run_block_range,
        plan.params,
        ops,
        operands,
        reduction=plan.reduction,
        return_grad=return_grad,
        grad_output=grad_output,
        grad_out=kernel_outs if return_grad else None,
        grad_names=names,
        grad_slots=plan.grad_slots,
        divisor=divisor,
        domain_error=plan.domain_error,
        return_hess=return_hess,
        hess_out=kernel_houts if return_hess else None,
    )
    if not return_grad or not broadcast_b:
        return result
    loss, (ga, gb), *hess = result
    # float64 for a dask chunk's part (outputs.PARTIAL_NONE/PARTIAL_SUM): the chunks'
    # parts are added before the one rounding
    summed_dtype = outputs.summed_dtype(plan.reduction, ops.dtype)
    gb = _summed_back(gb, plan.grad_b_shape, summed_dtype, outs[1])
    if not hess:
        return loss, (ga, gb)
    ((ha, hb),) = hess
    return loss, (ga, gb), (ha, _summed_back(hb, plan.grad_b_shape, summed_dtype, houts[1]))


def _summed_back(full, shape, dtype, out):
    """A broadcast prediction's full-size gradient (or second derivative) summed back to
    its ``shape``, into ``out`` where given."""
    summed = np.asarray(_sum_to_shape(full, shape), dtype=dtype)
    if out is None:
        return summed
    np.copyto(out, summed.reshape(out.shape))
    return out


@public
def l1_loss(
    input,
    target,
    reduction="mean",
    weight=None,
    *,
    return_grad=False,
    grad_output=None,
    grad_out=None,
    return_hess=False,
    hess_out=None,
):
    r"""Mean absolute error.

    .. math:: \ell_i = w_i \lvert x_i - y_i \rvert, \qquad
              \partial \ell_i / \partial x_i = w_i \operatorname{sign}(x_i - y_i)

    with ``sign(0) = 0`` (PyTorch's subgradient).  The second derivative
    (``return_hess=True``) is 0, also at the kink.

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
    return _run(
        plans.l1_loss(HOST, input, target, reduction, weight),
        return_grad,
        grad_output,
        grad_out,
        return_hess,
        hess_out,
    )


@public
def mse_loss(
    input,
    target,
    reduction="mean",
    weight=None,
    *,
    return_grad=False,
    grad_output=None,
    grad_out=None,
    return_hess=False,
    hess_out=None,
):
    r"""Mean squared error.

    .. math:: \ell_i = w_i (x_i - y_i)^2, \qquad
              \partial \ell_i / \partial x_i = 2 w_i (x_i - y_i), \qquad
              \partial^2 \ell_i / \partial x_i^2 = 2 w_i

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
    return _run(
        plans.mse_loss(HOST, input, target, reduction, weight),
        return_grad,
        grad_output,
        grad_out,
        return_hess,
        hess_out,
    )


@public
def smooth_l1_loss(
    input,
    target,
    reduction="mean",
    beta=1.0,
    *,
    return_grad=False,
    grad_output=None,
    grad_out=None,
    return_hess=False,
    hess_out=None,
):
    r"""Smooth L1 loss: quadratic below ``beta``, linear above.

    .. math:: \ell_i = \begin{cases} 0.5 d_i^2 / \beta & |d_i| < \beta \\
              |d_i| - 0.5 \beta & \text{otherwise} \end{cases}, \quad d_i = x_i - y_i

    The gradient is :math:`d_i / \beta` inside and :math:`\operatorname{sign}(d_i)`
    outside; the second derivative :math:`1 / \beta` inside and 0 outside and at
    :math:`|d_i| = \beta`.  ``beta=0`` is exactly :func:`l1_loss` (finite gradients, no 0/0).
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
    return _run(
        plans.smooth_l1_loss(HOST, input, target, reduction, beta),
        return_grad,
        grad_output,
        grad_out,
        return_hess,
        hess_out,
    )


@public
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
    return_hess=False,
    hess_out=None,
):
    r"""Huber loss: quadratic below ``delta``, ``delta``-scaled linear above.

    .. math:: \ell_i = w_i \begin{cases} 0.5 d_i^2 & |d_i| < \delta \\
              \delta (|d_i| - 0.5 \delta) & \text{otherwise} \end{cases}

    The gradient is :math:`w_i \operatorname{clip}(d_i, -\delta, \delta)`; the second
    derivative :math:`w_i` where :math:`|d_i| < \delta`, else 0 (also at the kink).

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
    return _run(
        plans.huber_loss(HOST, input, target, reduction, delta, weight),
        return_grad,
        grad_output,
        grad_out,
        return_hess,
        hess_out,
    )


@public
def soft_margin_loss(
    input,
    target,
    reduction="mean",
    *,
    return_grad=False,
    grad_output=None,
    grad_out=None,
    return_hess=False,
    hess_out=None,
):
    r"""Two-class logistic loss with targets :math:`y \in \{-1, 1\}`.

    .. math:: \ell_i = \log(1 + e^{-y_i x_i}), \qquad
              \partial \ell_i / \partial x_i = -y_i \, \sigma(-y_i x_i)

    Computed as a softplus, so it stays finite where PyTorch's ``log1p(exp(.))``
    overflows to inf (and its gradient to NaN) for :math:`-y x \gtrsim 89` in float32.
    The second derivative is :math:`y_i^2 \sigma(y_i x_i) \sigma(-y_i x_i)`.

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
    return _run(
        plans.soft_margin_loss(HOST, input, target, reduction),
        return_grad,
        grad_output,
        grad_out,
        return_hess,
        hess_out,
    )


@public
def binary_cross_entropy(
    input,
    target,
    weight=None,
    reduction="mean",
    *,
    return_grad=False,
    grad_output=None,
    grad_out=None,
    return_hess=False,
    hess_out=None,
):
    r"""Binary cross entropy between probabilities ``input`` and ``target``.

    .. math:: \ell_i = -w_i \left[ y_i \max(\log x_i, -100)
              + (1 - y_i) \max(\log(1 - x_i), -100) \right]

    The logs are clamped at -100 as in PyTorch, so ``x = 0`` or ``1`` gives a
    finite loss.  The gradient is the derivative of this clamped function,
    :math:`w_i(-y_i/x_i + (1-y_i)/(1-x_i))`, each term dropped where its log is
    clamped.  PyTorch instead returns :math:`w_i (x_i - y_i)/\max(x_i(1-x_i), 10^{-12})`;
    the two agree wherever neither log is clamped.  The second derivative is
    :math:`w_i (y_i / x_i^2 + (1 - y_i) / (1 - x_i)^2)`, each term again dropped
    where its log is clamped.

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
    return _run(
        plans.binary_cross_entropy(HOST, input, target, weight, reduction),
        return_grad,
        grad_output,
        grad_out,
        return_hess,
        hess_out,
    )


@public
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
    return_hess=False,
    hess_out=None,
):
    r"""Binary cross entropy on logits, stable for any magnitude.

    .. math:: \ell_i = w_i \left[ (1 - y_i) x_i + (1 + (p_i - 1) y_i)
              \operatorname{softplus}(-x_i) \right]

    .. math:: \partial \ell_i / \partial x_i = w_i \left[ (1 - y_i)
              - (1 + (p_i - 1) y_i) \, \sigma(-x_i) \right]

    where :math:`p` is ``pos_weight`` (1 when not given); the second derivative is
    :math:`w_i (1 + (p_i - 1) y_i) \, \sigma(x_i) \sigma(-x_i)`.

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
    return _run(
        plans.binary_cross_entropy_with_logits(HOST, input, target, weight, reduction, pos_weight),
        return_grad,
        grad_output,
        grad_out,
        return_hess,
        hess_out,
    )


@public
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
    return_hess=False,
    hess_out=None,
):
    r"""Negative log likelihood of a Poisson distribution.

    With ``log_input=True``: :math:`\ell_i = e^{x_i} - y_i x_i`, gradient
    :math:`e^{x_i} - y_i`.  With ``log_input=False``:
    :math:`\ell_i = x_i - y_i \log(x_i + \epsilon)`, gradient
    :math:`1 - y_i / (x_i + \epsilon)`.  ``full=True`` adds Stirling's term
    :math:`y \log y - y + \tfrac12 \log(2\pi y)` where :math:`y > 1` (no gradient).
    Second derivatives: :math:`e^{x_i}` and :math:`y_i / (x_i + \epsilon)^2`.

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
    return _run(
        plans.poisson_nll_loss(HOST, input, target, log_input, full, eps, reduction),
        return_grad,
        grad_output,
        grad_out,
        return_hess,
        hess_out,
    )


@public
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
    return_hess=False,
    hess_out=None,
):
    r"""Negative log likelihood of a Gaussian with predicted mean and variance.

    .. math:: \ell_i = \tfrac12 \left( \log v_i + (x_i - y_i)^2 / v_i \right)
              [+ \tfrac12 \log 2\pi], \qquad v_i = \max(\mathrm{var}_i, \epsilon)

    Gradients: :math:`(x_i - y_i)/v_i` for the input and
    :math:`\tfrac12 (1/v_i - (x_i - y_i)^2 / v_i^2)` for ``var`` where
    ``var >= eps``, and 0 where the clamp is active.  (PyTorch clamps under
    ``no_grad`` and so passes the unclamped formula's gradient through there.)
    A ``var`` broadcast along axes (homoscedastic) gets its gradient summed over them,
    so that it has ``var``'s shape; the input's gradient has the input's shape.
    Second derivatives (``return_hess=True``): :math:`1 / v_i` for the input and
    :math:`(x_i - y_i)^2 / v_i^3 - 1 / (2 v_i^2)` for ``var`` (0 where clamped;
    summed over broadcast axes like the gradient).

    Parameters
    ----------
    input : array_like
        Means.
    target : array_like
        Observations: the input's shape, or the input's shape with one axis of
        size 1 (broadcast along it).
    var : array_like or float
        Variances, the forms of PyTorch's ``GaussianNLLLoss``: the input's shape; the
        input's shape with one axis of size 1; the input's shape without its last
        axis (one variance per row of it); or a scalar (a number or 0-d array).
        Other shapes, and other targets, raise ``ValueError`` naming both shapes;
        negative entries raise ``ValueError``.
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
    return _run(
        plans.gaussian_nll_loss(HOST, input, target, var, full, eps, reduction),
        return_grad,
        grad_output,
        grad_out,
        return_hess,
        hess_out,
    )


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


@public
def kl_div(
    input,
    target,
    reduction="mean",
    log_target=False,
    *,
    return_grad=False,
    grad_output=None,
    grad_out=None,
    return_hess=False,
    hess_out=None,
):
    r"""Kullback-Leibler divergence, with ``input`` given as log-probabilities.

    .. math:: \ell_i = y_i (\log y_i - x_i) \quad (0 \text{ where } y_i = 0), \qquad
              \partial \ell_i / \partial x_i = -y_i

    With ``log_target=True`` the target is a log-probability:
    :math:`\ell_i = e^{y_i}(y_i - x_i)`, gradient :math:`-e^{y_i}`.  Linear in the
    input: the second derivative is 0.

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
    return _run(
        plans.kl_div(HOST, input, target, reduction, log_target),
        return_grad,
        grad_output,
        grad_out,
        return_hess,
        hess_out,
    )


@public
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
    return_hess=False,
    hess_out=None,
):
    r"""Ranking hinge loss for pairs.

    .. math:: \ell_i = \max(0, -y_i (x^{(1)}_i - x^{(2)}_i) + m)

    Gradients :math:`-y_i` and :math:`y_i` where the hinge is active (including
    exactly at 0, as PyTorch), else 0; second derivatives 0 (also at the hinge).

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
    return _run(
        plans.margin_ranking_loss(HOST, input1, input2, target, margin, reduction),
        return_grad,
        grad_output,
        grad_out,
        return_hess,
        hess_out,
    )


@public
def hinge_embedding_loss(
    input,
    target,
    margin=1.0,
    reduction="mean",
    *,
    return_grad=False,
    grad_output=None,
    grad_out=None,
    return_hess=False,
    hess_out=None,
):
    r"""Hinge embedding loss for distances ``input`` and labels +-1.

    .. math:: \ell_i = [y_i \ne -1]\, x_i + [y_i \ne 1] \max(0, m - x_i)

    (PyTorch's definition: a label other than +-1 gets both terms.)  The gradient
    is :math:`[y_i \ne -1] - [y_i \ne 1][m - x_i \ge 0]`, the second derivative 0
    (also at the hinge).

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
    return _run(
        plans.hinge_embedding_loss(HOST, input, target, margin, reduction),
        return_grad,
        grad_output,
        grad_out,
        return_hess,
        hess_out,
    )


@public
def sigmoid_focal_loss(
    inputs,
    targets,
    alpha=0.25,
    gamma=2.0,
    reduction="none",
    *,
    return_grad=False,
    grad_output=None,
    grad_out=None,
    return_hess=False,
    hess_out=None,
):
    r"""torchvision's sigmoid focal loss (RetinaNet), elementwise on logits.

    .. math:: \ell = \alpha_t \, \mathrm{ce}(x, y) \, q^{\gamma}, \quad
              q = \sigma(x)(1 - y) + \sigma(-x) y, \quad
              \alpha_t = \alpha y + (1 - \alpha)(1 - y)

    with :math:`\mathrm{ce}` the binary cross entropy with logits, and
    :math:`\alpha_t = 1` when ``alpha < 0``.  The gradient is

    .. math:: \partial \ell / \partial x = \alpha_t \bigl[(\sigma(x) - y) q^{\gamma}
              + \gamma\, \mathrm{ce}\, (1 - 2y)\, q^{\gamma - 1} \sigma(x) \sigma(-x)\bigr].

    The second derivative is :math:`\alpha_t q^{\gamma} \bigl[v + \gamma k r \bigl(2
    (\sigma(x) - y) + \mathrm{ce}\,((\gamma - 1) k r + \sigma(-x) - \sigma(x))\bigr)\bigr]`
    with :math:`v = \sigma(x)\sigma(-x)`, :math:`k = 1 - 2y` and :math:`r = v / q`.

    The logs of the sigmoids are formed without overflow and, for targets 0 and 1,
    :math:`q^{\gamma-1}\sigma(x)\sigma(-x)` is simplified exactly, so logits in the
    thousands give finite values and gradients (torchvision's formula in float32
    gives NaN gradients there for ``gamma < 1``).

    Parameters
    ----------
    inputs : array_like
        Logits, any shape.
    targets : array_like
        Binary (or soft) labels of the same shape.
    alpha : float, optional
        Weight of the positive class, in [0, 1]; a negative value switches the
        weighting off (as in torchvision).  Anything else is a ``ValueError``.
    gamma : float, optional
        Focusing parameter, non-negative.
    reduction : {'none', 'mean', 'sum'}, optional
        Default ``'none'``, as in torchvision.
    {grad_doc}

    Examples
    --------
    >>> import numbaloss as nl
    >>> nl.sigmoid_focal_loss([2.0, -1.0], [1.0, 0.0]).round(6).tolist()
    [0.000451, 0.016994]
    """
    return _run(
        plans.sigmoid_focal_loss(HOST, inputs, targets, alpha, gamma, reduction),
        return_grad,
        grad_output,
        grad_out,
        return_hess,
        hess_out,
    )


# --- regression objectives of the gradient-boosting libraries -----------------------------


@public
def pseudo_huber_loss(
    input,
    target,
    delta=1.0,
    reduction="mean",
    *,
    return_grad=False,
    grad_output=None,
    grad_out=None,
    return_hess=False,
    hess_out=None,
):
    r"""Pseudo-Huber loss: a smooth Huber loss, quadratic near 0 and linear far out.

    .. math:: \ell_i = \delta^2 \left( \sqrt{1 + (r_i/\delta)^2} - 1 \right),
              \quad r_i = x_i - y_i

    .. math:: \frac{\partial \ell_i}{\partial x_i} = \frac{r_i}{\sqrt{1 + (r_i/\delta)^2}},
              \qquad
              \frac{\partial^2 \ell_i}{\partial x_i^2} = \left(1 + (r_i/\delta)^2\right)^{-3/2}

    The loss is about :math:`r^2/2` for :math:`|r| \ll \delta` and
    :math:`\delta |r|` for :math:`|r| \gg \delta`; its gradient tends to
    :math:`\pm\delta`.  It is computed as :math:`\delta r^2 / (s + \delta)` with
    :math:`s = \sqrt{\delta^2 + r^2}` formed without squaring :math:`r/\delta`: full
    relative precision near 0 and no overflow for any finite :math:`r`.

    XGBoost's ``reg:pseudohubererror`` (``huber_slope`` is ``delta``) has this
    gradient and second derivative, and SciPy's ``scipy.special.pseudo_huber(delta,
    r)`` this value.  PyTorch has no such loss.

    Parameters
    ----------
    input, target : array_like
        Predictions and targets, of one shape.
    delta : float, optional
        Positive, finite scale where the loss turns from quadratic to linear;
        ``ValueError`` otherwise.
    reduction : {'mean', 'sum', 'none'}, optional
        How the per-element losses are combined (``'mean'`` divides by their number).
    {grad_doc}
    Examples
    --------
    >>> import numbaloss as nl
    >>> round(float(nl.pseudo_huber_loss([0.5, 3.0], [0.0, 0.0])), 6)
    1.140156
    """
    return _run(
        plans.pseudo_huber_loss(HOST, input, target, delta, reduction),
        return_grad,
        grad_output,
        grad_out,
        return_hess,
        hess_out,
    )


@public
def quantile_loss(
    input,
    target,
    quantile=0.5,
    reduction="mean",
    *,
    return_grad=False,
    grad_output=None,
    grad_out=None,
    return_hess=False,
    hess_out=None,
):
    r"""Quantile (pinball) loss, whose minimizer is the ``quantile`` of the target.

    .. math:: \ell_i = \max\bigl(q (y_i - x_i),\ (1 - q)(x_i - y_i)\bigr)
              = \begin{cases} (1 - q)\, r_i & r_i \ge 0 \\ -q\, r_i & r_i < 0
              \end{cases}, \quad r_i = x_i - y_i

    The gradient is :math:`1 - q` where :math:`r_i \ge 0` (at the kink
    :math:`r_i = 0` too, as XGBoost's and LightGBM's quantile objectives) and
    :math:`-q` where :math:`r_i < 0`; the second derivative is 0 everywhere, the
    kink included (boosting libraries substitute a positive Hessian, such as
    LightGBM's 1).  ``quantile=0.5`` is half the absolute error.

    The ``'mean'`` is scikit-learn's ``mean_pinball_loss(target, input,
    alpha=quantile)`` (note its argument order).  PyTorch has no such loss.

    Parameters
    ----------
    input, target : array_like
        Predictions and targets, of one shape.
    quantile : float, optional
        The quantile :math:`q`, in the open interval (0, 1); ``ValueError``
        otherwise.
    reduction : {'mean', 'sum', 'none'}, optional
        How the per-element losses are combined (``'mean'`` divides by their number).
    {grad_doc}
    Examples
    --------
    >>> import numbaloss as nl
    >>> loss, grad = nl.quantile_loss(
    ...     [1.0, 2.0, 4.0], [1.5, 2.0, 3.0], quantile=0.9, return_grad=True
    ... )
    >>> round(float(loss), 6), grad.round(6).tolist()
    (0.183333, [-0.3, 0.033333, 0.033333])
    """
    return _run(
        plans.quantile_loss(HOST, input, target, quantile, reduction),
        return_grad,
        grad_output,
        grad_out,
        return_hess,
        hess_out,
    )


@public
def expectile_loss(
    input,
    target,
    expectile=0.5,
    reduction="mean",
    *,
    return_grad=False,
    grad_output=None,
    grad_out=None,
    return_hess=False,
    hess_out=None,
):
    r"""Expectile loss: squared error weighted asymmetrically by the sign of the residual.

    .. math:: \ell_i = \lvert \tau - \mathbb{1}[y_i - x_i < 0] \rvert \, r_i^2
              = \begin{cases} (1 - \tau)\, r_i^2 & r_i \ge 0 \\ \tau\, r_i^2 & r_i < 0
              \end{cases}, \quad r_i = x_i - y_i

    with gradient :math:`2 w_i r_i` and second derivative :math:`2 w_i`, where
    :math:`w_i` is the weight above (:math:`1 - \tau` or :math:`\tau`).  The
    second derivative jumps at :math:`r_i = 0`, where it is :math:`2(1 - \tau)`
    (the side :math:`r_i \ge 0`, as XGBoost).  The minimizer is the
    :math:`\tau`-expectile of the target; ``expectile=0.5`` is half the squared error.

    This is the value of XGBoost's ``expectile`` metric for
    ``reg:expectileerror`` (``expectile_alpha`` is :math:`\tau`); XGBoost's
    objective has half of this gradient and second derivative (the same Newton
    step).  PyTorch has no such loss.

    Parameters
    ----------
    input, target : array_like
        Predictions and targets, of one shape.
    expectile : float, optional
        The expectile :math:`\tau`, in the open interval (0, 1); ``ValueError``
        otherwise.
    reduction : {'mean', 'sum', 'none'}, optional
        How the per-element losses are combined (``'mean'`` divides by their number).
    {grad_doc}
    Examples
    --------
    >>> import numbaloss as nl
    >>> round(float(nl.expectile_loss([1.0, 3.0], [2.0, 2.0], expectile=0.8)), 6)
    0.5
    """
    return _run(
        plans.expectile_loss(HOST, input, target, expectile, reduction),
        return_grad,
        grad_output,
        grad_out,
        return_hess,
        hess_out,
    )


@public
def log_cosh_loss(
    input,
    target,
    reduction="mean",
    *,
    return_grad=False,
    grad_output=None,
    grad_out=None,
    return_hess=False,
    hess_out=None,
):
    r"""Log-cosh loss: about :math:`r^2/2` near 0 and :math:`|r| - \log 2` far out.

    .. math:: \ell_i = \log \cosh(r_i), \quad r_i = x_i - y_i, \qquad
              \frac{\partial \ell_i}{\partial x_i} = \tanh(r_i), \qquad
              \frac{\partial^2 \ell_i}{\partial x_i^2} = 1 - \tanh^2(r_i)
              = \operatorname{sech}^2(r_i)

    Computed from :math:`e = e^{-2|r|}`, which never overflows: as
    :math:`|r| + \operatorname{log1p}(e) - \log 2` for :math:`|r| \ge 1/2`, and as
    :math:`-\tfrac12 \operatorname{log1p}(-\tanh^2 r)` below, where the first
    form cancels (with :math:`\tanh|r| = -\operatorname{expm1}(-2|r|) / (2 +
    \operatorname{expm1}(-2|r|))`).  The value, gradient and second derivative
    keep full relative precision for every finite :math:`r`, where
    ``log(cosh(r))`` in float32 overflows for :math:`|r| > 89` and is 0 for
    :math:`|r| < 3 \cdot 10^{-4}`.

    The values of Keras's ``LogCosh`` and optax's ``log_cosh``.  PyTorch has no
    such loss.

    Parameters
    ----------
    input, target : array_like
        Predictions and targets, of one shape.
    reduction : {'mean', 'sum', 'none'}, optional
        How the per-element losses are combined (``'mean'`` divides by their number).
    {grad_doc}
    Examples
    --------
    >>> import numbaloss as nl
    >>> nl.log_cosh_loss([0.0, 1.0, 10.0], [0.0, 0.0, 0.0], reduction="none").round(6).tolist()
    [0.0, 0.433781, 9.306853]
    """
    return _run(
        plans.log_cosh_loss(HOST, input, target, reduction),
        return_grad,
        grad_output,
        grad_out,
        return_hess,
        hess_out,
    )


@public
def tweedie_loss(
    input,
    target,
    power=1.5,
    log_input=True,
    full=False,
    reduction="mean",
    *,
    return_grad=False,
    grad_output=None,
    grad_out=None,
    return_hess=False,
    hess_out=None,
):
    r"""Negative log-likelihood of a Tweedie distribution with variance power ``power``.

    For :math:`1 < p < 2` (compound Poisson-gamma: non-negative targets with a
    point mass at 0), with the mean :math:`\mu_i = e^{x_i}` (``log_input=True``,
    the log link) or :math:`\mu_i = x_i`:

    .. math:: \ell_i = -\frac{y_i\, \mu_i^{1-p}}{1-p} + \frac{\mu_i^{2-p}}{2-p}
              \left[ + \frac{y_i^{2-p}}{(1-p)(2-p)} \right]

    On the log link the gradient and second derivative with respect to
    :math:`x_i` are

    .. math:: \mu_i^{2-p} - y_i \mu_i^{1-p}, \qquad
              (2-p)\, \mu_i^{2-p} - (1-p)\, y_i \mu_i^{1-p},

    exactly XGBoost's ``reg:tweedie`` (``tweedie_variance_power`` is :math:`p`;
    without ``full`` the value is its ``tweedie-nloglik@p`` metric).  With
    ``log_input=False`` they are :math:`\mu_i^{-p}(\mu_i - y_i)` and
    :math:`\mu_i^{-p-1}(p\, y_i + (1-p)\mu_i)` with respect to :math:`\mu_i`.

    ``full=True`` adds the bracketed term, constant in the input, so that the loss
    is 0 at :math:`\mu_i = y_i` and twice the loss is the unit deviance: the
    ``'mean'`` times 2 is scikit-learn's ``mean_tweedie_deviance(target, mu,
    power=power)``, and so is twice each element of ``reduction='none'``.

    ``power=1`` is the Poisson case, :math:`\ell_i = \mu_i - y_i \log \mu_i\,[+\,
    y_i \log y_i - y_i]` (the formula's constant :math:`-y_i/(1-p)`, which diverges,
    is dropped; without ``full`` this is :func:`poisson_nll_loss`), and ``power=2``
    is :func:`gamma_loss`.  The exponentials are those of the input (no overflow
    for a bounded mean); targets of 0 give finite values for :math:`p < 2`.

    Parameters
    ----------
    input : array_like
        Log-means (``log_input=True``) or means (> 0).
    target : array_like
        Observations of the input's shape: >= 0, and > 0 for ``power=2``.
        Targets or means outside the domain raise ``ValueError`` (checked in the
        same pass; NaN propagates).
    power : float, optional
        The variance power :math:`p` (variance :math:`\propto \mu^p`), in
        [1, 2]; ``ValueError`` otherwise.
    log_input : bool, optional
        ``True``: ``input`` is :math:`\log \mu` (the log link of the boosting
        libraries; gradients with respect to it); ``False``: the mean itself.
    full : bool, optional
        Add the term that makes twice the loss the deviance (constant in the input).
    reduction : {'mean', 'sum', 'none'}, optional
        How the per-element losses are combined (``'mean'`` divides by their number).
    {grad_doc}
    Examples
    --------
    >>> import numbaloss as nl
    >>> loss = nl.tweedie_loss([0.0, 1.0], [1.0, 2.0], full=True, reduction="none")
    >>> (2 * loss).round(6).tolist()  # the unit deviances (scikit-learn's)
    [0.0, 0.133422]
    """
    return _run(
        plans.tweedie_loss(HOST, input, target, power, log_input, full, reduction),
        return_grad,
        grad_output,
        grad_out,
        return_hess,
        hess_out,
    )


@public
def gamma_loss(
    input,
    target,
    log_input=True,
    full=False,
    reduction="mean",
    *,
    return_grad=False,
    grad_output=None,
    grad_out=None,
    return_hess=False,
    hess_out=None,
):
    r"""Negative log-likelihood of a gamma distribution (unit dispersion).

    With the mean :math:`\mu_i = e^{x_i}` (``log_input=True``, the log link) or
    :math:`\mu_i = x_i`:

    .. math:: \ell_i = \frac{y_i}{\mu_i} + \log \mu_i \;\left[ - \log y_i - 1 \right]

    On the log link the gradient is :math:`1 - y_i e^{-x_i}` and the second
    derivative :math:`y_i e^{-x_i}`: XGBoost's ``reg:gamma`` (without ``full``, the
    value is its ``gamma-nloglik`` metric).  With ``log_input=False`` they are
    :math:`(\mu_i - y_i)/\mu_i^2` and :math:`(2 y_i - \mu_i)/\mu_i^3` with respect to
    :math:`\mu_i`.

    ``full=True`` adds the bracketed term, constant in the input, so that the loss is
    0 at :math:`\mu_i = y_i` and twice the loss is the unit deviance: the ``'mean'``
    times 2 is scikit-learn's ``mean_gamma_deviance(target, mu)``.  This is
    ``tweedie_loss(power=2)``.

    Parameters
    ----------
    input : array_like
        Log-means (``log_input=True``) or means (> 0).
    target : array_like
        Positive observations of the input's shape.  Targets <= 0 (or means <= 0)
        raise ``ValueError`` (checked in the same pass; NaN propagates).
    log_input : bool, optional
        ``True``: ``input`` is :math:`\log \mu` (gradients with respect to it);
        ``False``: the mean itself.
    full : bool, optional
        Add :math:`-\log y_i - 1`, which makes twice the loss the deviance.
    reduction : {'mean', 'sum', 'none'}, optional
        How the per-element losses are combined (``'mean'`` divides by their number).
    {grad_doc}
    Examples
    --------
    >>> import numbaloss as nl
    >>> round(float(2 * nl.gamma_loss([0.0, 1.0], [1.0, 2.0], full=True)), 6)
    0.042612
    """
    return _run(
        plans.gamma_loss(HOST, input, target, log_input, full, reduction),
        return_grad,
        grad_output,
        grad_out,
        return_hess,
        hess_out,
    )


@public
def squared_log_error_loss(
    input,
    target,
    reduction="mean",
    *,
    return_grad=False,
    grad_output=None,
    grad_out=None,
    return_hess=False,
    hess_out=None,
):
    r"""Squared logarithmic error, for targets that span orders of magnitude.

    .. math:: \ell_i = d_i^2, \quad d_i = \log(1 + x_i) - \log(1 + y_i), \qquad
              \frac{\partial \ell_i}{\partial x_i} = \frac{2 d_i}{1 + x_i}, \qquad
              \frac{\partial^2 \ell_i}{\partial x_i^2} = \frac{2 (1 - d_i)}{(1 + x_i)^2}

    :math:`d_i` is computed as :math:`\operatorname{log1p}((x_i - y_i)/(1 + y_i))`:
    one logarithm, and no cancellation where the input is close to the target.  The
    second derivative is negative where :math:`d_i > 1` (the loss is not convex
    there); XGBoost's ``reg:squaredlogerror`` has half this gradient and clamps half
    this second derivative at :math:`10^{-6}`.

    The ``'mean'`` is scikit-learn's ``mean_squared_log_error(target, input)``; Keras's
    ``MeanSquaredLogarithmicError`` clips negative values to 0 first.  PyTorch has no
    such loss.

    Parameters
    ----------
    input, target : array_like
        Predictions and targets, of one shape, both > -1; ``ValueError`` otherwise
        (checked in the same pass; NaN propagates).
    reduction : {'mean', 'sum', 'none'}, optional
        How the per-element losses are combined (``'mean'`` divides by their number).
    {grad_doc}
    Examples
    --------
    >>> import numbaloss as nl
    >>> round(float(nl.squared_log_error_loss([0.0, 3.0], [1.0, 3.0])), 6)
    0.240227
    """
    return _run(
        plans.squared_log_error_loss(HOST, input, target, reduction),
        return_grad,
        grad_output,
        grad_out,
        return_hess,
        hess_out,
    )
