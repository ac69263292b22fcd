"""CUDA kernels of the elementwise losses: the functions of :mod:`.losses` on device arrays.

Reached through :func:`numbaloss._core.devices.on_device` when an argument is a
CUDA device array (numba, CuPy, PyTorch).  Each public function has the signature
of its CPU twin and validates its arguments with the same :mod:`.plans`; the
per-element math is the point functions of :mod:`.points` (the CPU kernel's
too), compiled for the GPU (libdevice math, see :mod:`numbaloss._core.cuda_support`).

:func:`elementwise_kernel` is the one kernel for every loss: a grid-stride loop that
writes the loss (``reduction='none'``) or adds it to a float64 per-thread sum, writes
the gradient(s) times ``grad_output`` in the same pass (and, with
``return_hess=True``, the second derivatives: the kernel is compiled from the
loss's ``point_hess`` only where a Hessian is written), and ends with the
deterministic block reduction; a second one-block kernel sums the block partials.
Results stay on the device, a reduced loss as a 0-d device array.  The one exception to
"no synchronisation": losses that check their data's domain in the kernel
(``binary_cross_entropy``'s input in [0, 1], ``gaussian_nll_loss``'s ``var >= 0``,
the targets of ``tweedie_loss`` and ``gamma_loss``, ``squared_log_error_loss``'s
arguments above -1) read their one flag back to raise ``ValueError``, as on the CPU.
"""

import numpy as np
from numba import cuda, float64

from .._core import cuda_support as cs
from .._core.outputs import unpack_grad_out
from .._core.traits import UNIT, at, like, point_and_hess
from . import losses, plans


@cuda.jit
def elementwise_kernel(
    params,
    a,
    b,
    c,
    d,
    gout,
    gmul,
    gdiv,
    loss_out,
    grad_a,
    grad_b,
    hess_a,
    hess_b,
    n,
    partials,
    flags,
):
    """Loss, gradients, second derivatives and per-block partial sums of ``n`` elements.

    ``a..d`` are flat operands or scalars; ``gout`` the per-element upstream
    gradient (flat or scalar); every gradient (and second derivative) is also
    scaled by ``gmul / gdiv`` (scalars or 1-element device arrays: a reduced
    loss's ``grad_output`` and the mean's divisor, which may still be being
    computed on the device).  ``hess_a``/``hess_b`` are ``None`` where no Hessian is
    written, and the kernel is then the gradient-only one
    (:func:`numbaloss._core.traits.point_and_hess`).
    """
    scale = cs.ratio(gmul, gdiv)
    total = 0.0
    bad = 0.0
    for i in range(cuda.grid(1), n, cuda.gridsize(1)):
        loss, ga, gb, ha, hb, flag = point_and_hess(
            params, at(a, i), at(b, i), at(c, i), at(d, i), hess_a, hess_b
        )
        if loss_out is not None:
            loss_out[i] = loss
        else:
            total += float64(loss)
        g = at(gout, i) * like(ga, scale)
        if grad_a is not None:
            grad_a[i] = ga * g
        if grad_b is not None:
            grad_b[i] = gb * g
        if hess_a is not None:
            hess_a[i] = ha * g
        if hess_b is not None:
            hess_b[i] = hb * g
        if flag:
            bad += 1.0
    total = cs.block_sum(total)
    bad = cs.block_sum(bad)
    if cuda.threadIdx.x == 0:
        partials[cuda.blockIdx.x] = total
        flags[cuda.blockIdx.x] = bad


class _Layout(cs.DeviceLayout):
    """The call's layout (shape, dtypes, kernel order: the first operand's memory
    order), and its operands laid out for the kernel."""

    def __init__(self, plan):
        x = plan.first
        shape = tuple(x.shape)
        fortran = len(shape) > 1 and cs.contiguous_order(x) == "F" and not x.is_c_contiguous()
        super().__init__(shape, *cs.result_dtypes(*plan.dtype_from), "F" if fortran else "C")

    def operand(self, value):
        """A kernel operand: a scalar, or a flat device array in kernel order."""
        if value is UNIT:
            return value
        if not hasattr(value, "shape"):
            return self.cdtype.type(value)
        if isinstance(value, np.ndarray):  # a small option from the host
            if value.size == 1 and self.n != 1:
                return self.cdtype.type(value.reshape(()))
            value = cuda.to_device(np.ascontiguousarray(value, dtype=self.cdtype))
        return cs.gather(value, self.shape, self.fortran, self.cdtype)


def _slots(plan, args, layout, outs, label="grad_out"):
    """The device slots of the predictions, by kernel output (``dloss/da``, ``dloss/db``)."""
    names = list(plan.grad_names)
    slots = [None, None]
    for slot, name, out in zip(plan.grad_slots, names, unpack_grad_out(outs, names, label)):
        if plan.grad_b_shape is not None and slot == 1:
            slots[1] = cs.DeviceBroadcastGradSlot(
                args, name, layout, out, plan.grad_b_shape, plan.operands[2].shape, label
            )
        else:
            slots[slot] = cs.DeviceGradSlot(args, name, layout, out, label)
    return slots


