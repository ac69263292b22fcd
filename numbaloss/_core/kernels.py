"""Generic compiled building blocks shared by the loss families.

``at(x, i)`` reads element ``i`` of a flat array, or returns ``x`` itself when ``x``
is a scalar; kernels use it so that one compiled loop serves full-size operands
and broadcast scalars (each combination is its own specialisation).

Losses are identified inside kernels by the *type* of their parameter tuple: each
loss has a ``namedtuple`` subclass whose class attribute ``point`` is the compiled
per-element function.  ``point(params, ...)`` dispatches on that class at compile
time, so one kernel body serves every loss and stays cacheable on disk.

``index(lo + j)`` marks a computed array index as non-negative; see :func:`index`.
``weigh(w, v)`` applies an optional weight; an absent one is :data:`UNIT`.  A loss
may also split its point into *prepasses* that the kernel runs in loops of their
own (:func:`n_prepasses`, :func:`point_after_prepasses`).
"""

from collections import namedtuple

import numpy as np
from numba import types
from numba.extending import overload

from .._jit import OVERLOAD_OPTIONS


def at(x, i):
    """``x[i]`` for an array, ``x`` for a scalar (or :data:`UNIT`)."""
    return x if isinstance(x, Unit) or np.ndim(x) == 0 else x[i]


_OPTIONS = OVERLOAD_OPTIONS


@overload(at, jit_options=_OPTIONS, inline="always")
def _ov_at(x, i):
    if isinstance(x, types.Array):
        return lambda x, i: x[i]
    if isinstance(x, (types.Number, types.Boolean)) or is_unit_type(x):
        return lambda x, i: x
    return None


# --- an absent weight -------------------------------------------------------------------

#: The weight of an unweighted loss.  ``weigh(UNIT, v)`` is ``v`` itself, decided at
#: compile time: a weight of 1.0 passed as a number would cost a multiplication
#: per element and a register in the loop, and the kernels are compiled
#: separately for weighted and unweighted calls anyway (the operand's type
#: differs).
Unit = namedtuple("Unit", [])
UNIT = Unit()


def is_unit_type(t):
    """True for the numba type of :data:`UNIT` (for overloads)."""
    return getattr(t, "instance_class", None) is Unit


def weigh(w, v):
    """``w * v``, or ``v`` when ``w`` is :data:`UNIT`."""
    return v if isinstance(w, Unit) else w * v


#: ``(function, typer)`` of the overloads registered by :func:`arithmetic_overload`.
ARITHMETIC_OVERLOADS = []


def arithmetic_overload(func):
    """``@overload(func, inline="always")`` for a helper whose implementation does
    arithmetic on its arguments.

    numba-cuda (0.30) cannot type such arithmetic in an overload inlined at the IR
    level ("mul(omitted, omitted)"), so :mod:`.cuda_support` registers these typers
    again for the CUDA target, not inlined.  On the CPU the inlining is kept: the
    kernels ran up to 1.5x slower with these helpers left to LLVM's inliner.
    """

    def register(typer):
        overload(func, jit_options=_OPTIONS, inline="always")(typer)
        ARITHMETIC_OVERLOADS.append((func, typer))
        return typer

    return register


@arithmetic_overload(weigh)
def _ov_weigh(w, v):
    if is_unit_type(w):
        return lambda w, v: v
    if isinstance(w, (types.Number, types.Boolean)):
        return lambda w, v: w * v
    return None


def index(i):
    """``i`` as an unsigned array index (for ``x[index(lo + j)]`` in kernels).

    numba wraps a negative signed index around (``x[-1]`` is the last element)
    with a compare and select on every access; LLVM removes them only where it can
    prove the index non-negative, as for ``range(n)``, not for ``lo + j``.  Left in a
    loop, they turn its contiguous SIMD loads into gathers: the elementwise kernel
    ran 4x slower.  An unsigned index has no wraparound.
    """
    return i


@overload(index, jit_options=_OPTIONS, inline="always")
def _ov_index(i):
    if isinstance(i, types.Integer):
        return lambda i: np.uint64(i)
    return None


def point(params, a, b, c, d):
    """Call ``type(params).point(params, a, b, c, d)`` (dispatched at compile time)."""
    return type(params).point(params, a, b, c, d)


@overload(point, jit_options=_OPTIONS, inline="always")
def _ov_point(params, a, b, c, d):
    cls = getattr(params, "instance_class", None)
    func = getattr(cls, "point", None)
    if func is None:
        return None

    def impl(params, a, b, c, d):
        return func(params, a, b, c, d)

    return impl


