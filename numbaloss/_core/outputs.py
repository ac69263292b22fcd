"""The output contract of a loss call on the CPU: upstream gradient, gradient slots, loss.

Every family's wrappers finish their calls through these few pieces (see
docs/conventions.rst, "Gradients"), and :mod:`.cuda_support` has their device twins
(``DeviceGradSlot`` and friends) with the same behaviour:

* :func:`upstream_scalar` / :func:`upstream_array`: ``grad_output`` checked, for a
  reduced loss (one element) and for ``reduction='none'`` (broadcastable to the
  loss's shape);
* :class:`GradSlot`: where the gradient of one prediction is written.  The kernel
  writes :attr:`GradSlot.buffer`, in the kernel's layout and compute dtype; that
  is the caller's ``grad_out`` itself when its memory allows (in place, also when
  ``grad_out`` is the prediction), else a new array that :meth:`GradSlot.finish`
  copies into ``grad_out``;
* :func:`hess_slots`: the same slots for the Hessian's diagonal (``hess_out``,
  ``return_hess=True``), which must not overlap the gradient's;
* :func:`reduced_loss`, :func:`loss_array` and :func:`results`: the loss in the
  result dtype, and the ``loss`` / ``(loss, grad)`` / ``(loss, (grad, ...))`` /
  ``(loss, grad, hess)`` that the call returns.

A *layout* tells a slot how a caller's array maps onto the kernel's buffer: it has
``shape``, ``dtype`` (the result dtype), ``cdtype`` (the compute dtype),
``kernel_shape``, ``to_kernel(arr)`` (a view of a caller-shaped array in kernel
order, not copied, possibly not contiguous) and ``to_caller(buffer)`` (a view of a
kernel buffer in the caller's shape).  The elementwise :class:`~.driver.Operands`
and the softmax family's logits are layouts.
"""

import numpy as np

from .validation import as_array, check_broadcastable


def unpack_grad_out(grad_out, names, label="grad_out"):
    """``grad_out`` (or ``hess_out``: ``label``) as one entry per prediction (``None``
    where not given)."""
    if grad_out is None:
        return [None] * len(names)
    if len(names) == 1:
        if isinstance(grad_out, (tuple, list)):
            if len(grad_out) != 1:
                raise ValueError(f"{label} must be one array for {names[0]}")
            return list(grad_out)
        return [grad_out]
    if not isinstance(grad_out, (tuple, list)) or len(grad_out) != len(names):
        raise ValueError(f"{label} must be a tuple of {len(names)} arrays, for {', '.join(names)}")
    return list(grad_out)


def upstream_scalar(grad_output):
    """The ``grad_output`` of a reduced loss as a float (``None`` means 1)."""
    if grad_output is None:
        return 1.0
    g = as_array(grad_output, "grad_output")
    if g.size != 1:
        raise ValueError(
            f"grad_output of shape {tuple(g.shape)} cannot be broadcast to the shape () of a reduced loss"
        )
    return float(g.reshape(()))


def upstream_array(grad_output, loss_shape):
    """The ``grad_output`` of an unreduced loss, checked to broadcast to ``loss_shape``."""
    g = as_array(grad_output, "grad_output")
    check_broadcastable("grad_output", g, "the loss", loss_shape)
    return g


def upstream_rows(grad_output, loss_shape, dtype):
    """``grad_output`` of an unreduced loss as a flat contiguous array over its elements."""
    g = upstream_array(grad_output, loss_shape)
    if g.dtype != dtype or not g.dtype.isnative:
        g = g.astype(dtype)
    g = np.broadcast_to(g, loss_shape)
    return np.ascontiguousarray(g).reshape(-1)


def check_grad_out(name, grad_out, shape, dtype, label="grad_out"):
    """``grad_out`` (or ``hess_out``: ``label``) for ``name``: a writeable NumPy array of
    the prediction's shape and dtype."""
    what = f"{label} for {name}"
    if not isinstance(grad_out, np.ndarray):
        raise TypeError(f"{what} must be a NumPy array, got {type(grad_out).__name__}")
    if grad_out.shape != tuple(shape):
        raise ValueError(f"{what} must have shape {tuple(shape)}, got {tuple(grad_out.shape)}")
    if grad_out.dtype != dtype:
        raise ValueError(f"{what} must have dtype {dtype}, got {grad_out.dtype}")
    if not grad_out.flags.writeable:
        raise ValueError(f"{what} is read-only")


def _overlaps_differently(reader, out):
    """True if the kernel operand ``reader`` overlaps ``out`` other than element for element.

    The kernels read each element before they write its gradient, so the prediction
    itself may be the output; any other overlap would be read after being written.
    """
    if not isinstance(reader, np.ndarray) or not np.may_share_memory(reader, out):
        return False
    same = (
        reader.__array_interface__["data"][0] == out.__array_interface__["data"][0]
        and reader.dtype == out.dtype
        and reader.size == out.size
        and reader.flags.c_contiguous
    )
    return not same