def _run(plan, args, return_grad, grad_output, grad_out, return_hess=False, hess_out=None):
    """Run a validated :class:`~.plans.Plan` on the GPU; results stay on the device."""
    layout = _Layout(plan)
    n = layout.n
    operands = [layout.operand(o) for o in plan.operands]
    a, b, c, d = (operands + [layout.cdtype.type(0)] * 4)[:4]

    divisor = float(n if plan.divisor is None else plan.divisor)
    if plan.mean_weight is not None and plan.reduction == "mean":
        if isinstance(plan.mean_weight, np.ndarray):
            divisor = float(np.sum(plan.mean_weight, dtype=np.float64))
        else:  # summed on the device, never read back
            divisor = cs.device_sum(operands[2])

    if plan.reduction == "none":
        loss_out = cuda.device_array(n, dtype=layout.cdtype)
        gout = cs.device_upstream(
            args, grad_output, layout.shape, layout.cdtype, kernel_order=layout.kernel_order
        )
        gmul, gdiv = 1.0, 1.0
    else:
        loss_out = None
        gout = layout.cdtype.type(1)
        gmul = cs.device_scale(args, grad_output)
        gdiv = divisor if plan.reduction == "mean" else 1.0

    slots = _slots(plan, args, layout, grad_out) if return_grad else [None, None]
    hslots = [None, None]
    if return_hess:
        cs.check_disjoint_device_outputs(args, list(plan.grad_names), grad_out, hess_out)
        hslots = _slots(plan, args, layout, hess_out, "hess_out")
    buffers = [None if s is None else s.buffer for s in slots + hslots]

    blocks, threads = cs.launch_config(n)
    partials = cuda.device_array(blocks, dtype=np.float64)
    flags = cuda.device_array(blocks, dtype=np.float64)
    elementwise_kernel[blocks, threads](
        plan.params,
        a,
        b,
        c,
        d,
        gout,
        gmul,
        gdiv,
        loss_out,
        buffers[0],
        buffers[1],
        buffers[2],
        buffers[3],
        n,
        partials,
        flags,
    )
    if plan.domain_error is not None:
        if cs.reduce_partials(flags, 1.0, np.float64).copy_to_host()[0] > 0:
            raise ValueError(plan.domain_error)

    if loss_out is not None:
        loss = cs.device_loss_array(
            args, loss_out, layout.shape, layout.dtype, kernel_order=layout.kernel_order
        )
    else:
        loss = cs.device_reduced_loss(args, partials, gdiv, layout.dtype)
    if not return_grad:
        return loss
    return cs.device_results(
        loss,
        [slots[slot] for slot in plan.grad_slots],
        [hslots[slot] for slot in plan.grad_slots] if return_hess else None,
    )


def _runner(name):
    """Runs ``losses.<name>`` on device arrays (validated by ``plans.<name>``)."""
    make_plan = getattr(plans, name)

    def run(
        *arrays,
        return_grad=False,
        grad_output=None,
        grad_out=None,
        return_hess=False,
        hess_out=None,
        **options,
    ):
        args = cs.DeviceArgs()
        plan = make_plan(args, *arrays, **options)
        return _run(plan, args, return_grad, grad_output, grad_out, return_hess, hess_out)

    return run


# The same public names as the CPU family (``numbaloss.elementwise.__all__``).
from . import __all__  # noqa: E402

globals().update(
    {_name: cs.device_twin(getattr(losses, _name), _runner(_name)) for _name in __all__}
)


def ptx_signatures():
    """``(kernel, argument types)`` of representative launches, for the offline PTX check.

    Every loss's samples in the registry (one per code path its options select;
    the sigmoid focal loss ignores the weight slot ``c`` typed here as an array), float32 and float64,
    unreduced with an upstream-gradient array and reduced with device-side
    ``grad_output``/divisor, one and two gradients, without and (for the losses
    with ``hessian=True``) with second derivatives.
    """
    from numba import types
    from numba.core.typing import typeof

    from .._core import registry
    from . import points

    # (parameters, number of gradients, Hessian) of each loss's samples in the registry
    params = [
        (getattr(points, cls)(*args), len(e.predictions), e.hessian)
        for e in registry.ENTRIES
        if e.family == "elementwise"
        for cls, *args in e.ptx
    ]
    f64, i64, none = types.float64, types.int64, types.none
    for p, n_grads, hessian in params:
        two = n_grads == 2
        for dt in (types.float32, f64):
            arr = dt[::1]
            second = arr if two else none
            # reduction='none': loss array, per-element grad_output, scalar scale
            yield elementwise_kernel, (
                typeof.typeof(p), arr, arr, arr, dt, arr, f64, f64, arr, arr,
                second, none, none, i64, f64[::1], f64[::1],
            )  # fmt: skip
            # reduced: no loss array, grad_output and divisor on the device, gradient(s)
            yield elementwise_kernel, (
                typeof.typeof(p), arr, arr, dt, dt, dt, f64[::1], f64[::1], none, arr,
                none, none, none, i64, f64[::1], f64[::1],
            )  # fmt: skip
            if hessian:  # gradients and second derivatives, unreduced and reduced
                yield elementwise_kernel, (
                    typeof.typeof(p), arr, arr, arr, dt, arr, f64, f64, arr, arr,
                    second, arr, second, i64, f64[::1], f64[::1],
                )  # fmt: skip
                yield elementwise_kernel, (
                    typeof.typeof(p), arr, arr, dt, dt, dt, f64[::1], f64[::1], none, arr,
                    second, arr, second, i64, f64[::1], f64[::1],
                )  # fmt: skip
