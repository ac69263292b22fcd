"""The shared core of the CUDA back end: arrays, launches, reductions and device math.

Imported only once a device array has reached a loss (see :mod:`.devices`), never at
``import numbaloss``.  Every family's ``cuda.py`` builds on the pieces here:

* :class:`DeviceArgs` coerces a call's arguments: numba device arrays as they are,
  CuPy arrays and PyTorch CUDA tensors as zero-copy numba views (through
  ``__cuda_array_interface__``); a large array left on the host is a ``TypeError``
  that names it, while small options (``weight``, ``pos_weight``, ...) may come from
  the host and are copied over.  :meth:`DeviceArgs.wrap` hands results back as the
  caller's array type (CuPy, PyTorch) without a copy, else as numba device arrays.
* :func:`launch_config` gives the grid of a grid-stride kernel.  The sizes are fixed
  (they do not depend on the GPU), so a reduction forms the same partial sums in the
  same order on every run and every card.
* :func:`block_sum` (a device function) and :func:`finish_sum` (a kernel) are the
  deterministic two-stage reduction: each block sums its threads' float64 partials in
  shared memory in a fixed tree order, and one small block then sums the per-block
  partials in a fixed order and divides by the mean's divisor.  No float atomics.
  :func:`block_max` is the same tree for a maximum (row-wise kernels: log-sum-exp).
* :func:`gather` lays an operand out in a kernel's flat element order (other memory
  order, broadcast axes, dtype conversion), :func:`sum_to_shape` sums a gradient back
  over broadcast axes, both without leaving the device.
* The output contract of a call (docs/conventions.rst): :func:`device_upstream` and
  :func:`device_scale` check ``grad_output``, a :class:`DeviceGradSlot` per
  prediction says where its kernel writes the gradient (the caller's ``grad_out``
  when it can; :func:`device_hess_slots` the same for ``hess_out``) and hands it back, :func:`device_loss_array` /
  :func:`device_reduced_loss` / :func:`device_results` finish the call.  Every
  family's ``cuda.py`` uses them; ``numbaloss._core.outputs`` has their host twins.
* Device math: the project's math helpers (:mod:`numbaloss._core.vecmath`) and the
  compile-time ``point`` dispatch (:mod:`numbaloss._core.traits`) get CUDA-target
  implementations here, on libdevice's ``exp``/``log``/``log1p`` with the same stable
  softplus/sigmoid forms as on the CPU.  Point functions written once with
  :func:`~numbaloss._jit.math_jit` therefore compile unchanged into ``@cuda.jit``
  kernels: each family writes its per-element (or per-row) math once.

Kernels are launched on the default stream and nothing here waits for the GPU, so a
call returns as soon as its kernels are queued.

How a family plugs in is in ``docs/adding_a_loss.rst`` ("CUDA kernels").
"""

import functools
import inspect
import math
import os
import sys

import numpy as np
from numba import cuda, float64, types
from numba.core import config as numba_config

from . import traits, vecmath
from .devices import is_device_array
from .outputs import unpack_grad_out
from .validation import as_array, check_broadcastable, compute_dtype

#: True under numba's CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``).
SIMULATOR = bool(numba_config.ENABLE_CUDASIM)

#: Largest block size; the reduction's shared buffer has this many slots.
MAX_THREADS = 1024

_launch = {"threads": 256, "max_blocks": 1024}


def _env_int(name, default):
    value = os.environ.get(name)
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {value!r}") from None


def set_launch_config(threads=None, max_blocks=None):
    """Set the threads per block (a power of two up to 1024) and the grid-size cap.

    The defaults (256 threads, at most 1024 blocks) can also be set with the
    environment variables ``NUMBALOSS_CUDA_THREADS`` and ``NUMBALOSS_CUDA_MAX_BLOCKS``.
    Reductions are reproducible for a fixed configuration; changing it changes
    the order in which partial sums are added (and so the last bits).
    """
    if threads is not None:
        threads = int(threads)
        if threads < 1 or threads > MAX_THREADS or threads & (threads - 1):
            raise ValueError(f"threads must be a power of two in [1, {MAX_THREADS}], got {threads}")
        _launch["threads"] = threads
    if max_blocks is not None:
        max_blocks = int(max_blocks)
        if max_blocks < 1:
            raise ValueError(f"max_blocks must be positive, got {max_blocks}")
        _launch["max_blocks"] = max_blocks


def get_launch_config():
    """``(threads, max_blocks)`` in force."""
    return _launch["threads"], _launch["max_blocks"]


