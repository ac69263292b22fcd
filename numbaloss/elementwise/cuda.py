"""CUDA kernels of the elementwise losses: the functions of :mod:`.losses` on device arrays.

Reached through :func:`numbaloss._core.devices.on_device` when an argument is a
CUDA device array (numba, CuPy, PyTorch).  Each public function has the signature
of its CPU twin and validates its arguments with the same :mod:`.plans`; the
per-element math is the point functions of :mod:`.points` (the CPU kernel's
too), compiled for the GPU (libdevice math, see :mod:`numbaloss._core.cuda_support`).

:func:`elementwise_kernel` is the one kernel for every loss: a grid-stride loop that
writes the loss (``reduction='none'``) or adds it to a float64 per-thread sum, writes
the gradient(s) times ``grad_output`` in the same pass, and ends with the
deterministic block reduction; a second one-block kernel sums the block partials.
Results stay on the device, a reduced loss as a 0-d device array.  The one exception to
"no synchronisation": losses that check their input's domain in the kernel
(``binary_cross_entropy``'s input in [0, 1], ``gaussian_nll_loss``'s ``var >= 0``)
read their one flag back to raise ``ValueError``, as on the CPU.
"""

import functools
import inspect

import numpy as np
from numba import cuda, float64

from .._core import cuda_support as cs
from .._core.driver import unpack_grad_out
from .._core.traits import UNIT, at, like, point
from .._core.validation import as_array, check_broadcastable
from . import losses, plans


@cuda.jit
def elementwise_kernel(
    params, a, b, c, d, gout, gmul, gdiv, loss_out, grad_a, grad_b, n, partials, flags
):
    """Loss, gradients and per-block partial sums of ``n`` elements.

    ``a..d`` are flat operands or scalars; ``gout`` the per-element upstream
    gradient (flat or scalar); every gradient is also scaled by ``gmul / gdiv``
    (scalars or 1-element device arrays: a reduced loss's ``grad_output`` and the
    mean's divisor, which may still be being computed on the device).
    """
    scale = cs.ratio(gmul, gdiv)
    total = 0.0
    bad = 0.0
    for i in range(cuda.grid(1), n, cuda.gridsize(1)):
        loss, ga, gb, flag = point(params, at(a, i), at(b, i), at(c, i), at(d, i))
        if loss_out is not None:
            loss_out[i] = loss
        else:
            total += float64(loss)
        g = at(gout, i) * like(ga, scale)
        if grad_a is not None:
            grad_a[i] = ga * g
        if grad_b is not None:
            grad_b[i] = gb * g
        if flag:
            bad += 1.0
    total = cs.block_sum(total)
    bad = cs.block_sum(bad)
    if cuda.threadIdx.x == 0:
        partials[cuda.blockIdx.x] = total
        flags[cuda.blockIdx.x] = bad


class _Layout:
    """Shape, memory order and dtypes of one call's operands."""

    def __init__(self, plan):
        x = plan.first
        self.shape = tuple(x.shape)
        self.n = int(np.prod(self.shape, dtype=np.int64))
        self.fortran = (
            len(self.shape) > 1 and cs.contiguous_order(x) == "F" and not x.is_c_contiguous()
        )
        self.dtype, self.cdtype = cs.result_dtypes(*plan.dtype_from)

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

    def view(self, flat):
        """A flat result in kernel order as an array of the call's shape."""
        return flat.reshape(self.shape, order="F" if self.fortran else "C")


def _grad_output(args, grad_output, layout):
    """``reduction='none'``'s per-element upstream gradient (scalar or flat device array)."""
    if grad_output is None:
        return layout.cdtype.type(1)
    g = args.device(grad_output, "grad_output")
    if g is None:
        host = as_array(grad_output, "grad_output")
        if host.size != 1:
            raise TypeError(
                "grad_output is on the host while the other arguments are CUDA device arrays; "
                "pass a scalar or a device array"
            )
        return layout.cdtype.type(host.reshape(()))
    check_broadcastable("grad_output", g, "the loss", layout.shape)
    return cs.gather(g, layout.shape, layout.fortran, layout.cdtype)


