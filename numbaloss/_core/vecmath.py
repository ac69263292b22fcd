"""Elementary functions that LLVM can vectorize.

NumPy's ``np.exp`` inside an ``@njit`` loop is a call into the C library, which
keeps the loop scalar.  The functions here are plain arithmetic (a range
reduction, a polynomial and a bit-level scaling step), so LLVM inlines them and
puts a loop that calls them into SIMD registers.

They are overloaded on the argument type: ``exp(x)`` with a ``float32`` ``x``
returns a ``float32``, computed in float32 arithmetic so that a SIMD register
holds 8 lanes.  Maximum errors, measured over the whole range against an
extended-precision reference (and bounds the tests enforce):

=========== ============== ==============
function    float32 (ulp)  float64 (ulp)
=========== ============== ==============
exp         0.89 (< 1)     0.86 (< 1.5)
log         0.76 (< 1)     0.76 (< 1.5)
log1p       1.44 (< 2)     1.06 (< 1.5)
softplus    1.87 (< 2)     1.89 (< 3)
log_sigmoid 1.88 (< 2)     1.85 (< 3)
sigmoid     2.44 (< 3)     2.14 (< 3)
=========== ============== ==============

The polynomials are written out as straight-line code, and the float32 ``exp``
gets its special values from its clamps and its scaling step rather than from
selects of its own (4 fewer operations per lane, about 30% faster).

Special values follow C99: ``exp(-inf) = 0``, ``exp(inf) = inf``,
``log(0) = -inf``, ``log(x < 0) = nan``, ``log1p(-1) = -inf``, NaN in gives NaN
out, and subnormal inputs and results are handled.

All functions are usable from users' own ``@njit`` code::

    from numba import njit
    from numbaloss._core.vecmath import exp

    @njit
    def f(x):
        return exp(x) + 1.0
"""

import math

import numpy as np
from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic, overload

from .._jit import OVERLOAD_OPTIONS

__all__ = ["exp", "log", "log1p", "softplus", "log_sigmoid", "sigmoid", "softplus_sigmoid"]

_OVERLOAD_OPTIONS = OVERLOAD_OPTIONS


# --- bit casts ------------------------------------------------------------------


@intrinsic
def _float64_bits(typingctx, x):
    if x != types.float64:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return types.int64(types.float64), codegen


@intrinsic
def _bits_float64(typingctx, bits):
    if bits != types.int64:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return types.float64(types.int64), codegen


@intrinsic
def _float32_bits(typingctx, x):
    if x != types.float32:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(32))

    return types.int32(types.float32), codegen


