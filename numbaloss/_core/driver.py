"""The driver of fused elementwise kernels: operands in, loss and gradients out.

Every elementwise loss (and any loss of another family that reduces to one value
per element) goes through :func:`run_elementwise`.  It lays out the operands for
the kernel (a C-ordered flat view when possible; F-ordered arrays are walked in
memory order through their transpose, so neither layout is copied), runs the
kernel over fixed blocks on the thread pool, raises for out-of-domain flags the
kernel reported, and shapes the results.
"""

import numpy as np

from . import parallel
from .validation import as_array, compute_dtype, result_dtype


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


class GradTarget:
    """Where the gradient of one prediction is written.

    ``buffer`` is the flat array, in kernel order and compute dtype, that the kernel
    writes; :meth:`finish` returns the caller's array: ``grad_out`` itself when one
    was passed (written in place when its layout allows, else copied into), or a
    new array of the prediction's shape and the result dtype.
    """

    def __init__(self, name, ops, grad_out, readers):
        self.ops = ops
        self.out = grad_out
        if grad_out is not None:
            _check_grad_out(name, grad_out, ops.shape, ops.dtype)
            oriented = ops.orient(grad_out)
            if (
                oriented.dtype == ops.cdtype
                and oriented.flags.c_contiguous
                and not any(_overlaps_differently(r, oriented) for r in readers)
            ):
                self.buffer = oriented.reshape(-1)
                return
        self.buffer = np.empty(ops.n, dtype=ops.cdtype)

    def finish(self):
        ops = self.ops
        if self.out is not None:
            if not np.shares_memory(self.out, self.buffer):
                np.copyto(
                    self.out, ops.unorient(self.buffer.reshape(ops.work_shape)), casting="unsafe"
                )
            return self.out
        result = ops.unorient(self.buffer.reshape(ops.work_shape))
        if result.dtype != ops.dtype:
            result = result.astype(ops.dtype)
        return result


def _check_grad_out(name, grad_out, shape, dtype):
    if not isinstance(grad_out, np.ndarray):
        raise TypeError(f"grad_out for {name} must be a NumPy array, got {type(grad_out).__name__}")
    if grad_out.shape != tuple(shape):
        raise ValueError(
            f"grad_out for {name} must have shape {tuple(shape)}, got {tuple(grad_out.shape)}"
        )
    if grad_out.dtype != dtype:
        raise ValueError(f"grad_out for {name} must have dtype {dtype}, got {grad_out.dtype}")
    if not grad_out.flags.writeable:
        raise ValueError(f"grad_out for {name} is read-only")


def _overlaps_differently(reader, out):
    """True if the flat operand ``reader`` overlaps ``out`` other than element for element."""
    if not isinstance(reader, np.ndarray) or not np.may_share_memory(reader, out):
        return False
    same = (
        reader.__array_interface__["data"][0] == out.__array_interface__["data"][0]
        and reader.dtype == out.dtype
        and reader.size == out.size
        and reader.flags.c_contiguous
    )
    return not same


def unpack_grad_out(grad_out, names):
    """``grad_out`` as one entry per prediction (``None`` where not given)."""
    if grad_out is None:
        return [None] * len(names)
    if len(names) == 1:
        if isinstance(grad_out, (tuple, list)):
            if len(grad_out) != 1:
                raise ValueError(f"grad_out must be one array for {names[0]}")
            return list(grad_out)
        return [grad_out]
    if not isinstance(grad_out, (tuple, list)) or len(grad_out) != len(names):
        raise ValueError(f"grad_out must be a tuple of {len(names)} arrays, for {', '.join(names)}")
    return list(grad_out)


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
):
    """Run ``kernel`` over flat ``operands`` (up to 4) and build the results.

    ``grad_slots`` says which kernel gradient outputs (0 = ``dloss/da``, 1 =
    ``dloss/db``) belong to the predictions named in ``grad_names``.  ``divisor`` is
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
            gout = ops.flat(_grad_output_array(grad_output, ops.shape))
    else:
        g = _scalar_grad_output(grad_output)
        if reduction == "mean":
            gout = cdtype.type(g / divisor if divisor else np.nan)
        else:
            gout = cdtype.type(g)

    targets = [None, None]
    if return_grad:
        outs = unpack_grad_out(grad_out, grad_names)
        readers = [a, b, c, d]
        for slot, name, out in zip(grad_slots, grad_names, outs):
            targets[slot] = GradTarget(name, ops, out, readers)
    grad_a = targets[0].buffer if targets[0] is not None else None
    grad_b = targets[1].buffer if targets[1] is not None else None

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
        n,
        parallel.BLOCK,
        partials,
        flags,
    )
    if domain_error is not None and flags.any():
        raise ValueError(domain_error)

    if reduction == "none":
        loss = ops.unorient(loss_out.reshape(ops.work_shape))
        if loss.dtype != ops.dtype:
            loss = loss.astype(ops.dtype)
    else:
        total = partials.sum()
        if reduction == "mean":
            total = total / divisor if divisor else np.nan
        loss = ops.dtype.type(total)
    if not return_grad:
        return loss
    grads = [targets[slot].finish() for slot in grad_slots]
    return loss, grads[0] if len(grads) == 1 else tuple(grads)


def _grad_output_array(grad_output, shape):
    g = as_array(grad_output, "grad_output")
    try:
        full = np.broadcast_shapes(g.shape, shape)
    except ValueError:
        full = None
    if full != tuple(shape):
        raise ValueError(
            f"grad_output of shape {tuple(g.shape)} cannot be broadcast to the loss shape {tuple(shape)}"
        )
    return g


def _scalar_grad_output(grad_output):
    if grad_output is None:
        return 1.0
    g = as_array(grad_output, "grad_output")
    if g.size != 1:
        raise ValueError(
            f"grad_output of shape {tuple(g.shape)} cannot be broadcast to the shape () of a reduced loss"
        )
    return float(g.reshape(()))