def _grad_buffer(args, out, name, layout):
    """``(flat buffer the kernel writes, caller's grad_out or None, whether it is grad_out)``."""
    if out is None:
        return cuda.device_array(layout.n, dtype=layout.cdtype), None, False
    out = args.array(out, f"grad_out for {name}")
    if tuple(out.shape) != layout.shape:
        raise ValueError(
            f"grad_out for {name} must have shape {layout.shape}, got {tuple(out.shape)}"
        )
    if np.dtype(out.dtype) != layout.dtype:
        raise ValueError(f"grad_out for {name} must have dtype {layout.dtype}, got {out.dtype}")
    order = cs.contiguous_order(out)
    in_kernel_order = out.ndim <= 1 or order == ("F" if layout.fortran else "C")
    if in_kernel_order and layout.dtype == layout.cdtype:
        return cs.flat_view(out), out, True
    return cuda.device_array(layout.n, dtype=layout.cdtype), out, False


def _finish_grad(buffer, out, in_place, layout, sum_to=None, full_shape=None):
    """The gradient as the caller gets it: ``out`` filled, or a new array."""
    if sum_to is not None:
        c_order = cs.gather(layout.view(buffer), layout.shape, False, layout.cdtype)
        result = cs.sum_to_shape(c_order, layout.shape, full_shape, layout.dtype)
        result = result.reshape(sum_to)
    else:
        result = layout.view(cs.cast(buffer, layout.dtype))
    if out is None or in_place:
        return out if in_place else result
    if out.size:
        fortran = out.ndim > 1 and cs.contiguous_order(out) == "F"
        cs.flat_view(out).copy_to_device(cs.gather(result, tuple(out.shape), fortran, out.dtype))
    return out


def _run(plan, args, return_grad, grad_output, grad_out):
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
        gout, gmul, gdiv = _grad_output(args, grad_output, layout), 1.0, 1.0
    else:
        loss_out = None
        gout = layout.cdtype.type(1)
        gmul = 1.0 if grad_output is None else args.scalar_or_device(grad_output, "grad_output")
        gdiv = divisor if plan.reduction == "mean" else 1.0

    names = list(plan.grad_names)
    broadcast_b = plan.grad_b_shape is not None
    buffers = [None, None]
    outs = [None, None]
    in_place = [False, False]
    callers = [None, None]  # the caller's grad_out objects, handed back as they are
    if return_grad:
        for slot, name, out in zip(plan.grad_slots, names, unpack_grad_out(grad_out, names)):
            callers[slot] = out
            if broadcast_b and slot == 1:
                buffers[1] = cuda.device_array(n, dtype=layout.cdtype)
                if out is not None:
                    outs[1] = args.array(out, f"grad_out for {name}")
                    _check_small_grad_out(outs[1], plan.grad_b_shape, name, layout.dtype)
            else:
                buffers[slot], outs[slot], in_place[slot] = _grad_buffer(args, out, name, layout)

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
        n,
        partials,
        flags,
    )
    if plan.domain_error is not None:
        if cs.reduce_partials(flags, 1.0, np.float64).copy_to_host()[0] > 0:
            raise ValueError(plan.domain_error)

    if loss_out is not None:
        loss = layout.view(cs.cast(loss_out, layout.dtype))
    else:
        loss = cs.reduce_partials(partials, gdiv if plan.reduction == "mean" else 1.0, layout.dtype)
        loss = loss.reshape(())
    loss = args.wrap(loss)
    if not return_grad:
        return loss
    grads = []
    for slot in plan.grad_slots:
        if broadcast_b and slot == 1:
            full_shape = tuple(plan.operands[2].shape)
            full_shape = (1,) * (len(layout.shape) - len(full_shape)) + full_shape
            g = _finish_grad(buffers[1], None, False, layout, plan.grad_b_shape, full_shape)
            if outs[1] is not None:
                cs.flat_view(outs[1]).copy_to_device(cs.flat_view(g))
        else:
            g = _finish_grad(buffers[slot], outs[slot], in_place[slot], layout)
        grads.append(args.wrap(g) if callers[slot] is None else callers[slot])
    return loss, grads[0] if len(grads) == 1 else tuple(grads)