class GradSlot:
    """Where the gradient of the prediction ``name`` is written (see the module docs).

    ``readers`` are the kernel's operands: ``grad_out`` is used as the buffer only
    when it overlaps none of them except element for element.  ``label`` names the
    caller's argument in errors (``"hess_out"`` for a Hessian's slot).
    """

    def __init__(self, name, layout, grad_out, readers=(), label="grad_out"):
        self.layout = layout
        self.out = grad_out
        if grad_out is not None:
            check_grad_out(name, grad_out, layout.shape, layout.dtype, label)
            view = layout.to_kernel(grad_out)
            if view.dtype == layout.cdtype and view.flags.c_contiguous:
                view = view.reshape(layout.kernel_shape)
                if not any(_overlaps_differently(r, view) for r in readers):
                    self.buffer = view
                    return
        self.buffer = np.empty(layout.kernel_shape, dtype=layout.cdtype)

    def finish(self):
        """The gradient as the caller gets it: ``grad_out`` filled, or a new array."""
        grad = self.layout.to_caller(self.buffer)
        if self.out is not None:
            if not np.shares_memory(self.out, self.buffer):
                np.copyto(self.out, grad, casting="unsafe")
            return self.out
        dtype = self.layout.dtype
        return grad.astype(dtype) if grad.dtype != dtype else grad


def grad_slots(names, layouts, grad_out, readers=(), label="grad_out"):
    """One :class:`GradSlot` per prediction (``layouts``: one, or one per name)."""
    if not isinstance(layouts, (tuple, list)):
        layouts = [layouts] * len(names)
    outs = unpack_grad_out(grad_out, names, label)
    return [GradSlot(n, lay, out, readers, label) for n, lay, out in zip(names, layouts, outs)]


def check_disjoint_outputs(names, grad_outs, hess_outs):
    """``ValueError`` where a ``hess_out`` shares memory with a ``grad_out`` (both would be
    written; the prediction itself may be either one, not both)."""
    for name, h in zip(names, hess_outs):
        if not isinstance(h, np.ndarray):
            continue
        for other, g in zip(names, grad_outs):
            if isinstance(g, np.ndarray) and np.may_share_memory(h, g) and np.shares_memory(h, g):
                raise ValueError(
                    f"hess_out for {name} overlaps grad_out for {other}: the gradient and the "
                    "Hessian need separate arrays"
                )


def hess_slots(names, layouts, hess_out, readers=(), grad_out=None):
    """One :class:`GradSlot` per prediction for the Hessian's diagonal (``hess_out``).

    The rules of ``grad_out`` apply (it may be the prediction itself); ``grad_out``,
    the caller's gradient arrays, must not overlap it (:func:`check_disjoint_outputs`).
    """
    check_disjoint_outputs(
        names, unpack_grad_out(grad_out, names), unpack_grad_out(hess_out, names, "hess_out")
    )
    return grad_slots(names, layouts, hess_out, readers, "hess_out")


class _Partial(str):
    """A reduction that the chunk calls of a dask call ask for (:mod:`.dask_support`).

    It equals ``'sum'`` or ``'none'`` (so every check and branch treats it as that
    reduction), but what the call sums keeps float64 instead of being rounded to the
    result dtype: the reduced loss (:func:`scalar_loss`) and the summed-back gradient
    of a broadcast prediction (:func:`summed_dtype`).  The chunks' partial results
    are then combined exactly, and rounded once.
    """

    __slots__ = ()


#: ``'sum'`` for a chunk of a dask call: the loss is the float64 sum itself.
PARTIAL_SUM = _Partial("sum")
#: ``'none'`` for a chunk of a dask call (summed-back gradients stay float64).
PARTIAL_NONE = _Partial("none")


def is_partial(reduction):
    return isinstance(reduction, _Partial)


def scalar_loss(total, reduction, dtype):
    """A reduced loss in ``dtype``, or the float64 ``total`` itself for a chunk's partial sum."""
    return np.float64(total) if is_partial(reduction) else dtype.type(total)


def summed_dtype(reduction, dtype):
    """The dtype of a gradient summed back over broadcast axes (float64 for a chunk's part)."""
    return np.dtype(np.float64) if is_partial(reduction) else dtype


def divide(total, divisor):
    """``total / divisor`` in float64, NaN (not an error) for 0 / 0 as PyTorch gives."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.float64(total) / np.float64(divisor)


def reduced_loss(total, reduction, divisor, dtype):
    """A reduced loss in ``dtype``: the float64 sum ``total``, over ``divisor`` for ``'mean'``
    (NaN where the divisor is 0: an empty input, or weights that sum to 0)."""
    if reduction == "mean":
        total = total / divisor if divisor else np.nan
    return scalar_loss(total, reduction, dtype)


def loss_array(values, loss_shape, dtype):
    """An unreduced loss: the kernel's per-element values in the loss's shape and ``dtype``."""
    loss = values.reshape(loss_shape)
    return loss.astype(dtype) if loss.dtype != dtype else loss


def _finished(slots):
    done = [s if isinstance(s, np.ndarray) else s.finish() for s in slots]
    return done[0] if len(done) == 1 else tuple(done)


def results(loss, slots=None, hess=None):
    """What a call returns: ``loss``, or ``(loss, grad)`` / ``(loss, (grad, ...))``, or
    with the Hessian's slots ``hess`` ``(loss, grad, hess)`` (tuples alike)."""
    if slots is None:
        return loss
    if hess is None:
        return loss, _finished(slots)
    return loss, _finished(slots), _finished(hess)
