"""Argument handling shared by every loss: arrays, dtypes, shapes, reductions, gradients.

The wrappers of each family call these helpers and hand plain, native-endian,
C-contiguous (or flattened) arrays to the kernels.
"""

import numbers
import operator

import numpy as np

REDUCTIONS = ("none", "mean", "sum")


def as_array(value, name):
    """Coerce ``value`` to an ndarray without copying when it already is one.

    Raises ``TypeError`` for complex, object, string and other non-numeric data,
    and ``ValueError`` naming the argument for a ragged nested sequence (rows of
    different lengths), which NumPy cannot make into an array.
    """
    try:
        arr = np.asarray(value)
    except ValueError as exc:
        # NumPy's wording: "setting an array element with a sequence. The requested
        # array has an inhomogeneous shape after 1 dimensions ..."
        if "inhomogeneous" not in str(exc) and "with a sequence" not in str(exc):
            raise
        raise ValueError(
            f"{name} is a ragged nested sequence (its rows have different lengths or "
            f"depths), which cannot be an array; pass a rectangular array_like"
        ) from None
    kind = arr.dtype.kind
    if kind not in "biuf":
        raise TypeError(
            f"{name} must hold real numbers (bool, integer or floating), got dtype {arr.dtype}"
        )
    if kind == "f" and arr.dtype.itemsize > 8:
        raise TypeError(
            f"{name} has dtype {arr.dtype}; numbaloss supports float16, float32 and float64"
        )
    return arr


def result_dtype(*arrays):
    """NumPy's ``result_type`` of the floating arrays; float64 when none is floating."""
    floats = [a.dtype for a in arrays if a is not None and a.dtype.kind == "f"]
    if not floats:
        return np.dtype(np.float64)
    return np.result_type(*floats)


def compute_dtype(dtype):
    """The dtype kernels compute in: float16 is computed in float32."""
    dtype = np.dtype(dtype)
    return np.dtype(np.float32) if dtype.itemsize < 4 else dtype


def native(arr, dtype):
    """``arr`` in native byte order and ``dtype``, copying only when needed."""
    if arr.dtype != dtype or not arr.dtype.isnative:
        return arr.astype(dtype)
    return arr


def check_reduction(reduction, allowed=REDUCTIONS):
    """Validate ``reduction`` and return it."""
    if not isinstance(reduction, str) or reduction not in allowed:
        valid = ", ".join(repr(r) for r in allowed)
        raise ValueError(f"reduction must be one of {valid}; got {reduction!r}")
    return reduction


def check_same_shape(names, arrays):
    """Raise ``ValueError`` unless all arrays have one shape (no silent broadcasting).

    Shapes are compared as tuples, so host and device arrays (whose ``shape`` may be
    another sequence type) are checked alike, with the same message.
    """
    shape = tuple(arrays[0].shape)
    for name, arr in zip(names[1:], arrays[1:]):
        if tuple(arr.shape) != shape:
            parts = ", ".join(f"{n} {tuple(a.shape)}" for n, a in zip(names, arrays))
            raise ValueError(f"{names[0]} and {name} must have the same shape; got {parts}")


def check_broadcastable(name, arr, to_name, shape):
    """Raise ``ValueError`` unless ``arr`` broadcasts to ``shape`` without enlarging it."""
    try:
        full = np.broadcast_shapes(arr.shape, shape)
    except ValueError:
        full = None
    if full != tuple(shape):
        raise ValueError(
            f"{name} of shape {tuple(arr.shape)} cannot be broadcast to the shape "
            f"{tuple(shape)} of {to_name}"
        )


def check_real_scalar(value, name, *, positive=False, nonnegative=False):
    """A finite-or-not real Python/NumPy scalar option, returned as float."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    value = float(value)
    if positive and not value > 0:
        raise ValueError(f"{name} must be positive, got {value}")
    if nonnegative and not value >= 0:
        raise ValueError(f"{name} must be non-negative, got {value}")
    return value


def check_bool(value, name):
    """A flag: a Python or NumPy bool, returned as ``bool``; ``TypeError`` naming it otherwise.

    Truthy stand-ins (``1``, ``"yes"``, ``None``) are refused rather than read as
    truth values, so that a misplaced positional argument is not taken for a flag.
    """
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(
            f"{name} must be a bool (True or False), got {type(value).__name__} {value!r}"
        )
    return bool(value)


def flag_positions(signature):
    """``(position or None, name)`` of the flags of ``signature``: parameters with a bool default.

    The position is the parameter's index among the positional parameters (``None``
    for a keyword-only one); :func:`check_flags` uses it to find a flag among a
    call's ``args`` without binding the signature.
    """
    import inspect

    flags = []
    for index, param in enumerate(signature.parameters.values()):
        if isinstance(param.default, bool):
            positional = param.kind in (
                inspect.Parameter.POSITIONAL_ONLY,
                inspect.Parameter.POSITIONAL_OR_KEYWORD,
            )
            flags.append((index if positional else None, param.name))
    return tuple(flags)


def check_flags(flags, args, kwargs):
    """:func:`check_bool` on every flag of :func:`flag_positions` that a call passes."""
    for index, name in flags:
        if index is not None and index < len(args):
            check_bool(args[index], name)
        elif name in kwargs:
            check_bool(kwargs[name], name)


def check_index(value, name):
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an integer, got {value!r}") from None


class HostArgs:
    """Argument coercion of the CPU back end: everything through :func:`as_array`.

    The families' plans (validation written once for both back ends) take an
    ``args`` coercer: this one on the CPU, a ``cuda_support.DeviceArgs`` on the GPU.
    """

    on_device = False

    @staticmethod
    def array(value, name):
        return as_array(value, name)

    @staticmethod
    def option(value, name):
        return as_array(value, name)


#: The CPU's argument coercer (see :class:`HostArgs`).
HOST = HostArgs()