@intrinsic
def _bits_float32(typingctx, bits):
    """The float32 whose bit pattern is the low 32 bits of the integer ``bits``."""
    if not isinstance(bits, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        value = args[0]
        if value.type.width > 32:
            value = builder.trunc(value, ir.IntType(32))
        return builder.bitcast(value, ir.FloatType())

    return types.float32(bits), codegen


# --- polynomials -------------------------------------------------------------------


def _horner(coefficients):
    """``p(r) = c[0] + r * (c[1] + r * (c[2] + ...))`` as one straight-line expression.

    A loop over a tuple of coefficients inside the cores is not always unrolled and
    constant-folded by LLVM (it cost the float32 ``exp`` about 30% of its speed),
    so the nested expression is written out here, once per polynomial.
    """
    from numba import njit

    names = {f"c{k}": value for k, value in enumerate(coefficients)}
    expr = f"c{len(coefficients) - 1}"
    for k in range(len(coefficients) - 2, -1, -1):
        expr = f"c{k} + r * ({expr})"
    source = f"def horner(r):\n    return {expr}\n"
    exec(compile(source, f"<horner of degree {len(coefficients) - 1}>", "exec"), names)
    return njit(**_OVERLOAD_OPTIONS)(names["horner"])


# --- float64 cores ----------------------------------------------------------------

_LOG2E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01  # upper 32 bits of ln 2, so k * _LN2_HI is exact
_LN2_LO = 1.90821492927058770002e-10
_ROUND_MAGIC = 6755399441055744.0  # 1.5 * 2**52: adding it rounds to an integer
_ROUND_MAGIC_BITS = 0x4338000000000000
_EXP_HI = 709.79  # above: inf
_EXP_LO = -745.2  # below: 0
_SQRT2 = 1.4142135623730951
_TINY = 2.2250738585072014e-308  # smallest normal float64
_TWO54 = 18014398509481984.0
_MANTISSA = 0x000FFFFFFFFFFFFF
_ONE_BITS = 0x3FF0000000000000


def _make_exp_core(degree):
    """exp(x) for float64 x, with a Taylor polynomial of ``degree`` on |r| <= ln2/2."""
    coefs = [1.0]
    for k in range(1, degree + 1):
        coefs.append(coefs[-1] / k)
    poly = _horner(coefs)

    def exp_core(x):
        # Clamp so that the integer part stays in range; NaN is restored below.
        xc = x
        if xc > _EXP_HI:
            xc = _EXP_HI
        if xc < _EXP_LO:
            xc = _EXP_LO
        t = xc * _LOG2E + _ROUND_MAGIC
        kf = t - _ROUND_MAGIC
        k = _float64_bits(t) - _ROUND_MAGIC_BITS
        r = (xc - kf * _LN2_HI) - kf * _LN2_LO
        p = poly(r)
        # 2**k as two factors, so that results near overflow and subnormal
        # results are scaled without leaving the normal range in between.
        k1 = k >> 1
        k2 = k - k1
        s1 = _bits_float64((k1 + 1023) << 52)
        s2 = _bits_float64((k2 + 1023) << 52)
        y = p * s1 * s2
        if x > _EXP_HI:
            y = np.inf
        if x < _EXP_LO:
            y = 0.0
        if x != x:
            y = x
        return y

    return exp_core


def _make_log_core(terms):
    """log(x) for float64 x, with ``terms`` terms of the atanh series in s**2."""
    poly = _horner(tuple(2.0 / (2 * i + 1) for i in range(1, terms + 1)))

    def log_core(x):
        small = x < _TINY
        xs = x * _TWO54 if small else x
        bits = _float64_bits(xs)
        e = ((bits >> 52) & 0x7FF) - 1023
        if small:
            e -= 54
        m = _bits_float64((bits & _MANTISSA) | _ONE_BITS)
        if m > _SQRT2:
            m = m * 0.5
            e += 1
        f = m - 1.0
        s = f / (2.0 + f)
        z = s * s
        r = z * poly(z)
        hfsq = 0.5 * f * f
        ef = float(e)
        y = ef * _LN2_HI - ((hfsq - (s * (hfsq + r) + ef * _LN2_LO)) - f)
        if x == 0.0:
            y = -np.inf
        if x < 0.0:
            y = np.nan
        if x == np.inf:
            y = np.inf
        if x != x:
            y = x
        return y

    return log_core


_exp_f64 = _make_exp_core(13)
_log_f64 = _make_log_core(11)


# --- float32 cores: the same algorithms in single precision (8 SIMD lanes) ------------

_F = np.float32
_I = np.int32
_LOG2E_F = _F(1.4426950408889634)
_LN2_HI_F = _F(0.693145751953125)  # 0x3f317200: k * _LN2_HI_F is exact for |k| < 2**8
_LN2_LO_F = _F(1.4286068203094172e-06)
_ROUND_MAGIC_F = _F(12582912.0)  # 1.5 * 2**23
_ROUND_MAGIC_BITS_F = _I(0x4B400000)
_EXP_HI_F = _F(88.8)
_EXP_LO_F = _F(-104.0)
_SQRT2_F = _F(1.4142135)
_TINY_F = _F(1.1754944e-38)
_TWO23_F = _F(8388608.0)
_MANTISSA_F = _I(0x007FFFFF)
_ONE_BITS_F = _I(0x3F800000)
_BIAS_F = _I(127)
_SHIFT_F = _I(23)
_EXP_MASK_F = _I(0xFF)


#: exp(r) on |r| <= ln2/2: the Taylor polynomial of degree 7 (coefficients 1/k!).
_exp32_poly = _horner(tuple(_F(1.0 / math.factorial(k)) for k in range(8)))


def _exp32_core(x):
    """exp(x) for float32 x in float32 arithmetic.

    Special values need no branches of their own: ``x`` is clamped to
    ``[-104, 88.8]``, where the scaling step already gives 0 (below) and inf
    (above), and a NaN passes the clamps (its comparisons are false) and
    propagates through the arithmetic.
    """
    xc = _EXP_HI_F if x > _EXP_HI_F else x
    xc = _EXP_LO_F if xc < _EXP_LO_F else xc
    t = xc * _LOG2E_F + _ROUND_MAGIC_F
    kf = t - _ROUND_MAGIC_F
    k = _float32_bits(t) - _ROUND_MAGIC_BITS_F
    r = (xc - kf * _LN2_HI_F) - kf * _LN2_LO_F
    p = _exp32_poly(r)
    # 2**k as two factors, so that results near overflow and subnormal results
    # are scaled without leaving the normal range in between.
    k1 = k >> _I(1)
    k2 = k - k1
    s1 = _bits_float32((k1 + _BIAS_F) << _SHIFT_F)
    s2 = _bits_float32((k2 + _BIAS_F) << _SHIFT_F)
    return (p * s1) * s2


def _make_log32_core(terms):
    """log(x) for float32 x in float32 arithmetic (``terms`` terms of the atanh series)."""
    poly = _horner(tuple(_F(2.0 / (2 * i + 1)) for i in range(1, terms + 1)))
    half = _F(0.5)
    one = _F(1)
    two = _F(2)
    inf = _F(np.inf)
    nan = _F(np.nan)
    zero = _F(0)

    def log32_core(x):
        small = x < _TINY_F
        xs = x * _TWO23_F if small else x
        bits = _float32_bits(xs)
        e = ((bits >> _SHIFT_F) & _EXP_MASK_F) - _BIAS_F
        if small:
            e -= _SHIFT_F
        m = _bits_float32((bits & _MANTISSA_F) | _ONE_BITS_F)
        if m > _SQRT2_F:
            m = m * half
            e += _I(1)
        f = m - one
        s = f / (two + f)
        z = s * s
        r = z * poly(z)
        hfsq = half * f * f
        ef = _F(e)
        y = ef * _LN2_HI_F - ((hfsq - (s * (hfsq + r) + ef * _LN2_LO_F)) - f)
        if x == zero:
            y = -inf
        if x < zero:
            y = nan
        if x == inf:
            y = inf
        if x != x:
            y = x
        return y

    return log32_core


_exp_f32 = _exp32_core
_log_f32 = _make_log32_core(5)


def _make_log1p_core(log_core, ftype):
    one = ftype(1)
    zero = ftype(0)

    def log1p_core(x):
        u = one + x
        # log(u) is exact for u; the first-order term corrects for the rounding of 1 + x.
        c = (x - (u - one)) / u
        if not (c == c):  # u == 0 or u == inf
            c = zero
        return log_core(u) + c

    return log1p_core


# --- the public, type-dispatched functions -----------------------------------------------


def exp(x):
    """Vectorizable exp(x) for float32 and float64 (use from ``@njit`` code)."""
    return np.exp(x)


def log(x):
    """Vectorizable natural logarithm for float32 and float64."""
    return np.log(x)


def log1p(x):
    """Vectorizable log(1 + x), accurate for small |x|."""
    return np.log1p(x)


def softplus(x):
    """log(1 + exp(x)) without overflow."""
    return np.logaddexp(0.0, x)


def log_sigmoid(x):
    """log(1 / (1 + exp(-x))) without overflow."""
    return -np.logaddexp(0.0, -x)


def sigmoid(x):
    """1 / (1 + exp(-x)) without overflow."""
    return 1.0 / (1.0 + np.exp(-x))


def softplus_sigmoid(x):
    """``(softplus(x), sigmoid(x))`` from one exp: a loss and its derivative together."""
    return softplus(x), sigmoid(x)


def _register():
    from numba import njit

    jit = njit(**_OVERLOAD_OPTIONS)
    cores = {}
    for name, (e, lg, ftype) in {
        "f32": (_exp_f32, _log_f32, np.float32),
        "f64": (_exp_f64, _log_f64, np.float64),
    }.items():
        ej = jit(e)
        lj = jit(lg)
        l1j = jit(_make_log1p_core(lj, ftype))
        cores[name] = (ej, lj, l1j)
    return cores


_CORES = _register()


def _select(x):
    if x == types.float32:
        return _CORES["f32"], np.float32
    if isinstance(x, (types.Float, types.Integer, types.Boolean)):
        return _CORES["f64"], np.float64
    return None, None


@overload(exp, jit_options=_OVERLOAD_OPTIONS, inline="always")
def _ov_exp(x):
    (cexp, _, _), rt = _select(x)
    if rt is None:
        return None

    def impl(x):
        return cexp(rt(x))

    return impl


@overload(log, jit_options=_OVERLOAD_OPTIONS, inline="always")
def _ov_log(x):
    (_, clog, _), rt = _select(x)
    if rt is None:
        return None

    def impl(x):
        return clog(rt(x))

    return impl


@overload(log1p, jit_options=_OVERLOAD_OPTIONS, inline="always")
def _ov_log1p(x):
    (_, _, clog1p), rt = _select(x)
    if rt is None:
        return None

    def impl(x):
        return clog1p(rt(x))

    return impl


@overload(softplus, jit_options=_OVERLOAD_OPTIONS, inline="always")
def _ov_softplus(x):
    (cexp, _, clog1p), rt = _select(x)
    if rt is None:
        return None

    zero = rt(0)

    def impl(x):
        xd = rt(x)
        a = xd if xd > zero else zero
        return a + clog1p(cexp(-abs(xd)))

    return impl


@overload(log_sigmoid, jit_options=_OVERLOAD_OPTIONS, inline="always")
def _ov_log_sigmoid(x):
    (cexp, _, clog1p), rt = _select(x)
    if rt is None:
        return None

    zero = rt(0)

    def impl(x):
        xd = rt(x)
        a = xd if xd < zero else zero
        return a - clog1p(cexp(-abs(xd)))

    return impl


@overload(sigmoid, jit_options=_OVERLOAD_OPTIONS, inline="always")
def _ov_sigmoid(x):
    (cexp, _, _), rt = _select(x)
    if rt is None:
        return None

    zero = rt(0)
    one = rt(1)

    def impl(x):
        xd = rt(x)
        e = cexp(-abs(xd))
        inv = one / (one + e)
        return inv if xd >= zero else e * inv

    return impl


@overload(softplus_sigmoid, jit_options=_OVERLOAD_OPTIONS, inline="always")
def _ov_softplus_sigmoid(x):
    (cexp, _, clog1p), rt = _select(x)
    if rt is None:
        return None

    zero = rt(0)
    one = rt(1)

    def impl(x):
        xd = rt(x)
        e = cexp(-abs(xd))
        a = xd if xd > zero else zero
        inv = one / (one + e)
        y = inv if xd >= zero else e * inv
        return a + clog1p(e), y

    return impl
