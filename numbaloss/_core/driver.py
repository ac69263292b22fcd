"""The driver of fused elementwise kernels: operands in, loss and gradients out.

Every elementwise loss (and any loss of another family that reduces to one value
per element) goes through :func:`run_elementwise`.  It lays out the operands for
the kernel (a C-ordered flat view when possible; F-ordered arrays are walked in
memory order through their transpose, so neither layout is copied), runs the
kernel over fixed blocks on the thread pool, raises for out-of-domain flags the
kernel reported, and shapes the results.
"""

import numpy as np

from . import outputs, parallel
from .validation import compute_dtype, result_dtype


class Operands:
    """Arrays of one call, coerced, with a common result dtype and memory order."""

    def __init__(self, first, dtype_from):
        self.dtype = result_dtype(*dtype_from)
        self.cdtype = compute_dtype(self.dtype)
        self.fortran = first.ndim > 1 and first.flags.f_contiguous and not first.flags.c_contiguous
        self.shape = first.shape
        self.work_shape = first.shape[::-1] if self.fortran else first.shape
        self.n = int(np.prod(self.shape, dtype=np.int64))

    def orient(self, arr):
        """``arr`` (of the call's shape, or broadcastable to it) in kernel order."""
        if not self.fortran:
            return arr
        arr = np.asarray(arr)
        # Pad to full rank so that the transpose lines broadcast axes up correctly.
        arr = arr.reshape((1,) * (len(self.shape) - arr.ndim) + arr.shape)
        return arr.T

    def unorient(self, arr):
        return arr.T if self.fortran else arr

    # The layout of :mod:`.outputs`: gradients are flat, in kernel order.
    @property
    def kernel_shape(self):
        return (self.n,)

    def to_kernel(self, arr):
        return self.orient(arr)

    def to_caller(self, buffer):
        return self.unorient(buffer.reshape(self.work_shape))

    def flat(self, arr, dtype=None):
        """A flat operand in kernel order (a scalar when ``arr`` has one element)."""
        dtype = self.cdtype if dtype is None else dtype
        arr = np.asarray(arr)
        if arr.dtype != dtype or not arr.dtype.isnative:
            arr = arr.astype(dtype)
        if arr.size == 1 and self.n != 1:
            return dtype.type(arr.reshape(()))
        arr = self.orient(arr)
        if arr.shape != self.work_shape:
            arr = np.broadcast_to(arr, self.work_shape)
        return np.ascontiguousarray(arr).reshape(-1)


def run_elementwise(
    kernel,
    params,
    ops,
    operands,
    *,
    reduction,
    return_grad,
    grad_output,
    grad_out,
    grad_names,
    grad_slots=(0,),
    divisor=None,
    domain_error=None,
    return_hess=False,
    hess_out=None,
):
    """Run ``kernel`` over flat ``operands`` (up to 4) and build the results.

    ``grad_slots`` says which kernel gradient outputs (0 = ``dloss/da``, 1 =
    ``dloss/db``) belong to the predictions named in ``grad_names``; the Hessian's
    outputs (``return_hess``, ``hess_out``) follow the same slots.  ``divisor`` is
    what ``'mean'`` divides by (default: the number of elements); ``'batchmean'`` is
    passed in by the caller as ``reduction='mean'`` with its own divisor.
    """
    n = ops.n
    cdtype = ops.cdtype
    # Float options in the compute dtype, so that float32 kernels stay in float32.
    params = type(params)(*(cdtype.type(v) if isinstance(v, float) else v for v in params))
    a, b, c, d = (list(operands) + [cdtype.type(0)] * 4)[:4]
    nblocks = parallel.n_blocks(n)
    partials = np.zeros(nblocks, dtype=np.float64)
    flags = np.zeros(nblocks, dtype=np.int64)
    divisor = n if divisor is None else divisor

    loss_out = np.empty(n, dtype=cdtype) if reduction == "none" else None
    if reduction == "none":
        if grad_output is None:
            gout = cdtype.type(1)
        else:
            gout = ops.flat(outputs.upstream_array(grad_output, ops.shape))
    else:
        g = outputs.upstream_scalar(grad_output)
        if reduction == "mean":
            gout = cdtype.type(g / divisor if divisor else np.nan)
        else:
            gout = cdtype.type(g)

    slots = [None, None]
    if return_grad:
        made = outputs.grad_slots(grad_names, ops, grad_out, [a, b, c, d])
        for slot, made_slot in zip(grad_slots, made):
            slots[slot] = made_slot
    grad_a = slots[0].buffer if slots[0] is not None else None
    grad_b = slots[1].buffer if slots[1] is not None else None
    hslots = [None, None]
    if return_hess:
        made = outputs.hess_slots(grad_names, ops, hess_out, [a, b, c, d], grad_out)
        for slot, made_slot in zip(grad_slots, made):
            hslots[slot] = made_slot
    hess_a = hslots[0].buffer if hslots[0] is not None else None
    hess_b = hslots[1].buffer if hslots[1] is not None else None

    parallel.run_ranges(
        kernel,
        nblocks,
        parallel.BLOCK,
        params,
        a,
        b,
        c,
        d,
        gout,
        loss_out,
        grad_a,
        grad_b,
        hess_a,
        hess_b,
        n,
        parallel.BLOCK,
        partials,
        flags,
    )
    if domain_error is not None and flags.any():
        raise ValueError(domain_error)

    if reduction == "none":
        loss = ops.to_caller(loss_out)
        loss = loss.astype(ops.dtype) if loss.dtype != ops.dtype else loss
    else:
        loss = outputs.reduced_loss(partials.sum(), reduction, divisor, ops.dtype)
    return outputs.results(
        loss,
        [slots[k] for k in grad_slots] if return_grad else None,
        [hslots[k] for k in grad_slots] if return_hess else None,
    )
