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
exp         0.89 (< 1)     0.88 (< 1.5)
log         0.89 (< 1)     0.76 (< 1.5)
log1p       1.44 (< 2)     1.06 (< 1.5)
softplus    1.51 (< 2)     1.89 (< 3)
log_sigmoid 1.52 (< 2)     1.85 (< 3)
sigmoid     2.44 (< 3)     2.57 (< 3)
=========== ============== ==============

What makes them fast inside the losses' loops, measured on an AMD EPYC (Zen 3):

* The polynomials are written out as straight-line code, with the leading terms
  by Horner's rule and the rest by Estrin's scheme (:func:`polynomial`): a loop of
  ``log`` or ``exp`` is bound by the length of each element's chain of dependent
  operations, not by their number.
* The constants are loop invariants (:func:`_invariant`), not constant-pool loads
  at every use.
* ``log`` reduces its argument with integer operations only (no compare, select
  or multiplication, see :func:`_make_log_cores`); the float32 ``log`` has no
  division (a degree-7 polynomial for ``log(1 + f)``), and the float32 ``exp``
  gets its special values from its clamps and its scaling step rather than from
  selects of its own.
* The softplus family (softplus, log_sigmoid, sigmoid) only ever needs ``exp`` of
  a non-positive argument and ``log1p`` on ``[0, 1]``, and uses cores specialised
  to those ranges: in float32, ``log1p(e)`` on ``[0, 1]`` is one polynomial, with
  no range reduction and no division.  :func:`exp_minus_abs` and
  :func:`softplus_sigmoid_given_exp` are :func:`softplus_sigmoid`'s two halves,
  for kernels that run them in separate loops (fewer live values per loop).

What these gained is in docs/benchmarks.rst, "Measured design choices".

Special values follow C99: ``exp(-inf) = 0``, ``exp(inf) = inf``,
``log(0) = -inf``, ``log(x < 0) = nan``, ``log1p(-1) = -inf``, NaN in gives NaN
out, and subnormal inputs and results are handled.  :func:`log_nonnegative` is
``log`` without those checks (faster in a loop), for callers that rule
out or handle such arguments themselves, and :func:`log_unit_interval` is that for
arguments in ``[0, 1]``, which need no test for subnormal numbers.

All functions are usable from users' own ``@njit`` code::

    from numba import njit
    from numbaloss._core.vecmath import exp

    @njit
    def f(x):
        return exp(x) + 1.0
