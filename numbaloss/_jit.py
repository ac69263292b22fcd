"""The one place that holds numbaloss's JIT options.

Every compiled function in the package is built with one of the decorators below,
so that the options are chosen once:

* ``nogil=True``: kernels release the GIL, so the block scheduler in
  :mod:`numbaloss._core.parallel` can run them on several Python threads.
* ``error_model="numpy"``: division by zero gives inf/NaN as in NumPy instead of
  raising, which also removes the zero checks that block SIMD vectorization.
* ``cache=True``: compiled machine code is kept on disk next to the sources.
* fastmath flags that keep NaN and inf honest: never ``nnan``/``ninf``.

  - ``math_jit`` (scalar math helpers such as the vectorizable ``exp``) uses
    only ``contract`` (fused multiply-add) and ``nsz``; reassociation would
    break the compensated range reductions those helpers rely on.
  - ``kernel_jit`` (loops over data) adds ``reassoc``, which lets LLVM keep
    several partial sums in SIMD lanes.  LLVM fast-math flags live on each
    instruction, so helpers inlined into a kernel keep their own stricter flags.
    The partial sums of one block are always formed in the same order for the
    same compiled code, so results stay bitwise reproducible.
"""

from numba import njit

MATH_FASTMATH = frozenset({"contract", "nsz"})
KERNEL_FASTMATH = frozenset({"contract", "nsz", "reassoc"})

_COMMON = {"nogil": True, "error_model": "numpy", "cache": True}


def math_jit(func):
    """Compile a scalar helper that kernels (and users' own ``@njit`` code) inline."""
    return njit(fastmath=set(MATH_FASTMATH), **_COMMON)(func)


def kernel_jit(func):
    """Compile a kernel that loops over data."""
    return njit(fastmath=set(KERNEL_FASTMATH), **_COMMON)(func)


def plain_jit(func):
    """Compile a helper with no fast-math flags at all (exact IEEE semantics)."""
    return njit(**_COMMON)(func)