set_launch_config(
    _env_int("NUMBALOSS_CUDA_THREADS", _launch["threads"]),
    _env_int("NUMBALOSS_CUDA_MAX_BLOCKS", _launch["max_blocks"]),
)


def launch_config(n):
    """``(blocks, threads)`` for a grid-stride loop over ``n`` items (at least one block)."""
    threads, max_blocks = get_launch_config()
    blocks = min(max(1, -(-n // threads)), max_blocks)
    return blocks, threads


# --- the deterministic two-stage reduction ---------------------------------------------


@cuda.jit(device=True)
def block_sum(value):
    """Sum of ``value`` over the threads of a block, in a fixed tree order.

    Every thread of the block must call it (it synchronises), and every thread gets
    the total (read after the tree's last barrier; the next call's first barrier
    keeps the buffer until all have read it).  ``blockDim.x`` must be a power of two.
    """
    buf = cuda.shared.array(MAX_THREADS, float64)
    tid = cuda.threadIdx.x
    cuda.syncthreads()  # the buffer may still be read by a previous call
    buf[tid] = value
    cuda.syncthreads()
    half = cuda.blockDim.x // 2
    while half > 0:
        if tid < half:
            buf[tid] += buf[tid + half]
        cuda.syncthreads()
        half //= 2
    return buf[0]


@cuda.jit(device=True)
def block_max(value):
    """Maximum of ``value`` over the threads of a block (NaN wins), for row kernels.

    Same contract as :func:`block_sum`: every thread calls it, power-of-two blocks.
    """
    buf = cuda.shared.array(MAX_THREADS, float64)
    tid = cuda.threadIdx.x
    cuda.syncthreads()
    buf[tid] = value
    cuda.syncthreads()
    half = cuda.blockDim.x // 2
    while half > 0:
        if tid < half:
            other = buf[tid + half]
            if other > buf[tid] or other != other:
                buf[tid] = other
        cuda.syncthreads()
        half //= 2
    return buf[0]


@cuda.jit(device=True)
def ratio(value, divisor):
    """``value / divisor`` in float64; a divisor of 0 gives NaN (the mean of nothing).

    Either may be a scalar or a 1-element device array (e.g. a reduced loss's
    ``grad_output`` and the mean's divisor, still being computed on the device).
    """
    d = float64(traits.at(divisor, 0))
    return float64(traits.at(value, 0)) / d if d != 0.0 else math.nan


@cuda.jit
def finish_sum(partials, divisor, out):
    """``out[0] = sum(partials) / divisor`` (one block; ``divisor`` scalar or 1-element array).

    A divisor of 0 gives NaN (the mean of nothing).  ``out`` may be of any float dtype.
    """
    tid = cuda.threadIdx.x
    total = 0.0
    for j in range(tid, partials.shape[0], cuda.blockDim.x):
        total += partials[j]
    total = block_sum(total)
    if tid == 0:
        out[0] = ratio(total, divisor)


def reduce_partials(partials, divisor, dtype):
    """Launch :func:`finish_sum`: a 1-element device array of ``dtype``."""
    out = cuda.device_array(1, dtype=dtype)
    threads = min(get_launch_config()[0], pow2_at_least(partials.shape[0]))
    finish_sum[1, threads](partials, divisor, out)
    return out


@cuda.jit
def sum_kernel(flat, partials):
    """Per-block float64 partial sums of a flat array (first stage of :func:`device_sum`)."""
    total = 0.0
    for i in range(cuda.grid(1), flat.shape[0], cuda.gridsize(1)):
        total += float64(flat[i])
    total = block_sum(total)
    if cuda.threadIdx.x == 0:
        partials[cuda.blockIdx.x] = total


def device_sum(flat, dtype=np.float64):
    """The sum of a flat device array, as a 1-element device array (two-stage, deterministic)."""
    blocks, threads = launch_config(flat.shape[0])
    partials = cuda.device_array(blocks, dtype=np.float64)
    sum_kernel[blocks, threads](flat, partials)
    return reduce_partials(partials, 1.0, dtype)


def pow2_at_least(n):
    """The smallest power of two ``>= n``, at most :data:`MAX_THREADS` (a thread count)."""
    p = 1
    while p < n and p < MAX_THREADS:
        p *= 2
    return p


# --- layout: gather, cast, sum back to a broadcast shape ------------------------------


@cuda.jit
def gather_kernel(src, strides, work_shape, out):
    """``out[i] = src[offset(i)]``: element ``i`` in C order of ``work_shape``.

    ``strides`` are element strides of ``src``'s memory for each axis of
    ``work_shape`` (0 along broadcast axes).
    """
    ndim = len(work_shape)
    start = cuda.grid(1)
    for i in range(start, out.shape[0], cuda.gridsize(1)):
        rem = i
        offset = 0
        for k in range(ndim - 1, -1, -1):
            size = work_shape[k]
            offset += (rem % size) * strides[k]
            rem //= size
        out[i] = src[offset]


def contiguous_order(arr):
    """``'C'`` or ``'F'``: the memory order of a contiguous device array.

    Raises ``ValueError`` for other strides (numbaloss's kernels read device
    memory in order; pass a contiguous array, e.g. ``.copy()`` of a view).
    """
    if arr.is_c_contiguous():
        return "C"
    if arr.is_f_contiguous():
        return "F"
    raise ValueError(
        f"device array of shape {tuple(arr.shape)} and strides {tuple(arr.strides)} is not "
        "contiguous; pass a C- or Fortran-ordered array"
    )


def flat_view(arr):
    """A 1-d view of a contiguous device array, in memory order."""
    order = contiguous_order(arr)
    return arr.reshape(arr.size, order=order) if arr.ndim != 1 else arr


def memory_strides(shape, order):
    """Element strides of a contiguous array of ``shape`` in ``order``."""
    strides = [0] * len(shape)
    step = 1
    axes = range(len(shape) - 1, -1, -1) if order == "C" else range(len(shape))
    for k in axes:
        strides[k] = step
        step *= shape[k]
    return strides


def gather(arr, shape, fortran, dtype):
    """``arr`` (broadcastable to ``shape``) as a flat device array in kernel order.

    Kernel order is C order of ``shape`` (its reverse when ``fortran``, i.e. the
    memory order of a Fortran-ordered input).  No copy when ``arr`` already is
    laid out so; otherwise one pass of :func:`gather_kernel`.
    """
    n = int(np.prod(shape, dtype=np.int64))
    order = contiguous_order(arr)
    same_layout = tuple(arr.shape) == tuple(shape) and (
        arr.ndim <= 1 or order == ("F" if fortran else "C")
    )
    if same_layout and arr.dtype == dtype:
        return flat_view(arr)
    padded = (1,) * (len(shape) - arr.ndim) + tuple(arr.shape)
    strides = memory_strides(padded, order)
    strides = [0 if s == 1 and full != 1 else st for s, full, st in zip(padded, shape, strides)]
    work_shape = tuple(shape)
    if fortran:
        strides, work_shape = strides[::-1], work_shape[::-1]
    out = cuda.device_array(n, dtype=dtype)
    if n:
        blocks, threads = launch_config(n)
        gather_kernel[blocks, threads](flat_view(arr), tuple(strides), work_shape, out)
    return out


@cuda.jit
def sum_to_shape_kernel(full, inner, outer_shape, outer_strides, reduced_shape, out):
    """``out[j] = sum of full[i]`` over the elements ``i`` that broadcast from ``j``.

    ``full`` is in C order; the axes that were broadcast have extent
    ``outer_shape`` (with C strides ``outer_strides`` into ``full``), the others
    are described by ``reduced_shape`` and ``inner`` (their strides into ``full``).
    One thread per output element adds its terms in a fixed order.
    """
    count = 1
    for s in outer_shape:
        count *= s
    start = cuda.grid(1)
    for j in range(start, out.shape[0], cuda.gridsize(1)):
        rem = j
        base = 0
        for k in range(len(reduced_shape) - 1, -1, -1):
            base += (rem % reduced_shape[k]) * inner[k]
            rem //= reduced_shape[k]
        total = 0.0
        for t in range(count):
            rem = t
            offset = base
            for k in range(len(outer_shape) - 1, -1, -1):
                offset += (rem % outer_shape[k]) * outer_strides[k]
                rem //= outer_shape[k]
            total += full[offset]
        out[j] = total


def sum_to_shape(flat, shape, target_shape, dtype):
    """Sum a C-ordered flat gradient of ``shape`` over the axes broadcast from ``target_shape``.

    ``target_shape`` is ``shape`` with some axes of size 1 (or fewer leading axes);
    returns a C-contiguous device array of ``target_shape`` and ``dtype``.
    """
    padded = (1,) * (len(shape) - len(target_shape)) + tuple(target_shape)
    full_strides = memory_strides(shape, "C")
    kept = [k for k, (p, s) in enumerate(zip(padded, shape)) if not (p == 1 and s != 1)]
    summed = [k for k in range(len(shape)) if k not in kept]
    out = cuda.device_array(int(np.prod(padded, dtype=np.int64)), dtype=dtype)
    if out.shape[0]:
        blocks, threads = launch_config(out.shape[0])
        sum_to_shape_kernel[blocks, threads](
            flat,
            tuple(full_strides[k] for k in kept) or (0,),
            tuple(shape[k] for k in summed) or (1,),
            tuple(full_strides[k] for k in summed) or (0,),
            tuple(shape[k] for k in kept) or (1,),
            out,
        )
    return out.reshape(tuple(target_shape)) if tuple(target_shape) else out.reshape(())


@cuda.jit
def cast_kernel(src, out):
    """``out[i] = src[i]`` converted to ``out``'s dtype."""
    start = cuda.grid(1)
    for i in range(start, out.shape[0], cuda.gridsize(1)):
        out[i] = src[i]


def cast(flat, dtype):
    """A flat device array converted to ``dtype`` (no copy when it already is)."""
    if flat.dtype == dtype:
        return flat
    out = cuda.device_array(flat.shape[0], dtype=dtype)
    if out.shape[0]:
        blocks, threads = launch_config(out.shape[0])
        cast_kernel[blocks, threads](flat, out)
    return out


# --- arguments in, results out -------------------------------------------------------


def is_numba_device_array(obj):
    return bool(getattr(obj, "__cuda_ndarray__", False))


class DeviceArgs:
    """Coerces the arguments of one call and wraps its results.

    ``array`` is for the large arrays (predictions, targets): they must be on the
    device.  ``option`` is for small ones that may come from the host (copied to the
    device).  The first device argument decides the result type: CuPy in, CuPy
    out; PyTorch in, PyTorch out (on the same device); otherwise numba device arrays.
    """

    #: this back end works on device arrays
    on_device = True

    def __init__(self):
        self.kind = None
        self.torch_device = None

    def _remember(self, obj):
        if self.kind is not None:
            return
        module = type(obj).__module__.split(".")[0]
        if module == "torch":
            self.kind = "torch"
            self.torch_device = obj.device
        elif module == "cupy":
            self.kind = "cupy"
        else:
            self.kind = "numba"

    def device(self, value, name):
        """``value`` as a numba device array, or ``None`` when it is on the host."""
        if is_numba_device_array(value):
            arr = value
        elif is_device_array(value):
            # PyTorch refuses to export a tensor that requires grad; its data is what counts.
            exported = value.detach() if getattr(value, "requires_grad", False) else value
            # sync=False: kernels are queued on the default stream, nothing waits here.
            arr = cuda.as_cuda_array(exported, sync=False)
        else:
            return None
        self._remember(value)
        kind = np.dtype(arr.dtype).kind
        if kind not in "biuf":
            raise TypeError(
                f"{name} must hold real numbers (bool, integer or floating), got dtype {arr.dtype}"
            )
        return arr

    def array(self, value, name):
        """A large array argument: must be on the device, else ``TypeError``."""
        arr = self.device(value, name)
        if arr is None:
            raise TypeError(
                f"{name} is on the host ({type(value).__name__}) while other arguments are "
                "CUDA device arrays; move it to the device (e.g. numba.cuda.to_device)"
            )
        return arr

    def option(self, value, name):
        """A small option: a device array as it is, a host array_like validated.

        A host option is copied to the device by the caller (a synchronous copy,
        which waits for work already queued on the GPU): keep options on the device
        where a call must not wait.
        """
        arr = self.device(value, name)
        if arr is not None:
            return arr
        return as_array(value, name)

    def scalar_or_device(self, value, name):
        """A grad_output of a reduced loss: a host float, or a 1-element device array.

        Reading a device value back would synchronise, so it stays on the device.
        """
        arr = self.device(value, name)
        if arr is None:
            g = as_array(value, name)
            if g.size != 1:
                raise ValueError(
                    f"{name} of shape {tuple(g.shape)} cannot be broadcast to the shape () of a reduced loss"
                )
            return float(g.reshape(()))
        if arr.size != 1:
            raise ValueError(
                f"{name} of shape {tuple(arr.shape)} cannot be broadcast to the shape () of a reduced loss"
            )
        return flat_view(arr)

    def wrap(self, arr):
        """A numba device array handed back as the caller's array type (zero copy)."""
        if self.kind == "torch":
            return sys.modules["torch"].as_tensor(arr, device=self.torch_device)
        if self.kind == "cupy":
            return sys.modules["cupy"].asarray(arr)
        return arr


# --- the output contract: upstream gradient, gradient slots, loss (docs/conventions.rst) ---
#
# One device implementation for every family.  The kernels take the upstream gradient
# as a per-element (per-row) factor ``gout`` times a scale ``gmul / gdiv`` (see
# :func:`ratio`), write gradients into :attr:`DeviceGradSlot.buffer`, and leave the
# loss as per-element values or per-block partial sums; these pieces check the
# caller's ``grad_output``/``grad_out`` and hand results back as the caller's arrays.


def device_upstream(args, grad_output, loss_shape, cdtype, *, kernel_order="C", host_arrays=False):
    """``reduction='none'``'s upstream gradient: a scalar, or a flat device array.

    ``None`` is 1 and a host scalar stays a scalar (in ``cdtype``); a device array is
    checked to broadcast to ``loss_shape`` (the CPU's ``ValueError``) and laid out as
    ``prod(loss_shape)`` elements of ``cdtype`` in kernel order (C order of the loss's
    shape, or its memory order ``'F'``), without leaving the device.  A host array of
    more than one element is a ``TypeError`` (the call must not wait for a copy),
    unless ``host_arrays``: then it is laid out on the host and copied over (the CTC
    losses, whose targets and lengths come from the host anyway).
    """
    cdtype = np.dtype(cdtype)
    loss_shape = tuple(loss_shape)
    if grad_output is None:
        return cdtype.type(1)
    g = args.device(grad_output, "grad_output")
    if g is None:
        host = as_array(grad_output, "grad_output")
        check_broadcastable("grad_output", host, "the loss", loss_shape)
        if host_arrays:
            full = np.broadcast_to(host.astype(cdtype), loss_shape)
            return cuda.to_device(np.ascontiguousarray(full.ravel(order=kernel_order)))
        if host.size != 1:
            raise TypeError(
                "grad_output is on the host while the other arguments are CUDA device arrays; "
                "pass a scalar or a device array"
            )
        return cdtype.type(host.reshape(()))
    check_broadcastable("grad_output", g, "the loss", loss_shape)
    if not loss_shape:  # gather's kernel needs at least one axis
        return gather(g.reshape(1), (1,), False, cdtype)
    return gather(g, loss_shape, kernel_order == "F", cdtype)


def device_scale(args, grad_output):
    """A reduced loss's ``grad_output``: a float, or a 1-element device array.

    A device value is never read back (that would wait for the GPU): the kernels
    take it as their ``gmul`` and multiply on the device.
    """
    return 1.0 if grad_output is None else args.scalar_or_device(grad_output, "grad_output")


class DeviceLayout:
    """How a prediction of one call maps onto the gradient buffer its kernel writes.

    ``shape`` is the prediction's (the caller's) shape, ``dtype`` the result dtype,
    ``cdtype`` the dtype the kernel writes.  ``kernel_order`` says what the kernel
    writes: ``'C'`` or ``'F'``, a flat buffer of the ``n`` elements in that memory
    order of ``shape`` (elementwise kernels); ``'strided'``, an array of
    ``kernel_shape`` (``shape`` reshaped in C order; default ``shape``) through its own
    strides, so that any array of that shape will do (row kernels).
    """

    def __init__(self, shape, dtype, cdtype, kernel_order="C", kernel_shape=None):
        self.shape = tuple(int(s) for s in shape)
        self.n = int(np.prod(self.shape, dtype=np.int64))
        self.dtype, self.cdtype = np.dtype(dtype), np.dtype(cdtype)
        self.kernel_order = kernel_order
        if kernel_order == "strided":
            self.kernel_shape = self.shape if kernel_shape is None else tuple(kernel_shape)
        else:
            self.kernel_shape = (self.n,)

    @property
    def fortran(self):
        """True when the kernel walks the elements in Fortran order."""
        return self.kernel_order == "F"

    def kernel_view(self, arr):
        """A view of a device array of ``shape`` that the kernel can write, or ``None``.

        Flat kernels need the kernel's memory order (a strided array is a
        ``ValueError``, as for operands); strided kernels take the array itself, or a
        C-ordered one reshaped to ``kernel_shape``.
        """
        if self.kernel_order == "strided":
            if tuple(arr.shape) == self.kernel_shape:
                return arr
            return arr.reshape(self.kernel_shape) if arr.is_c_contiguous() else None
        order = contiguous_order(arr)
        return flat_view(arr) if arr.ndim <= 1 or order == self.kernel_order else None

    def new_buffer(self):
        return cuda.device_array(self.kernel_shape, dtype=self.cdtype)

    def to_caller(self, flat):
        """A flat buffer, in the kernel's memory order, as an array of ``shape``."""
        return flat.reshape(self.shape, order="F" if self.fortran else "C")


class DeviceGradSlot:
    """Where a kernel writes the gradient of the prediction ``name``, and how the caller gets it.

    ``grad_out`` is the caller's entry for this prediction (``None``: a new array).  It
    must be a device array of the prediction's shape and result dtype; the kernel
    writes :attr:`buffer`, which is ``grad_out`` itself when its dtype is the compute
    dtype and its layout one the kernel can write (also when it is the prediction:
    the kernels read an element before they write its gradient), else a new array
    that :meth:`finish` copies into ``grad_out``.
    """

    #: whether the kernel may write the caller's ``grad_out`` itself
    writes_grad_out = True

    def __init__(self, args, name, layout, grad_out, label="grad_out"):
        self.args, self.layout, self.caller = args, layout, grad_out
        self.label = label  # the caller's argument, in errors: "grad_out" or "hess_out"
        self.out = None if grad_out is None else self._checked(args, name, layout, grad_out)
        if self.out is not None and self.writes_grad_out:
            view = layout.kernel_view(self.out)
            if view is not None and layout.dtype == layout.cdtype:
                self.buffer, self.direct = view, True
                return
        self.buffer, self.direct = layout.new_buffer(), False

    def _checked(self, args, name, layout, grad_out):
        what = f"{self.label} for {name}"
        out = args.array(grad_out, what)
        if tuple(out.shape) != layout.shape:
            raise ValueError(f"{what} must have shape {layout.shape}, got {tuple(out.shape)}")
        if np.dtype(out.dtype) != layout.dtype:
            raise ValueError(f"{what} must have dtype {layout.dtype}, got {out.dtype}")
        return out

    def _flat_buffer(self):
        return self.buffer if self.buffer.ndim == 1 else flat_view(self.buffer)

    def finish(self):
        """The gradient: the caller's ``grad_out`` object filled, or a new array of its type."""
        layout, out = self.layout, self.out
        if self.direct:
            return self.caller
        if out is None:
            if not layout.n:
                return self.args.wrap(cuda.device_array(layout.shape, dtype=layout.dtype))
            return self.args.wrap(layout.to_caller(cast(self._flat_buffer(), layout.dtype)))
        if out.size:
            fortran = out.ndim > 1 and contiguous_order(out) == "F"
            grad = layout.to_caller(self._flat_buffer())
            flat_view(out).copy_to_device(gather(grad, layout.shape, fortran, out.dtype))
        return self.caller


class DeviceBroadcastGradSlot(DeviceGradSlot):
    """The gradient of a prediction of ``shape`` that the kernel saw broadcast to the call's.

    (``gaussian_nll_loss``'s ``var``.)  ``operand_shape`` is the prediction as the
    kernel's operand (``shape`` with its broadcast axes, at most the layout's rank);
    the kernel writes one value per element of the call, and :meth:`finish` sums
    them over the broadcast axes on the device.  ``grad_out`` has the caller's
    ``shape`` (its size is checked) and C order.
    """

    # the kernel writes one value per element of the call, more than grad_out holds
    writes_grad_out = False

    def __init__(self, args, name, layout, grad_out, shape, operand_shape, label="grad_out"):
        self.shape = tuple(shape)
        operand_shape = tuple(operand_shape)
        self.operand_shape = (1,) * (len(layout.shape) - len(operand_shape)) + operand_shape
        super().__init__(args, name, layout, grad_out, label)

    def _checked(self, args, name, layout, grad_out):
        what = f"{self.label} for {name}"
        out = args.array(grad_out, what)
        if out.size != int(np.prod(self.shape, dtype=np.int64)) or not out.is_c_contiguous():
            raise ValueError(
                f"{what} must be a C-contiguous array of shape {self.shape}, "
                f"got shape {tuple(out.shape)}"
            )
        if np.dtype(out.dtype) != layout.dtype:
            raise ValueError(f"{what} must have dtype {layout.dtype}, got {out.dtype}")
        return out

    def finish(self):
        layout = self.layout
        c_order = gather(layout.to_caller(self._flat_buffer()), layout.shape, False, layout.cdtype)
        grad = sum_to_shape(c_order, layout.shape, self.operand_shape, layout.dtype)
        grad = grad.reshape(self.shape)
        if self.out is None:
            return self.args.wrap(grad)
        flat_view(self.out).copy_to_device(flat_view(grad))
        return self.caller


def device_grad_slots(args, names, layouts, grad_out, label="grad_out"):
    """One :class:`DeviceGradSlot` per prediction (``layouts``: one, or one per name)."""
    if not isinstance(layouts, (tuple, list)):
        layouts = [layouts] * len(names)
    outs = unpack_grad_out(grad_out, names, label)
    return [DeviceGradSlot(args, n, lay, out, label) for n, lay, out in zip(names, layouts, outs)]


def _byte_span(arr):
    """``[lo, hi)``: the bytes a device array's elements occupy (under the simulator,
    those of the NumPy array it wraps); ``None`` for an empty array."""
    if not arr.size:
        return None
    host = getattr(arr, "_ary", None) if SIMULATOR else None
    if host is not None:
        ptr = host.__array_interface__["data"][0]
    else:
        ptr = arr.__cuda_array_interface__["data"][0]
    lo = hi = ptr
    for size, stride in zip(arr.shape, arr.strides):
        step = (int(size) - 1) * int(stride)
        lo, hi = (lo + step, hi) if step < 0 else (lo, hi + step)
    return lo, hi + np.dtype(arr.dtype).itemsize


def check_disjoint_device_outputs(args, names, grad_out, hess_out):
    """``ValueError`` where a ``hess_out`` overlaps a ``grad_out`` (by the bytes they
    span; the device twin of :func:`.outputs.check_disjoint_outputs`)."""
    grads = unpack_grad_out(grad_out, names)
    hessians = unpack_grad_out(hess_out, names, "hess_out")
    for name, h in zip(names, hessians):
        hd = None if h is None else args.device(h, f"hess_out for {name}")
        h_span = None if hd is None else _byte_span(hd)
        if h_span is None:
            continue
        for other, g in zip(names, grads):
            gd = None if g is None else args.device(g, f"grad_out for {other}")
            g_span = None if gd is None else _byte_span(gd)
            if g_span is not None and g_span[0] < h_span[1] and h_span[0] < g_span[1]:
                raise ValueError(
                    f"hess_out for {name} overlaps grad_out for {other}: the gradient and the "
                    "Hessian need separate arrays"
                )


def device_hess_slots(args, names, layouts, hess_out, grad_out=None):
    """One :class:`DeviceGradSlot` per prediction for the Hessian's diagonal
    (``hess_out``), which must not overlap ``grad_out``."""
    check_disjoint_device_outputs(args, names, grad_out, hess_out)
    return device_grad_slots(args, names, layouts, hess_out, "hess_out")


def device_loss_array(args, values, loss_shape, dtype, *, kernel_order="C"):
    """An unreduced loss: the kernel's flat per-element values (kernel order) as the
    caller's array type, of ``loss_shape`` and ``dtype``."""
    order = "F" if kernel_order == "F" else "C"
    return args.wrap(cast(values, dtype).reshape(tuple(loss_shape), order=order))


def device_reduced_loss(args, partials, divisor, dtype):
    """A reduced loss: the per-block float64 ``partials`` summed (over ``divisor``, a
    float or a 1-element device array) on the device, as a 0-d array of ``dtype``.

    Nothing is read back: the call returns while the GPU still works.
    """
    return args.wrap(reduce_partials(partials, divisor, dtype).reshape(()))


def device_results(loss, slots=None, hess=None):
    """What a call returns: ``loss``, or ``(loss, grad)`` / ``(loss, (grad, ...))``, or
    with the Hessian's slots ``hess`` ``(loss, grad, hess)``."""
    if slots is None:
        return loss
    grads = [slot.finish() for slot in slots]
    grad = grads[0] if len(grads) == 1 else tuple(grads)
    if hess is None:
        return loss, grad
    hessians = [slot.finish() for slot in hess]
    return loss, grad, hessians[0] if len(hessians) == 1 else tuple(hessians)


def device_twin(cpu_function, run=None):
    """The CUDA twin of a public loss: ``run`` under ``cpu_function``'s name, docs and signature.

    ``run`` takes the call's arguments as the CPU function does.  Without ``run``, a
    decorator.  (:func:`~numbaloss._core.devices.on_device` finds the twin in the
    family's ``cuda.py`` by name.)
    """
    if run is None:
        return functools.partial(device_twin, cpu_function)
    cpu_function = inspect.unwrap(cpu_function)

    @functools.wraps(cpu_function)
    def twin(*args, **kwargs):
        return run(*args, **kwargs)

    twin.__signature__ = inspect.signature(cpu_function)
    return twin


def result_dtypes(*arrays):
    """``(dtype, compute dtype)`` of device arrays, as :func:`.validation.result_dtype` does."""
    floats = [np.dtype(a.dtype) for a in arrays if a is not None and np.dtype(a.dtype).kind == "f"]
    dtype = np.result_type(*floats) if floats else np.dtype(np.float64)
    return dtype, compute_dtype(dtype)


# --- device math for every family's kernels -------------------------------------------


def _register_cuda_math():
    """CUDA implementations of the compile-time helpers and the vectorizable math.

    The CPU helpers are overloads for numba's generic target; these CUDA-target
    overloads take precedence inside ``@cuda.jit`` code.  Under the simulator
    kernels run as Python and call the helpers' Python versions, so nothing is
    registered there.  Maxima and minima are written as conditionals: the builtin
    ``max``/``min`` failed numba-cuda's typing in the offline PTX check
    (numba/numba#10753, a regression of numba 0.66).
    """
    from numba.extending import overload

    def ov(func):
        return overload(func, target="cuda")

    for func, typer in traits.ARITHMETIC_OVERLOADS:
        ov(func)(typer)

    for func, typer in traits.STATIC_DISPATCHES:
        ov(func)(typer)

    def floating(x):
        if x == types.float32:
            return np.float32
        if isinstance(x, (types.Float, types.Integer, types.Boolean)):
            return np.float64
        return None

    @ov(vecmath.exp)
    def _exp(x):
        rt = floating(x)
        return None if rt is None else (lambda x: math.exp(rt(x)))

    def _log(x):
        rt = floating(x)
        return None if rt is None else (lambda x: math.log(rt(x)))

    # libdevice's log serves the CPU's variants for restricted arguments too
    for func in (vecmath.log, vecmath.log_nonnegative, vecmath.log_unit_interval):
        ov(func)(_log)

    @ov(vecmath.log1p)
    def _log1p(x):
        rt = floating(x)
        return None if rt is None else (lambda x: math.log1p(rt(x)))

    @ov(vecmath.softplus)
    def _softplus(x):
        rt = floating(x)
        if rt is None:
            return None

        def impl(x):
            xr = rt(x)
            return (xr if xr > 0 else rt(0)) + math.log1p(math.exp(-abs(xr)))

        return impl

    @ov(vecmath.log_sigmoid)
    def _log_sigmoid(x):
        rt = floating(x)
        if rt is None:
            return None

        def impl(x):
            xr = rt(x)
            return (xr if xr < 0 else rt(0)) - math.log1p(math.exp(-abs(xr)))

        return impl

    @ov(vecmath.sigmoid)
    def _sigmoid(x):
        rt = floating(x)
        if rt is None:
            return None

        def impl(x):
            xr = rt(x)
            e = math.exp(-abs(xr))
            inv = rt(1) / (rt(1) + e)
            return inv if xr >= 0 else e * inv

        return impl

    @ov(vecmath.exp_minus_abs)
    def _exp_minus_abs(x):
        rt = floating(x)
        return None if rt is None else (lambda x: math.exp(-abs(rt(x))))

    @ov(vecmath.softplus_sigmoid_given_exp)
    def _softplus_sigmoid_given_exp(x, e):
        rt = floating(x)
        if rt is None:
            return None

        def impl(x, e):
            xr = rt(x)
            er = rt(e)
            inv = rt(1) / (rt(1) + er)
            s = inv if xr >= 0 else er * inv
            return (xr if xr > 0 else rt(0)) + math.log1p(er), s

        return impl

    @ov(vecmath.softplus_sigmoid)
    def _softplus_sigmoid(x):
        rt = floating(x)
        if rt is None:
            return None
        return lambda x: vecmath.softplus_sigmoid_given_exp(x, vecmath.exp_minus_abs(x))


if not SIMULATOR:
    _register_cuda_math()


def ptx_signatures():
    """``(kernel, argument types)`` of this module's launches, for the offline PTX check.

    Each family's ``cuda.py`` has the same function for its own kernels; see
    :mod:`numbaloss.cuda_check`.
    """
    f16, f32, f64, i64 = types.float16, types.float32, types.float64, types.int64
    for dtype in (f16, f32, f64):
        yield finish_sum, (f64[::1], f64, dtype[::1])
        yield finish_sum, (f64[::1], f64[::1], dtype[::1])
    for src, dst in ((f32, f32), (f64, f64), (i64, f64), (types.boolean, f32), (f16, f32)):
        for ndim in (1, 2, 3):
            tup = types.UniTuple(i64, ndim)
            yield gather_kernel, (src[::1], tup, tup, dst[::1])
    for src, dst in ((f32, f16), (f16, f32), (f64, f32), (f64, f16)):
        yield cast_kernel, (src[::1], dst[::1])
    for dtype in (f32, f64):
        yield sum_kernel, (dtype[::1], f64[::1])
        for ndim in (1, 2):
            tup = types.UniTuple(i64, ndim)
            yield sum_to_shape_kernel, (dtype[::1], tup, tup, tup, tup, dtype[::1])
