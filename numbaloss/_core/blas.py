"""Matrix products on the host, in place, through the BLAS that SciPy ships.

``numpy.matmul`` writes a new array (or ``out``) but cannot *add* a product into an
array; a chunked loss that sums the weight gradient over chunks would need a
temporary of the gradient's size and an extra pass over it per chunk.  BLAS's
``gemm`` does ``C = A @ B + beta * C`` in place: :func:`gemm` reaches it through
``scipy.linalg.blas`` (the OpenBLAS bundled with SciPy, multi-threaded), without
copying any operand:

* the caller's arrays are C-ordered (or Fortran-ordered) NumPy arrays; BLAS is
  Fortran, so ``C = A @ B`` (C order) is computed as ``C.T = B.T @ A.T`` (Fortran
  order), and each operand is passed as whichever of itself or its transpose is
  Fortran-contiguous, with the matching ``trans`` flag;
* ``C`` must be C- or Fortran-contiguous and of the operands' dtype (float32 or
  float64); it is written in place (``overwrite_c``), which :func:`gemm` checks.  The
  output's order decides which of the two formulations BLAS gets, and their speeds
  can differ several times over: OpenBLAS computes ``G @ W`` for a chunk ``G`` of
  256 x 32000 and ``W`` of 32000 x 512 (both C-ordered) about 2.5 times faster into a
  Fortran-ordered output than into a C-ordered one (the long inner dimension is then
  contiguous in both operands' packing).

Bits: a product is deterministic for one BLAS build, CPU and thread setting.
OpenBLAS splits a multi-threaded product over the output's rows and columns, so on
the machines it was checked on (``tests/softmax/test_linear_cross_entropy.py``) any
number of threads from 2 up gives the same bits; single-threaded OpenBLAS
(``OPENBLAS_NUM_THREADS=1``, ``threadpoolctl``'s ``threadpool_limits(1)``) takes
another code path and may round some products differently in the last bit.  Another
OpenBLAS version or CPU family (OpenBLAS picks its kernels by CPU) may differ too.

SciPy is imported on the first product, not at ``import numbaloss``.
"""

import numpy as np

_GEMM = {}


def _routine(dtype):
    fn = _GEMM.get(dtype)
    if fn is None:
        from scipy.linalg import blas

        fn = {np.dtype(np.float32): blas.sgemm, np.dtype(np.float64): blas.dgemm}[dtype]
        _GEMM[dtype] = fn
    return fn


def _fortran_operand(a):
    """``(f, trans)`` with ``f`` Fortran-contiguous and ``op(f) == a.T`` (no copy)."""
    if a.flags.c_contiguous:
        return a.T, 0
    if a.flags.f_contiguous:
        return a, 1
    raise ValueError(f"BLAS operand of shape {a.shape} must be C- or Fortran-contiguous")


def gemm(a, b, c, beta=0.0):
    """``c[...] = a @ b + beta * c`` in place (``beta=0``: ``c``'s old values are ignored).

    ``a`` ``(m, k)`` and ``b`` ``(k, n)`` C- or Fortran-contiguous (e.g. transposed
    views of C-ordered arrays), ``c`` ``(m, n)`` C- or Fortran-contiguous, all of one
    dtype, float32 or float64.  Returns ``c``.
    """
    m, k = a.shape
    n = b.shape[1]
    if not (c.flags.c_contiguous or c.flags.f_contiguous) or c.shape != (m, n):
        raise ValueError(f"gemm output must be a contiguous ({m}, {n}) array")
    if a.dtype != c.dtype or b.dtype != c.dtype:
        raise ValueError(f"gemm operands must all be {c.dtype}; got {a.dtype} and {b.dtype}")
    if m == 0 or n == 0:
        return c
    if k == 0:  # an empty sum (BLAS wrappers refuse zero-size operands)
        if beta == 0:
            c.fill(0)
        elif beta != 1:
            c *= beta
        return c
    routine = _routine(c.dtype)
    if c.flags.c_contiguous:
        # C.T (n, m) = op(bt) (n, k) @ op(at) (k, m), with op(bt) = b.T and op(at) = a.T
        bt, trans_b = _fortran_operand(b)
        at, trans_a = _fortran_operand(a)
        out = routine(
            1.0, bt, at, beta=beta, c=c.T, trans_a=trans_b, trans_b=trans_a, overwrite_c=1
        )
        written = out.T
    else:
        # C (m, n) = op(af) @ op(bf), with op(af) = a and op(bf) = b
        af, trans_a = _fortran_operand(a.T)
        bf, trans_b = _fortran_operand(b.T)
        written = routine(
            1.0, af, bf, beta=beta, c=c, trans_a=trans_a, trans_b=trans_b, overwrite_c=1
        )
    if not np.shares_memory(written, c):  # pragma: no cover - SciPy's wrapper writes c itself
        c[...] = written
    return c
