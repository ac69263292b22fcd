"""Compile-time traits shared by the loss families: what a kernel knows about its operands and its loss.

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
own (:func:`n_prepasses`, :func:`point_and_hess_after_prepasses`), and declares its second
derivatives in a second point function, ``point_hess``, which the kernels call only
where a Hessian is written (:func:`point_and_hess`).
"""

from collections import namedtuple

import numpy as np
from numba import types

from .._jit import jit_overload


def at(x, i):
    """``x[i]`` for an array, ``x`` for a scalar (or :data:`UNIT`)."""
    return x if isinstance(x, Unit) or np.ndim(x) == 0 else x[i]


@jit_overload(at)
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
    level ("mul(omitted, omitted)"; related: NVIDIA/numba-cuda#624), so
    :mod:`.cuda_support` registers these typers again for the CUDA target, not
    inlined; ``python -m numbaloss.cuda_check --ptx`` fails for l1, mse, huber and
    both BCEs without that.  On the CPU the inlining is kept: the kernels are
    slower with these helpers left to LLVM's inliner (docs/benchmarks.rst,
    "Measured design choices").
    """

    def register(typer):
        jit_overload(func)(typer)
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
    loop, they turn its contiguous SIMD loads into gathers (numba/numba#3205; cost:
    docs/benchmarks.rst, "Measured design choices").  An unsigned index has no
    wraparound.  ``tests/core/test_numba_workarounds.py`` checks both the vector
    loads and that numba still wraps signed indices (when that test fails, this
    function may go).
    """
    return i


@jit_overload(index)
def _ov_index(i):
    if isinstance(i, types.Integer):
        return lambda i: np.uint64(i)
    return None


#: The functions made by :func:`static_dispatch` (registered again for the CUDA
#: target by :mod:`.cuda_support`).
STATIC_DISPATCHES = []


def _attribute(method):
    return lambda cls: getattr(cls, method, None)


def static_dispatch(method, arguments, *, name=None, lookup=None, default=None, inline=True):
    """A function ``f(owner, *arguments)`` that calls ``type(owner).<method>(owner, ...)``.

    Losses (and the triplet losses' metrics) are parameter namedtuples whose
    compiled static methods hold their math; inside a kernel the call resolves at
    compile time on the owner's type, so one kernel body serves every loss and
    stays cacheable.  This is the one maker of such calls: ``point`` below, the
    prepasses, the softmax rows' ``terms`` and the metrics' ``measure`` and
    ``partial``.

    ``arguments`` names the arguments after the owner (a space-separated string):
    numba's overloads need a fixed signature, so the function and its typer are
    written out for it.  ``lookup(cls)`` finds the compiled function (default: the
    attribute ``method``); where it finds none, ``default`` (a function of the
    same arguments) is compiled instead, or the call does not type.
    ``inline=False`` leaves inlining to LLVM (see :func:`numbaloss._jit.jit_overload`).
    """
    from .._jit import jit_overload

    name = name or method
    lookup = lookup or _attribute(method)
    args = ", ".join(["owner", *arguments.split()])
    namespace = {"lookup": lookup, "default": default}
    exec(
        f"def {name}({args}):\n"
        f"    func = lookup(type(owner)) or default\n"
        f"    return func({args})\n"
        f"def typer({args}):\n"
        f"    func = lookup(getattr(owner, 'instance_class', None))\n"
        f"    if func is None:\n"
        f"        return default\n"
        f"    return lambda {args}: func({args})\n",
        namespace,
    )
    dispatch, typer = namespace[name], namespace["typer"]
    dispatch.__doc__ = f"``type(owner).{method}({args})``, dispatched at compile time."
    dispatch.__module__ = __name__
    jit_overload(dispatch, inline=inline)(typer)
    STATIC_DISPATCHES.append((dispatch, typer))
    return dispatch


#: ``point(params, a, b, c, d)``: the loss's value, gradients and domain flag at one element.
point = static_dispatch("point", "a b c d")

#: ``point_hess(params, a, b, c, d)``: ``(loss, dloss/da, dloss/db, d2loss/da2,
#: d2loss/db2, out_of_domain)`` at one element (the loss's ``point_hess``).
point_hess = static_dispatch("point_hess", "a b c d")


# --- losses computed in passes --------------------------------------------------------
#
# A loss class may also define ``prepasses``, a tuple of one or two compiled
# functions of ``(params, a, b, c, d)``, and ``after_prepasses(params, a, b, c, d,
# r0, r1)``, which finishes the point from their results (``r1`` is unused with one
# prepass): the loss's ``point`` is then ``after_prepasses`` of the prepasses.  The
# elementwise kernel runs each prepass over a sub-block in a loop of its own
# before the loop that finishes the points.  Each loop then holds fewer live
# values than the 16 vector registers of AVX2, where one fused loop spilled
# (measured: docs/benchmarks.rst, "Measured design choices").


def n_prepasses(params):
    """The number of the loss's prepasses (a compile-time constant in kernels)."""
    return len(getattr(type(params), "prepasses", ()))


@jit_overload(n_prepasses)
def _ov_n_prepasses(params):
    count = len(getattr(getattr(params, "instance_class", None), "prepasses", ()))
    return lambda params: count


def _prepass(k):
    """``prepass(params, a, b, c, d)``: the loss's ``k``-th prepass, or a zero of
    ``a``'s type where it has none (never run: see :func:`n_prepasses`)."""

    def lookup(cls):
        passes = getattr(cls, "prepasses", ())
        return passes[k] if len(passes) > k else None

    def zero(owner, a, b, c, d):
        return like(a, 0)

    return static_dispatch(
        "prepasses",
        "a b c d",
        name=("first", "second")[k] + "_prepass",
        lookup=lookup,
        default=zero,
    )