"""

import math
import platform
from collections import namedtuple

import numpy as np
from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic

from .._jit import core_jit, jit_overload

__all__ = [
    "exp",
    "log",
    "log1p",
    "log_nonnegative",
    "log_unit_interval",
    "softplus",
    "log_sigmoid",
    "sigmoid",
    "softplus_sigmoid",
    "exp_minus_abs",
    "softplus_sigmoid_given_exp",
]


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


# --- constants kept as loop invariants -------------------------------------------

#: Whether :func:`_invariant` hides constants (x86-64, where it was measured to pay).
_HIDE_CONSTANTS = platform.machine().lower() in ("x86_64", "amd64")


def _fence(builder, value):
    fence = builder.module.declare_intrinsic("llvm.arithmetic.fence", [value.type])
    return builder.call(fence, [value])


def _hide(builder, value):
    """``value`` passed through ``llvm.arithmetic.fence`` (integers via a bit cast)."""
    if isinstance(value.type, (ir.FloatType, ir.DoubleType)):
        return _fence(builder, value)
    float_type = ir.FloatType() if value.type.width == 32 else ir.DoubleType()
    return builder.bitcast(_fence(builder, builder.bitcast(value, float_type)), value.type)


@intrinsic
def _invariant(typingctx, values):
    """``values`` (a tuple of numbers) unchanged, but opaque to LLVM's constant folding.

    The cores' constants (polynomial coefficients, thresholds, masks) are about
    twenty per function.  As literal constants, LLVM re-loads each of them from the
    constant pool inside the vectorized loop, at every use: on x86-64 with numba's
    large code model that is an address load and a broadcast per constant and
    vector, half of a ``log``'s instructions.  Passed through
    ``llvm.arithmetic.fence`` (a no-op that LLVM may hoist but not fold), they
    become loop invariants: computed once before the loop and kept in registers,
    or spilled once and used as memory operands.  The fence also keeps fast-math
    regrouping from reaching into the constants; the arithmetic is unchanged.
    """
    if not isinstance(values, types.BaseTuple) or not all(
        isinstance(t, (types.Float, types.Integer)) and t.bitwidth in (32, 64) for t in values
    ):
        return None

    def codegen(context, builder, signature, args):
        (packed,) = args
        if not _HIDE_CONSTANTS:
            return packed
        for k in range(len(signature.args[0])):
            packed = builder.insert_value(
                packed, _hide(builder, builder.extract_value(packed, k)), k
            )
        return packed

    return values(values), codegen


# --- polynomials -------------------------------------------------------------------


def _estrin_expr(names):
    """Estrin's scheme for the coefficients ``names`` of a polynomial in ``r`` (source text).

    ``p = low + r**h * high`` with ``h`` the largest power of two below the length,
    each half again by the same rule (``r1``, ``r2``, ``r4`` ... name the powers):
    the multiplications run side by side, so the chain of dependent operations is
    about ``2 log2(degree)`` long instead of the ``degree`` fused multiply-adds of
    Horner's rule.
    """
    if len(names) == 1:
        return names[0]
    h = 1
    while 2 * h < len(names):
        h *= 2
    return f"({_estrin_expr(names[:h])}) + r{h} * ({_estrin_expr(names[h:])})"


def polynomial(coefficients):
    """``p(r) = c[0] + c[1] r + c[2] r**2 + ...`` as one straight-line expression.

    The expression is written out here, once per polynomial: a loop over a tuple of
    coefficients inside the cores is not always unrolled and constant-folded by
    LLVM (cost: docs/benchmarks.rst, "Measured design choices").

    ``c[0] + r * (c[1] + r * t(r))``: the two leading terms by Horner's rule, which
    keeps the rounding of the result at that of the last two operations, and the
    tail ``t`` by Estrin's scheme (:func:`_estrin_expr`), whose errors are scaled
    down by ``r**2``.  The vectorized loops of the losses are bound by the length of
    each element's chain of dependent operations (the processor's window holds only
    a few elements' worth of an ``exp`` or ``log``), and Estrin's scheme shortens the
    tail's part of that chain from one fused multiply-add per coefficient to about
    two per doubling, for a few more multiplications.
    """

    n = len(coefficients)
    names = {f"k{k}": value for k, value in enumerate(coefficients)}
    names["_invariant"] = _invariant
    local = ", ".join(f"c{k}" for k in range(n))
    known = ", ".join(f"k{k}" for k in range(n))
    lines = ["def horner(r):", f"    {local}, = _invariant(({known},))", "    r1 = r"]
    tail = [f"c{k}" for k in range(2, n)]
    power = 1
    while 2 * power < len(tail):
        lines.append(f"    r{2 * power} = r{power} * r{power}")
        power *= 2
    expr = _estrin_expr(tail) if tail else "0"
    head = [f"c{k}" for k in range(min(n, 2))]
    for name in reversed(head):
        expr = f"{name} + r * ({expr})" if expr != "0" else name
    lines.append(f"    return {expr}")
    source = "\n".join(lines) + "\n"
    exec(compile(source, f"<polynomial of degree {n - 1}>", "exec"), names)
    return core_jit(names["horner"])


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
_SQRT_HALF_BITS = 0x3FE6A09E667F3BCD  # sqrt(1/2) rounded to nearest
_BIAS = 1023


#: exp(r) on |r| <= ln2/2: the Taylor polynomial of degree 13.
_exp64_poly = polynomial(tuple(1.0 / math.factorial(k) for k in range(14)))
#: The atanh series of log, 11 terms in s**2.
_log64_poly = polynomial(tuple(2.0 / (2 * i + 1) for i in range(1, 12)))


def make_exp_core(poly):
    """exp(x) for float64 x, with the polynomial ``poly`` on |r| <= ln2/2."""

    def exp_core(x):
        hi, lo, log2e, magic, magic_bits, ln2_hi, ln2_lo, bias, inf, zero = _invariant(
            (
                _EXP_HI,
                _EXP_LO,
                _LOG2E,
                _ROUND_MAGIC,
                _ROUND_MAGIC_BITS,
                _LN2_HI,
                _LN2_LO,
                _BIAS,
                np.inf,
                0.0,
            )
        )
        # Clamp so that the integer part stays in range; NaN is restored below.
        xc = x
        if xc > hi:
            xc = hi
        if xc < lo:
            xc = lo
        t = xc * log2e + magic
        kf = t - magic
        k = _float64_bits(t) - magic_bits
        r = (xc - kf * ln2_hi) - kf * ln2_lo
        p = poly(r)
        # 2**k as two factors, so that results near overflow and subnormal
        # results are scaled without leaving the normal range in between.
        k1 = k >> 1
        k2 = k - k1
        s1 = _bits_float64((k1 + bias) << 52)
        s2 = _bits_float64((k2 + bias) << 52)
        y = p * s1 * s2
        if x > hi:
            y = inf
        if x < lo:
            y = zero
        if x != x:
            y = x
        return y

    return exp_core


def _with_special_values(finite_core, ftype):
    """``log`` from ``finite_core`` (a log of finite ``x >= 0``): zeros, negative
    numbers, inf and NaN as C99 has them."""

    finite = core_jit(finite_core)
    zero_, inf_, nan_ = ftype(0), ftype(np.inf), ftype(np.nan)

    def log_core(x):
        zero, inf, nan = _invariant((zero_, inf_, nan_))
        y = finite(x)
        if x == zero:
            y = -inf
        if x < zero:
            y = nan
        if x == inf:
            y = inf
        if x != x:
            y = x
        return y

    return log_core


def _make_log_cores(
    bits_of,
    float_of,
    itype,
    ftype,
    mantissa_bits,
    bias,
    sqrt_half_bits,
    tiny,
    scale_exponent,
    from_reduced,
):
    """``(log_finite, log_unit_interval)``: cores of log for one float type.

    Both write ``x = 2**e * m`` with ``sqrt(1/2) <= m < sqrt(2)`` and return
    ``from_reduced(m - 1, e)``.  The reduction is integer arithmetic only: adding
    the distance between the bit patterns of 1 and sqrt(1/2) to the bit pattern of
    ``x`` carries the mantissas at or above sqrt(2) into the next exponent, so the
    exponent and mantissa fields of the sum, the mantissa re-based at sqrt(1/2),
    are already folded around 1 (musl's ``logf`` reduces the same way), with no
    compare, select or multiplication.

    * ``log_finite(x)``: finite ``x >= 0``.  A subnormal ``x`` is first scaled by
      ``2**scale_exponent`` into the normal range.
    * ``log_unit_interval(x)``: ``0 <= x <= 1`` (and anything up to
      ``2**(emax - scale_exponent)``).  It always scales, which cannot overflow
      there, and so needs no test for subnormals: three operations fewer.

    log(0) is finite in both, ``-(bias + scale_exponent) * ln 2`` (log(-0.0) is
    finite and lower).  Negative, infinite and NaN arguments give meaningless finite
    values.
    """

    jit = core_jit
    one_ = ftype(1)
    scale_ = ftype(2.0**scale_exponent)
    fold_ = itype(int(np.array(1, ftype).view(itype)) - sqrt_half_bits)
    mantissa_ = itype((1 << mantissa_bits) - 1)
    exponent_mask_ = itype((1 << (8 * np.dtype(itype).itemsize - 1 - mantissa_bits)) - 1)
    constants = (fold_, itype(sqrt_half_bits), mantissa_, exponent_mask_, one_)
    biases = (itype(bias), itype(bias + scale_exponent))
    tiny_ = ftype(tiny)
    wide = np.dtype(itype).itemsize == 8

    @jit
    def log_scaled(xs, b):
        """log(xs) - (b - bias) ln 2 for a normal or zero ``xs``."""
        fold, low, mantissa, exponent_mask, one = _invariant(constants)
        ix = itype(bits_of(xs) + fold)
        e = ix >> mantissa_bits
        if wide:
            # the mask makes it a logical shift: AVX2 has no arithmetic shift of
            # 64-bit lanes, but a logical one
            e &= exponent_mask
        # (Without the mask, -0.0's sign bit leaves an exponent below -256, and
        # log(-0.0) below log(0.0).)
        e = np.int32(e - b)
        f = float_of((ix & mantissa) + low) - one
        return from_reduced(f, ftype(e))

    def log_finite(x):
        tiny, scale, b_normal, b_scaled = _invariant((tiny_, scale_) + biases)
        small = x < tiny
        return log_scaled(x * scale if small else x, b_scaled if small else b_normal)

    def log_unit_interval(x):
        scale, b_scaled = _invariant((scale_, biases[1]))
        return log_scaled(x * scale, b_scaled)

    return log_finite, log_unit_interval


def _make_log64_cores(poly):
    """:func:`_make_log_cores` for float64, with the atanh series ``poly`` in s**2."""

    @core_jit
    def from_reduced(f, ef):
        half, two, ln2_hi, ln2_lo = _invariant((0.5, 2.0, _LN2_HI, _LN2_LO))
        s = f / (two + f)
        z = s * s
        r = z * poly(z)
        hfsq = half * f * f
        return ef * ln2_hi - ((hfsq - (s * (hfsq + r) + ef * ln2_lo)) - f)

    return _make_log_cores(
        _float64_bits,
        _bits_float64,
        np.int64,
        np.float64,
        52,
        _BIAS,
        _SQRT_HALF_BITS,
        _TINY,
        54,
        from_reduced,
    )


def make_log_core(poly):
    """log(x) for float64 x, with the atanh series ``poly`` in s**2."""
    return _with_special_values(_make_log64_cores(poly)[0], np.float64)


_exp_f64 = make_exp_core(_exp64_poly)
_log_finite_f64, _log_unit_interval_f64 = _make_log64_cores(_log64_poly)
_log_f64 = _with_special_values(_log_finite_f64, np.float64)


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
_SQRT_HALF_BITS_F = 0x3F3504F3  # sqrt(1/2) rounded to nearest
_BIAS_F = _I(127)
_SHIFT_F = _I(23)


#: exp(r) on |r| <= ln2/2: the Taylor polynomial of degree 7 (coefficients 1/k!).
_exp32_poly = polynomial(tuple(_F(1.0 / math.factorial(k)) for k in range(8)))


def _exp32_core(x):
    """exp(x) for float32 x in float32 arithmetic.

    Special values need no branches of their own: ``x`` is clamped to
    ``[-104, 88.8]``, where the scaling step already gives 0 (below) and inf
    (above), and a NaN passes the clamps (its comparisons are false) and
    propagates through the arithmetic.
    """
    hi, lo, log2e, magic, magic_bits, ln2_hi, ln2_lo, bias = _invariant(
        (
            _EXP_HI_F,
            _EXP_LO_F,
            _LOG2E_F,
            _ROUND_MAGIC_F,
            _ROUND_MAGIC_BITS_F,
            _LN2_HI_F,
            _LN2_LO_F,
            _BIAS_F,
        )
    )
    xc = hi if x > hi else x
    xc = lo if xc < lo else xc
    t = xc * log2e + magic
    kf = t - magic
    k = _float32_bits(t) - magic_bits
    r = (xc - kf * ln2_hi) - kf * ln2_lo
    p = _exp32_poly(r)
    # 2**k as two factors, so that results near overflow and subnormal results
    # are scaled without leaving the normal range in between.
    k1 = k >> _I(1)
    k2 = k - k1
    s1 = _bits_float32((k1 + bias) << _SHIFT_F)
    s2 = _bits_float32((k2 + bias) << _SHIFT_F)
    return (p * s1) * s2


#: log(1 + f) = f - f**2/2 + f**3 P(f) on sqrt(1/2) - 1 <= f <= sqrt(2) - 1, with P
#: of degree 7 (Cephes' logf has degree 8): a minimax fit of the relative error
#: of log(1 + f) by Lawson's iteration at 3000 Chebyshev nodes, with each
#: coefficient rounded to float32 before the next ones were refitted.  Its own
#: error is 0.1 ulp; the float32 log is 0.85 ulp at most (every float32 in [0.5, 2]).
_LOG32_COEFFICIENTS = (
    0.3333333134651184,
    -0.2500081956386566,
    0.2000124305486679,
    -0.1662341058254242,
    0.14201539754867554,
    -0.13159550726413727,
    0.12762485444545746,
    -0.07636940479278564,
)
_log32_poly = polynomial(tuple(_F(c) for c in _LOG32_COEFFICIENTS))


def _make_log32_cores(poly):
    """:func:`_make_log_cores` for float32, with the polynomial ``poly`` (no division)."""

    @core_jit
    def from_reduced(f, ef):
        h, ln2_hi, ln2_lo = _invariant((_F(0.5), _LN2_HI_F, _LN2_LO_F))
        z = f * f
        y = f * z * poly(f) + (ef * ln2_lo - h * z)
        return (f + y) + ef * ln2_hi

    return _make_log_cores(
        _float32_bits, _bits_float32, _I, _F, 23, 127, _SQRT_HALF_BITS_F, _TINY_F, 23, from_reduced
    )


_exp_f32 = _exp32_core
_log_finite_f32, _log_unit_interval_f32 = _make_log32_cores(_log32_poly)
_log_f32 = _with_special_values(_log_finite_f32, _F)


def _make_log1p_core(log_core, ftype):
    one = ftype(1)
    zero = ftype(0)

    def log1p_core(x):
        o, z = _invariant((one, zero))
        u = o + x
        # log(u) is exact for u; the first-order term corrects for the rounding of 1 + x.
        c = (x - (u - o)) / u
        if not (c == c):  # u == 0 or u == inf
            c = z
        return log_core(u) + c

    return log1p_core


def _make_softplus_cores(
    ftype,
    log_poly,
    bias,
    shift,
    to_bits,
    from_bits,
    exp_lo,
    log2e,
    magic,
    magic_bits,
    exp_poly,
    ln2_hi,
    ln2_lo,
    sqrt2,
    pivot,
    log1p_unit_poly=None,
):
    """Cores for the softplus family, whose arguments are known to be small.

    ``exp_nonpositive(x)`` is ``exp(x)`` for ``x <= 0`` (or NaN): no overflow, so
    ``2**k`` is one factor ``2**(k + pivot)`` times the constant ``2**-pivot``
    (``k + pivot`` stays in the normal range down to the subnormal results).
    ``log1p_unit(e, u, inv)`` is ``log1p(e)`` for ``0 <= e <= 1`` (or NaN), given
    ``u = 1 + e`` and ``inv = 1 / u``.  With ``log1p_unit_poly`` (a polynomial
    ``R`` with ``log1p(e) = e + e * R(e - 1/2)`` on ``[0, 1]``) it is that fused
    multiply-add: no range reduction, no division and no rounding of ``1 + e`` to
    correct.  Otherwise (``log_poly``, the atanh series of ``log``) ``1 <= u <= 2``
    has no special values or subnormals, so the range reduction is one select, and
    the correction for the rounding of ``1 + e`` uses the caller's reciprocal
    instead of a division.
    """
    one = ftype(1)
    two = ftype(2)
    half = ftype(0.5)
    zero = ftype(0)
    lo = ftype(exp_lo)
    unscale = ftype(2.0**-pivot)
    offset = bias + pivot

    def exp_nonpositive(x):
        low, l2e, mg, mg_bits, l2hi, l2lo, off, unsc = _invariant(
            (lo, log2e, magic, magic_bits, ln2_hi, ln2_lo, offset, unscale)
        )
        xc = low if x < low else x  # a NaN passes and propagates
        t = xc * l2e + mg
        kf = t - mg
        k = to_bits(t) - mg_bits
        r = (xc - kf * l2hi) - kf * l2lo
        return (exp_poly(r) * from_bits((k + off) << shift)) * unsc

    if log1p_unit_poly is not None:

        def log1p_unit_by_poly(e, u, inv):
            (h,) = _invariant((half,))
            return e + e * log1p_unit_poly(e - h)  # one rounding (a fused multiply-add)

        return exp_nonpositive, log1p_unit_by_poly

    def log1p_unit(e, u, inv):
        o, t, h, z0, rt2, l2hi, l2lo = _invariant((one, two, half, zero, sqrt2, ln2_hi, ln2_lo))
        big = u > rt2
        m = u * h if big else u
        k = o if big else z0
        f = m - o
        s = f / (t + f)
        z = s * s
        r = z * log_poly(z)
        hfsq = h * f * f
        y = k * l2hi - ((hfsq - (s * (hfsq + r) + k * l2lo)) - f)
        return y + (e - (u - o)) * inv

    return exp_nonpositive, log1p_unit


#: log1p(e) / e - 1 on 0 <= e <= 1 as a polynomial in e - 1/2 (degree 9, error
#: 4.8e-9 relative to log1p(e) / e: a least-squares fit at 2000 Chebyshev nodes;
#: log1p(e) / e is analytic well beyond the interval, so the coefficients stay
#: below 1 in magnitude).
_LOG1P_UNIT32_COEFFICIENTS = (
    0.8109302200080785 - 1.0,
    -0.2885271121890547,
    0.13260900350473545,
    -0.06768760825330396,
    0.03663548125581865,
    -0.020571598401218458,
    0.011576096723060654,
    -0.006742963305291125,
    0.005253457796432248,
    -0.003256378488569595,
)
_log1p_unit32_poly = polynomial(tuple(_F(c) for c in _LOG1P_UNIT32_COEFFICIENTS))

_softplus_f32 = _make_softplus_cores(
    _F,
    None,
    _BIAS_F,
    _SHIFT_F,
    _float32_bits,
    _bits_float32,
    _EXP_LO_F,
    _LOG2E_F,
    _ROUND_MAGIC_F,
    _ROUND_MAGIC_BITS_F,
    _exp32_poly,
    _LN2_HI_F,
    _LN2_LO_F,
    _SQRT2_F,
    _I(64),
    _log1p_unit32_poly,
)
_softplus_f64 = _make_softplus_cores(
    np.float64,
    _log64_poly,
    1023,
    52,
    _float64_bits,
    _bits_float64,
    _EXP_LO,
    _LOG2E,
    _ROUND_MAGIC,
    _ROUND_MAGIC_BITS,
    _exp64_poly,
    _LN2_HI,
    _LN2_LO,
    _SQRT2,
    512,
)


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


def log_nonnegative(x):
    """:func:`log` for finite ``x >= 0``, without the checks for other arguments.

    Faster where the caller has ruled out negative, infinite and NaN arguments
    (they give meaningless finite values), or deals with them itself.  ``log(0)``
    is a finite value below the logarithm of the smallest subnormal number (below
    -103 in float32, below -744 in float64), or ``-inf`` on a GPU.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(x)


def log_unit_interval(x):
    """:func:`log` for ``0 <= x <= 1``, without the checks for other arguments.

    A probability's logarithm, three operations faster than
    :func:`log_nonnegative`: it needs no test for subnormal arguments.  Exact for
    the same arguments as :func:`log` (the unit interval and far beyond: up to
    ``2**104`` in float32, ``2**969`` in float64); ``log(0)`` is a finite value
    below the logarithm of the smallest subnormal number, or ``-inf`` on a GPU.
    Other arguments give meaningless finite values.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(x)


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
    """``(softplus(x), sigmoid(x))`` from one exp: a loss and its derivative together.

    It is ``softplus_sigmoid_given_exp(x, exp_minus_abs(x))``.
    """
    return softplus(x), sigmoid(x)


def exp_minus_abs(x):
    """``exp(-|x|)``: the one exp of :func:`softplus_sigmoid` (never overflows).

    A kernel that computes it in a loop of its own and finishes with
    :func:`softplus_sigmoid_given_exp` in another gets the same bits as
    :func:`softplus_sigmoid`, with fewer live values in each loop.
    """
    return np.exp(-np.abs(x))


def softplus_sigmoid_given_exp(x, e):
    """:func:`softplus_sigmoid` of ``x`` given ``e = exp_minus_abs(x)``."""
    x = np.asarray(x, dtype=np.result_type(x, np.float32))
    e = np.asarray(e, dtype=x.dtype)
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = 1 / (1 + e)
        return (np.maximum(x, 0) + np.log1p(e))[()], np.where(x >= 0, inv, e * inv)[()]


_Cores = namedtuple(
    "_Cores",
    [
        "exp",
        "log",
        "log1p",
        "exp_nonpositive",
        "log1p_unit",
        "log_nonnegative",
        "log_unit_interval",
    ],
)


def _register():

    jit = core_jit
    cores = {}
    for name, (e, lg, lg_finite, lg_unit, (e_np, l1_unit), ftype) in {
        "f32": (
            _exp_f32,
            _log_f32,
            _log_finite_f32,
            _log_unit_interval_f32,
            _softplus_f32,
            np.float32,
        ),
        "f64": (
            _exp_f64,
            _log_f64,
            _log_finite_f64,
            _log_unit_interval_f64,
            _softplus_f64,
            np.float64,
        ),
    }.items():
        lj = jit(lg)
        cores[name] = _Cores(
            jit(e),
            lj,
            jit(_make_log1p_core(lj, ftype)),
            jit(e_np),
            jit(l1_unit),
            jit(lg_finite),
            jit(lg_unit),
        )
    return cores


_CORES = _register()


def _select(x):
    if x == types.float32:
        return _CORES["f32"], np.float32
    if isinstance(x, (types.Float, types.Integer, types.Boolean)):
        return _CORES["f64"], np.float64
    return None, None


def _float_overload(func):
    """Register ``build(cores, rt)`` as ``func``'s overload for real arguments.

    ``rt`` is the compute type (float32 for float32, float64 for any other real
    number) and ``cores`` its :class:`_Cores`; ``build`` returns the implementation.
    """

    def register(build):
        @jit_overload(func)
        def _overload(x):
            cores, rt = _select(x)
            return None if rt is None else build(cores, rt)

        return build

    return register


def _call_core(field):
    """The overload builder of a function that is one core applied to ``rt(x)``."""

    def build(cores, rt):
        core = getattr(cores, field)

        def impl(x):
            return core(rt(x))

        return impl

    return build


for _func in (exp, log, log_nonnegative, log_unit_interval, log1p):
    _float_overload(_func)(_call_core(_func.__name__))


# The softplus family evaluates exp(-|x|) (never overflows) and log1p of it (an
# argument in [0, 1]) with the specialised cores, sharing one reciprocal 1 / (1 + e).


@_float_overload(softplus)
def _ov_softplus(cores, rt):
    cexp, cl1 = cores.exp_nonpositive, cores.log1p_unit
    zero = rt(0)
    one = rt(1)

    def impl(x):
        xd = rt(x)
        a = xd if xd > zero else zero
        e = cexp(-abs(xd))
        u = one + e
        return a + cl1(e, u, one / u)

    return impl


@_float_overload(log_sigmoid)
def _ov_log_sigmoid(cores, rt):
    cexp, cl1 = cores.exp_nonpositive, cores.log1p_unit
    zero = rt(0)
    one = rt(1)

    def impl(x):
        xd = rt(x)
        a = xd if xd < zero else zero
        e = cexp(-abs(xd))
        u = one + e
        return a - cl1(e, u, one / u)

    return impl


@_float_overload(sigmoid)
def _ov_sigmoid(cores, rt):
    cexp = cores.exp_nonpositive
    zero = rt(0)
    one = rt(1)

    def impl(x):
        xd = rt(x)
        e = cexp(-abs(xd))
        inv = one / (one + e)
        return inv if xd >= zero else e * inv

    return impl


@_float_overload(exp_minus_abs)
def _ov_exp_minus_abs(cores, rt):
    cexp = cores.exp_nonpositive

    def impl(x):
        return cexp(-abs(rt(x)))

    return impl


@jit_overload(softplus_sigmoid_given_exp)
def _ov_softplus_sigmoid_given_exp(x, e):
    cores, rt = _select(x)
    if rt is None:
        return None
    cl1 = cores.log1p_unit
    zero = rt(0)
    one = rt(1)

    def impl(x, e):
        xd = rt(x)
        ed = rt(e)
        a = xd if xd > zero else zero
        u = one + ed
        inv = one / u
        y = inv if xd >= zero else ed * inv
        return a + cl1(ed, u, inv), y

    return impl


@_float_overload(softplus_sigmoid)
def _ov_softplus_sigmoid(cores, rt):
    def impl(x):
        return softplus_sigmoid_given_exp(x, exp_minus_abs(x))

    return impl
