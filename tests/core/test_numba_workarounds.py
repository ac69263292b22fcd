"""Regression tests for the comments in numbaloss/ that work around numba behaviour.

Each test checks what one such comment claims, on small functions compiled here
(not the package's cached kernels, whose LLVM IR is not kept), so that removing
the workaround, or a numba release that changes the behaviour, shows up here.
"""

import math
import platform
import re

import numpy as np
import pytest
from numba import njit

from numbaloss._core.traits import index
from numbaloss._core.vecmath import exp, log
from numbaloss._jit import KERNEL_FASTMATH, MATH_FASTMATH, math_jit


def _kernel(func):
    """``kernel_jit``'s options without its disk cache (the IR is wanted)."""
    return njit(fastmath=set(KERNEL_FASTMATH), nogil=True, error_model="numpy")(func)


def _llvm(dispatcher):
    (ir,) = dispatcher.inspect_llvm().values()
    return ir


def _vector_types(ir):
    return set(re.findall(r"<(\d+) x (?:float|double)>", ir))


# --- _core/traits.py index(): numba wraps negative signed indices -------------------


@_kernel
def _copy_signed(a, out, lo, m):
    for j in range(m):
        out[j] = a[lo + j] * 2.0


@_kernel
def _copy_unsigned(a, out, lo, m):
    for j in range(m):
        out[j] = a[index(lo + j)] * 2.0


def _compiled_copies():
    a = np.arange(300, dtype=np.float32)
    for func in (_copy_signed, _copy_unsigned):
        out = np.empty(256, np.float32)
        func(a, out, 10, 256)
        np.testing.assert_array_equal(out, a[10:266] * 2)
    return _llvm(_copy_signed), _llvm(_copy_unsigned)


def test_unsigned_index_gives_contiguous_vector_loads():
    """traits.index: with ``index(lo + j)`` the loop loads whole vectors, no gathers."""
    _, unsigned = _compiled_copies()
    assert "masked.gather" not in unsigned
    assert re.search(r"load <\d+ x float>", unsigned)


def test_numba_still_wraps_a_signed_index():
    """The behaviour index() works around (numba/numba#3205: no opt-out of the
    wraparound): ``a[lo + j]`` becomes a gather.  When this fails, numba no longer
    wraps such indices and index() may go."""
    signed, _ = _compiled_copies()
    assert "masked.gather" in signed or not re.search(r"load <\d+ x float>", signed)


# --- _jit.py math_jit: helpers inlined by numba, or the loop stays scalar ------------


@math_jit
def _point(x):
    return log(1.0 + exp(-x))


_point_not_inlined = njit(fastmath=set(MATH_FASTMATH), nogil=True, error_model="numpy")(
    _point.py_func
)


@_kernel
def _loop_inlined(a, out):
    for j in range(a.size):
        out[j] = _point(a[j])


@_kernel
def _loop_called(a, out):
    for j in range(a.size):
        out[j] = _point_not_inlined(a[j])


def test_ir_inlined_helper_with_exp_and_log_vectorizes():
    """_jit.math_jit: a helper holding vecmath's exp and log, inlined by numba
    (``inline="always"``), gives a vectorized loop; left as a call, the loop stays
    scalar (the comment's reason for IR inlining)."""
    a = np.linspace(-5, 5, 64, dtype=np.float32)
    out_inlined, out_called = np.empty_like(a), np.empty_like(a)
    _loop_inlined(a, out_inlined)
    _loop_called(a, out_called)
    np.testing.assert_allclose(out_inlined, out_called, rtol=1e-6)
    assert _vector_types(_llvm(_loop_inlined))
    assert not _vector_types(_llvm(_loop_called))


# --- _core/vecmath.py _invariant: constants through llvm.arithmetic.fence -----------


@pytest.mark.skipif(
    platform.machine().lower() not in ("x86_64", "amd64"), reason="fences only on x86-64"
)
def test_vecmath_constants_pass_through_arithmetic_fence():
    """vecmath._invariant: on x86-64 the cores' constants reach the kernel through
    ``llvm.arithmetic.fence`` (so LLVM keeps them as loop invariants)."""
    _loop_inlined(np.ones(8, np.float32), np.empty(8, np.float32))
    assert "llvm.arithmetic.fence" in _llvm(_loop_inlined)


# --- ctc/cpu.py: the short exp/log cores share their factory with vecmath's ---------


def test_cores_of_one_factory_stay_apart_in_one_function():
    """ctc.cpu: ``_exp_short``/``_log_short`` come from vecmath's factories (built
    with ``core_jit``, not ``math_jit``, because numba's IR inliner was seen to mix
    up closures of one factory).  Called next to vecmath's own exp/log in one
    compiled function, each must still give its own bits."""
    from numbaloss.ctc.cpu import _exp_short, _log_short

    @njit
    def together(x):
        return _exp_short(x), exp(x), _log_short(x), log(x)

    @njit
    def short_alone(x):
        return _exp_short(x), _log_short(x)

    @njit
    def full_alone(x):
        return exp(x), log(x)

    differs = False
    for x in (0.3, 1.7, 5.5, 123.4):
        e_short, e_full, l_short, l_full = together(x)
        assert (e_short, l_short) == short_alone(x)
        assert (e_full, l_full) == full_alone(x)
        assert math.isclose(e_short, math.exp(x), rel_tol=1e-7)
        differs |= e_short != e_full or l_short != l_full
    assert differs  # the short polynomials really are other functions


# --- _jit.py FreshBlockLabels: numba's block-label counter doubles per nested inline --


@math_jit
def _nested_1(x):
    return x + 1.0 if x > 0 else x - 1.0


@math_jit
def _nested_2(x):
    return _nested_1(x) * 2.0 if x > 1 else _nested_1(-x)


@math_jit
def _nested_3(x):
    return _nested_2(x) - 1.0 if x > 2 else _nested_2(x + 1.0)


def _label_bits_after_compiling(count):
    """The bit length of numba's block-label counter after compiling ``count`` new
    functions that inline a three-deep chain of ``math_jit`` helpers."""
    from numba.core import ir_utils

    for k in range(count):

        @_kernel
        def outer(a, k=float(k)):
            total = 0.0
            for v in a:
                total += _nested_3(v + k)
            return total

        assert outer(np.arange(3.0)) == sum(
            _nested_3.py_func(v + k) for v in np.arange(3.0)
        )  # a new function each time: each call compiles
    return int(ir_utils._the_max_label._value).bit_length()


def test_block_labels_stay_small():
    """With the listener, each outermost compilation starts from a new process's
    counter: the labels stay short however many kernels a process compiles."""
    first = _label_bits_after_compiling(1)
    assert _label_bits_after_compiling(12) <= first + 8


def test_numba_still_doubles_block_labels_per_nested_inline():
    """Without it, numba's counter grows by bits per compilation (by about 14 for a
    numbaloss kernel, so some 240 kernels give labels LLVM refuses).  When this
    fails, numba stopped the growth and ``FreshBlockLabels`` may go."""
    from numba.core import event

    from numbaloss import _jit

    event.unregister("numba:compile", _jit.FRESH_BLOCK_LABELS)
    try:
        before = _label_bits_after_compiling(1)
        after = _label_bits_after_compiling(12)
    finally:
        event.register("numba:compile", _jit.FRESH_BLOCK_LABELS)
    assert after >= before + 12
