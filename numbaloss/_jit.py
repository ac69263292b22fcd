"""The one place that holds numbaloss's JIT options.

Every compiled function in the package is built with one of the decorators below,
so that the options are chosen once:

* ``nogil=True``: kernels release the GIL, so the block scheduler in
  :mod:`numbaloss._core.parallel` can run them on several Python threads.
* ``error_model="numpy"``: division by zero gives inf/NaN as in NumPy instead of
  raising, which also removes the zero checks that block SIMD vectorization.
* ``cache=True`` for kernels: compiled machine code is kept on disk next to the
  sources (scalar helpers are compiled into the kernels that inline them).  The
  cache object is created on a kernel's first compilation, not at import
  (numba's ``cache=True`` probes the cache directory with a temporary file for
  every decorated function, which would cost ``import numbaloss`` about 0.4 ms
  per kernel); see :class:`DeferredCache`.
* fastmath flags that keep NaN and inf honest: never ``nnan``/``ninf``.

  - ``math_jit`` (per-element helpers: the losses' point functions) uses only
    ``contract`` (fused multiply-add) and ``nsz``.  These helpers are inlined
    by numba at the IR level, and IR-inlined code is compiled with the
    *calling kernel's* flags, ``reassoc`` included: write them so that
    regrouping cannot hurt (no compensated sums in them).
  - The precision-critical cores of :mod:`numbaloss._core.vecmath` (range
    reductions, compensated steps) are separate functions with ``contract`` and
    ``nsz`` only, reached through overloads and inlined by LLVM; LLVM keeps
    fast-math flags per instruction, so they keep their stricter flags inside
    any kernel.
  - ``kernel_jit`` (loops over data) adds ``reassoc``, which lets LLVM keep
    several partial sums in SIMD lanes.  The partial sums of one block are
    always formed in the same order for the same compiled code, so results stay
    bitwise reproducible.
"""

import functools
import pathlib

from numba import njit
from numba.core import event, ir_utils

MATH_FASTMATH = frozenset({"contract", "nsz"})
KERNEL_FASTMATH = frozenset({"contract", "nsz", "reassoc"})

_COMMON = {"nogil": True, "error_model": "numpy"}

#: ``jit_options`` of every ``@overload`` in the package (the helpers' options).
_OVERLOAD_OPTIONS = {"fastmath": set(MATH_FASTMATH), **_COMMON}


class FreshBlockLabels(event.Listener):
    """Start every outermost numba compilation with the block labels of a new process.

    numba numbers the basic blocks of the IR with one process-wide counter
    (``numba.core.ir_utils._the_max_label``).  Inlining a helper at the IR level
    (``inline="always"``, as :func:`math_jit` and :func:`jit_overload` do) shifts the
    helper's labels past the counter, and a helper that has inlined others already
    carries labels near the counter, so the shifted labels are about twice the
    counter and the counter doubles.  numbaloss's kernels nest such helpers, so each
    kernel compiled adds about 14 bits to the counter; after some 240 kernels in one
    process the labels have over 1000 digits and LLVM refuses the IR ("LLVM IR
    parsing error: name is too long"), which a long test run or ``numbaloss compile``
    reaches.  Labels need only be unique within the function being compiled, which
    numba ensures from any starting value, so the counter is set back to 0 (the value
    in a new process) when an outermost compilation starts; nested compilations
    (overloads, helpers) keep counting.  Compilations hold numba's global compiler
    lock, so one depth counter serves all threads.  Checked by
    ``tests/core/test_numba_workarounds.py::test_block_labels_stay_small`` (and its
    companion that shows numba's own growth, which fails once numba stops it).
    """

    def __init__(self):
        self.depth = 0

    def on_start(self, event):
        if self.depth == 0:
            ir_utils._the_max_label._value = 0
        self.depth += 1

    def on_end(self, event):
        self.depth -= 1


#: registered at import; tests/core/test_numba_workarounds.py takes it off to show numba alone
FRESH_BLOCK_LABELS = FreshBlockLabels()
event.register("numba:compile", FRESH_BLOCK_LABELS)