# --- losses computed in passes --------------------------------------------------------
#
# A loss class may also define ``prepasses``, a tuple of one or two compiled
# functions of ``(params, a, b, c, d)``, and ``after_prepasses(params, a, b, c, d,
# r0, r1)``, which finishes the point from their results (``r1`` is unused with one
# prepass): the loss's ``point`` is then ``after_prepasses`` of the prepasses.  The
# elementwise kernel runs each prepass over a sub-block in a loop of its own
# before the loop that finishes the points.  Each loop then holds fewer live
# values than the 16 vector registers of AVX2, where one fused loop spilled.  In
# cache, on one Zen 3 core, binary cross entropy (one logarithm per prepass) ran
# 13% faster than with one loop, the soft margin loss and BCE with logits (the
# exp in the prepass) 23%.


def n_prepasses(params):
    """The number of the loss's prepasses (a compile-time constant in kernels)."""
    return len(getattr(type(params), "prepasses", ()))


@overload(n_prepasses, jit_options=_OPTIONS, inline="always")
def _ov_n_prepasses(params):
    count = len(getattr(getattr(params, "instance_class", None), "prepasses", ()))
    return lambda params: count


def _prepass_function(k):
    """``prepass(params, a, b, c, d)``: the loss's ``k``-th prepass, or a zero of
    ``a``'s type where it has none (never run: see :func:`n_prepasses`)."""

    def prepass(params, a, b, c, d):
        return type(params).prepasses[k](params, a, b, c, d)

    @overload(prepass, jit_options=_OPTIONS, inline="always")
    def _ov_prepass(params, a, b, c, d):
        passes = getattr(getattr(params, "instance_class", None), "prepasses", ())
        if len(passes) <= k:
            return lambda params, a, b, c, d: like(a, 0)
        func = passes[k]
        return lambda params, a, b, c, d: func(params, a, b, c, d)

    return prepass


first_prepass = _prepass_function(0)
second_prepass = _prepass_function(1)


def point_after_prepasses(params, a, b, c, d, r0, r1):
    """The point from the prepasses' results ``r0``, ``r1``; ``point(params, a, b,
    c, d)`` for a loss without prepasses (which ignores ``r0`` and ``r1``)."""
    cls = type(params)
    if hasattr(cls, "prepasses"):
        return cls.after_prepasses(params, a, b, c, d, r0, r1)
    return cls.point(params, a, b, c, d)


@overload(point_after_prepasses, jit_options=_OPTIONS, inline="always")
def _ov_point_after_prepasses(params, a, b, c, d, r0, r1):
    cls = getattr(params, "instance_class", None)
    if hasattr(cls, "prepasses"):
        after = cls.after_prepasses
        return lambda params, a, b, c, d, r0, r1: after(params, a, b, c, d, r0, r1)
    func = getattr(cls, "point", None)
    if func is None:
        return None
    return lambda params, a, b, c, d, r0, r1: func(params, a, b, c, d)


def like(x, value):
    """``value`` converted to the type of the scalar ``x`` (e.g. a float32 constant)."""
    return np.asarray(value, dtype=np.asarray(x).dtype)[()]


@overload(like, jit_options=_OPTIONS, inline="always")
def _ov_like(x, value):
    if isinstance(x, types.Boolean):
        ctor = np.bool_
    elif isinstance(x, types.Number):
        ctor = np.dtype(str(x)).type
    else:
        return None

    def impl(x, value):
        return ctor(value)

    return impl


# --- boolean options fixed at compile time ------------------------------------------

#: Stand-ins for ``True``/``False`` in a loss's parameter tuple.  Their *types*
#: differ, so a kernel is compiled for the option's value and the branch it
#: selects is folded away before LLVM vectorizes the loop (a plain ``bool`` field
#: is a run-time value: both paths would be computed for every element).
On = namedtuple("On", [])
Off = namedtuple("Off", [])
ON = On()
OFF = Off()


def option(value):
    """``ON``/``OFF`` for a truth value (``ON``/``OFF`` themselves pass through)."""
    if isinstance(value, (On, Off)):
        return value
    return ON if value else OFF


def is_on(flag):
    """True for ``ON`` (a compile-time constant inside compiled code)."""
    return isinstance(flag, On)


@overload(is_on, jit_options=_OPTIONS, inline="always")
def _ov_is_on(flag):
    cls = getattr(flag, "instance_class", None)
    if cls is On:
        return lambda flag: True
    if cls is Off:
        return lambda flag: False
    return None