def _check_small_grad_out(out, shape, name, dtype):
    """A grad_out for a broadcast prediction: its own (caller's) shape, C order."""
    if out.size != int(np.prod(shape, dtype=np.int64)) or not out.is_c_contiguous():
        raise ValueError(
            f"grad_out for {name} must be a C-contiguous array of shape {tuple(shape)}, "
            f"got shape {tuple(out.shape)}"
        )
    if np.dtype(out.dtype) != dtype:
        raise ValueError(f"grad_out for {name} must have dtype {dtype}, got {out.dtype}")


def _device_loss(name):
    """The CUDA version of ``losses.<name>``: same signature and docs, device arrays."""
    cpu_func = inspect.unwrap(getattr(losses, name))
    make_plan = getattr(plans, name)

    @functools.wraps(cpu_func)
    def loss(*arrays, return_grad=False, grad_output=None, grad_out=None, **options):
        args = cs.DeviceArgs()
        plan = make_plan(args, *arrays, **options)
        return _run(plan, args, return_grad, grad_output, grad_out)

    loss.__signature__ = inspect.signature(cpu_func)
    return loss


# The same public names as the CPU family (``numbaloss.elementwise.__all__``).
from . import __all__  # noqa: E402

globals().update({_name: _device_loss(_name) for _name in __all__})


def ptx_signatures():
    """``(kernel, argument types)`` of representative launches, for the offline PTX check.

    Every loss (and each option that changes its code path), float32 and float64,
    unreduced with an upstream-gradient array and reduced with device-side
    ``grad_output``/divisor, one and two gradients.
    """
    from numba import types
    from numba.core.typing import typeof

    from . import points

    params = [
        points.L1(),
        points.MSE(),
        points.SmoothL1(1.0),
        points.Huber(1.0),
        points.SoftMargin(),
        points.BCE(),
        points.BCEWithLogits(),
        points.PoissonNLL(True, True, 1e-8),
        points.PoissonNLL(False, False, 1e-8),
        points.GaussianNLL(True, 1e-6),
        points.KLDiv(False),
        points.KLDiv(True),
        points.MarginRanking(0.0),
        points.HingeEmbedding(1.0),
    ]
    f64, i64 = types.float64, types.int64
    for p in params:
        two = isinstance(p, (points.GaussianNLL, points.MarginRanking))
        for dt in (types.float32, f64):
            arr = dt[::1]
            # reduction='none': loss array, per-element grad_output, scalar scale
            yield elementwise_kernel, (
                typeof.typeof(p), arr, arr, arr, dt, arr, f64, f64, arr, arr,
                arr if two else types.none, i64, f64[::1], f64[::1],
            )  # fmt: skip
            # reduced: no loss array, grad_output and divisor on the device, no gradient
            yield elementwise_kernel, (
                typeof.typeof(p), arr, arr, dt, dt, dt, f64[::1], f64[::1], types.none, arr,
                types.none, i64, f64[::1], f64[::1],
            )  # fmt: skip
    # The sigmoid focal loss has no weight: its c and d are the zeros _run pads with.
    for p in (points.SigmoidFocal(0.25, 1.5), points.SigmoidFocalSquare(0.25)):
        for dt in (types.float32, f64):
            arr = dt[::1]
            yield elementwise_kernel, (
                typeof.typeof(p), arr, arr, dt, dt, arr, f64, f64, arr, arr, types.none, i64,
                f64[::1], f64[::1],
            )  # fmt: skip
            yield elementwise_kernel, (
                typeof.typeof(p), arr, arr, dt, dt, dt, f64[::1], f64[::1], types.none, arr,
                types.none, i64, f64[::1], f64[::1],
            )  # fmt: skip