def math_jit(func):
    """Compile a scalar helper that kernels (and users' own ``@njit`` code) inline.

    Helpers are inlined into their callers by numba itself (``inline="always"``):
    LLVM's own inliner gives up on a helper that already holds an inlined ``exp``
    and ``log``, and a call left in a loop keeps the loop scalar
    (``tests/core/test_numba_workarounds.py::
    test_ir_inlined_helper_with_exp_and_log_vectorizes`` shows both).  For the same
    reason helpers are *not* cached on disk: a function loaded from the cache is linked
    as machine code, which LLVM cannot inline into the calling loop, and the loop
    would then stay scalar.  The kernels that call them are cached, with the
    helpers inlined.
    """
    return njit(fastmath=set(MATH_FASTMATH), inline="always", **_COMMON)(func)


def core_jit(func):
    """Compile a precision-critical core that LLVM, not numba, inlines into callers.

    The cores of :mod:`numbaloss._core.vecmath` (range reductions, compensated
    steps, polynomials) keep ``contract`` and ``nsz`` alone: LLVM keeps fast-math
    flags per instruction, so they keep them inside a kernel compiled with
    ``reassoc``, which an IR-inlined helper (:func:`math_jit`) would not.
    """
    return njit(fastmath=set(MATH_FASTMATH), **_COMMON)(func)


def jit_overload(func, *, inline=True):
    """``@overload(func)`` with the helpers' options, for compile-time dispatch.

    ``inline=True`` inlines the implementation at numba's IR level, as
    :func:`math_jit` does for helpers; ``inline=False`` leaves it to LLVM (for
    implementations too large to copy into every caller).
    """
    from numba.extending import overload

    return overload(func, jit_options=_OVERLOAD_OPTIONS, inline="always" if inline else "never")


@functools.cache
def _package_stamp():
    """``(path, mtime, size)`` of every module of the package, read once per process."""
    root = pathlib.Path(__file__).resolve().parent
    stamps = []
    for path in sorted(root.rglob("*.py")):
        st = path.stat()
        stamps.append((str(path.relative_to(root)), st.st_mtime, st.st_size))
    return tuple(stamps)


class DeferredCache:
    """numba's on-disk cache of one function, created when it is first needed.

    It stands in for the ``FunctionCache`` that ``cache=True`` would build at
    decoration time: the dispatcher consults its cache only when it compiles a new
    signature (under numba's compiler lock), and only then is the real cache, with
    its index keyed on the source file's modification time and size, created.

    numba's key covers only the kernel's own file, while our kernels inline helpers
    from other modules (the vectorizable math, the point functions, the core's
    building blocks): the key here also holds the modification times and sizes of
    every module of the package, so that editing any of them recompiles.
    """

    __slots__ = ("_py_func", "_cache")

    def __init__(self, py_func):
        self._py_func = py_func
        self._cache = None

    def _real(self):
        if self._cache is None:
            from numba.core.caching import FunctionCache

            cache = FunctionCache(self._py_func)
            index = cache._cache_file
            index._source_stamp = (index._source_stamp, _package_stamp())
            self._cache = cache
        return self._cache

    def __getattr__(self, name):
        return getattr(self._real(), name)


def _cached(dispatcher, func):
    """``dispatcher`` with its on-disk cache (a :class:`DeferredCache`)."""
    if hasattr(dispatcher, "_cache"):
        dispatcher._cache = DeferredCache(func)
    else:  # pragma: no cover - a numba without the attribute: cache eagerly
        dispatcher.enable_caching()
    return dispatcher


def kernel_jit(func):
    """Compile a kernel that loops over data (cached on disk)."""
    return _cached(njit(fastmath=set(KERNEL_FASTMATH), **_COMMON)(func), func)


def user_math_jit(func):
    """Compile a per-element function of :mod:`numbaloss.jit`, for users' own code.

    The options of :func:`math_jit`: inlined at numba's IR level into a caller's
    ``@njit`` function (no call per element in the caller's loop, which is
    compiled with the caller's own flags), and also cached on disk for calls from
    Python, where the function is compiled on its own.  The
    per-row functions of :mod:`numbaloss.jit`, which loop over a row, are
    :func:`kernel_jit` kernels.
    """
    return _cached(njit(fastmath=set(MATH_FASTMATH), inline="always", **_COMMON)(func), func)


def user_function_kernel_jit(func):
    """Compile a kernel that takes a user's ``@njit`` function as an argument.

    Such kernels are not cached on disk: every user function is a new
    specialisation, and caching them would add an index entry per function and
    process.  Options are otherwise those of :func:`kernel_jit`.
    """
    return njit(fastmath=set(KERNEL_FASTMATH), **_COMMON)(func)