first_prepass = _prepass(0)
second_prepass = _prepass(1)


def like(x, value):
    """``value`` converted to the type of the scalar ``x`` (e.g. a float32 constant)."""
    return np.asarray(value, dtype=np.asarray(x).dtype)[()]


@jit_overload(like)
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
    """True for ``ON`` (a compile-time constant inside compiled code).

    A plain ``bool`` is its own value, decided at run time: the per-element
    functions of :mod:`numbaloss.jit` build the parameter tuples from their
    callers' options, which are run-time values there.
    """
    if isinstance(flag, (bool, np.bool_)):
        return bool(flag)
    return isinstance(flag, On)


@jit_overload(is_on)
def _ov_is_on(flag):
    cls = getattr(flag, "instance_class", None)
    if cls is On:
        return lambda flag: True
    if cls is Off:
        return lambda flag: False
    if isinstance(flag, types.Boolean):
        return lambda flag: flag
    return None


# --- second derivatives, compiled only where they are written -------------------------
#
# A loss that has second derivatives declares ``point_hess(params, a, b, c, d)`` next
# to its ``point``, returning ``(loss, ga, gb, ha, hb, out_of_domain)``: ``ha`` and
# ``hb`` are the second derivatives of the element's loss with respect to ``a`` and
# ``b`` (the diagonal of the Hessian: elements do not interact).  A loss with
# prepasses declares ``after_prepasses_hess(params, a, b, c, d, r0, r1)`` alike.
# The kernels call :func:`point_and_hess` / :func:`point_and_hess_after_prepasses`
# with their Hessian outputs: where both are ``None`` (no Hessian written) these
# are the loss's ``point`` with two zeros that the kernel never reads, so the loop
# compiled for ``return_hess=False`` is the gradient-only loop of before, and a
# loss without ``point_hess`` still compiles there.  The choice is made on the
# outputs' types, at compile time.


def _wants_hess(hess_a, hess_b):
    """True unless both Hessian outputs are ``None`` (or numba's ``none`` type)."""
    none = (type(None), types.NoneType)
    return not (isinstance(hess_a, none) and isinstance(hess_b, none))


def point_and_hess(params, a, b, c, d, hess_a, hess_b):
    """``(loss, ga, gb, ha, hb, out_of_domain)`` of the loss at one element: its
    ``point_hess``, or its ``point`` and zeros where ``hess_a`` and ``hess_b`` are
    both ``None``."""
    cls = type(params)
    if _wants_hess(hess_a, hess_b):
        return cls.point_hess(params, a, b, c, d)
    loss, ga, gb, flag = cls.point(params, a, b, c, d)
    return loss, ga, gb, 0 * ga, 0 * gb, flag


def _ov_point_and_hess(params, a, b, c, d, hess_a, hess_b):
    cls = getattr(params, "instance_class", None)
    if _wants_hess(hess_a, hess_b):
        func = getattr(cls, "point_hess", None)
        if func is None:
            return None
        return lambda params, a, b, c, d, hess_a, hess_b: func(params, a, b, c, d)
    func = getattr(cls, "point", None)
    if func is None:
        return None

    def impl(params, a, b, c, d, hess_a, hess_b):
        loss, ga, gb, flag = func(params, a, b, c, d)
        return loss, ga, gb, like(ga, 0), like(gb, 0), flag

    return impl


jit_overload(point_and_hess)(_ov_point_and_hess)
STATIC_DISPATCHES.append((point_and_hess, _ov_point_and_hess))


def point_and_hess_after_prepasses(params, a, b, c, d, r0, r1, hess_a, hess_b):
    """:func:`point_and_hess` from the prepasses' results ``r0``, ``r1``: the loss's
    ``after_prepasses`` (or ``after_prepasses_hess``) of them, or for a loss without
    prepasses its point (which ignores ``r0`` and ``r1``)."""
    cls = type(params)
    if not hasattr(cls, "prepasses"):
        return point_and_hess(params, a, b, c, d, hess_a, hess_b)
    if _wants_hess(hess_a, hess_b):
        return cls.after_prepasses_hess(params, a, b, c, d, r0, r1)
    loss, ga, gb, flag = cls.after_prepasses(params, a, b, c, d, r0, r1)
    return loss, ga, gb, 0 * ga, 0 * gb, flag


@jit_overload(point_and_hess_after_prepasses)
def _ov_point_and_hess_after_prepasses(params, a, b, c, d, r0, r1, hess_a, hess_b):
    cls = getattr(params, "instance_class", None)
    if not hasattr(cls, "prepasses"):
        if _ov_point_and_hess(params, a, b, c, d, hess_a, hess_b) is None:
            return None
        return lambda params, a, b, c, d, r0, r1, hess_a, hess_b: point_and_hess(
            params, a, b, c, d, hess_a, hess_b
        )
    if _wants_hess(hess_a, hess_b):
        func = getattr(cls, "after_prepasses_hess", None)
        if func is None:
            return None
        return lambda params, a, b, c, d, r0, r1, hess_a, hess_b: func(params, a, b, c, d, r0, r1)
    after = cls.after_prepasses

    def impl(params, a, b, c, d, r0, r1, hess_a, hess_b):
        loss, ga, gb, flag = after(params, a, b, c, d, r0, r1)
        return loss, ga, gb, like(ga, 0), like(gb, 0), flag

    return impl


def has_hess(cls):
    """Whether the point class ``cls`` declares its second derivatives."""
    if not hasattr(cls, "point_hess"):
        return False
    return not hasattr(cls, "prepasses") or hasattr(cls, "after_prepasses_hess")
