"""Matrix products on the GPU, through the caller's array library (cuBLAS).

numba has no matrix product for device arrays, and numbaloss does not ship a
GEMM kernel of its own: a chunked loss (``linear_cross_entropy``) hands its
products to cuBLAS through the library the caller's arrays come from.  The
interface is one operation, :meth:`DeviceBlas.gemm`: ``c = op(a) @ op(b) + beta * c``
on C-contiguous numba device arrays, ``op`` a transpose or not, written into ``c``
in place.  An implementation views the arrays as its own (zero copy, through
``__cuda_array_interface__``) and calls its GEMM:

* ``"cupy"``: ``cupy.cublas.gemm`` (CuPy arrays, and numba device arrays when CuPy
  is installed);
* ``"torch"``: ``Tensor.addmm_`` (PyTorch CUDA tensors, on their device).

:func:`blas_for` picks the implementation from the kind of the caller's arrays
(:attr:`numbaloss._core.cuda_support.DeviceArgs.kind`) in :data:`BACKENDS`.  Numba
device arrays without CuPy get a ``TypeError`` that says so.  Under numba's CUDA
simulator neither library is there; the simulator tests put an implementation of
their own under ``"numba"`` in :data:`BACKENDS` (it copies the simulator's arrays
to the host and multiplies with NumPy: it checks everything around the products,
not cuBLAS).

The products are cuBLAS's: deterministic for one GPU, library version and
configuration (cuBLAS may pick other algorithms on other GPUs or versions).
"""

import abc
import importlib

#: The GEMM implementation for each kind of caller's array (``DeviceArgs.kind``): a
#: ``DeviceBlas`` or a function ``args -> DeviceBlas``.
BACKENDS = {}


class DeviceBlas(abc.ABC):
    """The one operation a chunked loss needs from a GPU BLAS."""

    @abc.abstractmethod
    def gemm(self, a, b, c, trans_a=False, trans_b=False, beta=0.0):
        """``c[...] = op(a) @ op(b) + beta * c`` on C-contiguous 2-D numba device arrays.

        ``op(a)`` is ``a.T`` with ``trans_a``; ``beta=0`` ignores ``c``'s old values
        (NaN there does not propagate).  Queued on the default stream; returns
        without waiting for the GPU.  Callers handle empty operands themselves.
        """


class CupyBlas(DeviceBlas):
    """cuBLAS through ``cupy.cublas.gemm`` (zero-copy CuPy views of numba arrays)."""

    def __init__(self, cupy):
        self.cupy = cupy
        self.cublas = importlib.import_module("cupy.cublas")

    def gemm(self, a, b, c, trans_a=False, trans_b=False, beta=0.0):
        asarray = self.cupy.asarray
        self.cublas.gemm(
            "T" if trans_a else "N",
            "T" if trans_b else "N",
            asarray(a),
            asarray(b),
            out=asarray(c),
            alpha=1.0,
            beta=beta,
        )


class TorchBlas(DeviceBlas):
    """cuBLAS through ``torch.Tensor.addmm_`` (zero-copy tensors on the caller's device)."""

    def __init__(self, torch, device):
        self.torch, self.device = torch, device

    def gemm(self, a, b, c, trans_a=False, trans_b=False, beta=0.0):
        as_tensor = self.torch.as_tensor
        ta = as_tensor(a, device=self.device)
        tb = as_tensor(b, device=self.device)
        tc = as_tensor(c, device=self.device)
        tc.addmm_(ta.t() if trans_a else ta, tb.t() if trans_b else tb, beta=beta, alpha=1.0)


def _cupy_or_none():
    try:
        return importlib.import_module("cupy")
    except ImportError:
        return None


def _cupy_backend(args):
    cupy = _cupy_or_none()
    if cupy is None:
        raise TypeError(
            "linear_cross_entropy on numba device arrays needs CuPy for its matrix "
            "products (cuBLAS); install CuPy, or pass CuPy arrays or PyTorch CUDA tensors"
        )
    return CupyBlas(cupy)


def _torch_backend(args):
    return TorchBlas(importlib.import_module("torch"), args.torch_device)


BACKENDS.update({"cupy": _cupy_backend, "torch": _torch_backend, "numba": _cupy_backend})


def blas_for(args):
    """The :class:`DeviceBlas` for the caller's arrays (``args``: the call's ``DeviceArgs``)."""
    backend = BACKENDS[args.kind]
    return backend if isinstance(backend, DeviceBlas) else backend(args)
