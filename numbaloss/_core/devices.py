"""Device routing: the CPU, the CUDA or the dask implementation of a loss, chosen by its arguments.

The CPU path is taken for NumPy arrays and anything array_like.  An argument that
exposes ``__cuda_array_interface__`` (numba device arrays, CuPy arrays, PyTorch
CUDA tensors) selects the CUDA path.  A dask array selects the dask path
(:mod:`.dask_support`), which calls the loss again on each chunk, so that chunks
that are CuPy arrays take the CUDA path in turn.  Nothing here imports numba.cuda
or dask: each back end is imported only once an argument that needs it has arrived.
"""


def is_device_array(obj):
    """True for objects that live in GPU memory.

    That is anything with the CUDA array interface (numba device arrays, CuPy
    arrays, PyTorch CUDA tensors), and numba's own device arrays, which under the
    CUDA simulator carry the ``__cuda_ndarray__`` marker but no interface.
    """
    if getattr(obj, "__cuda_ndarray__", False):
        return True
    try:
        return hasattr(obj, "__cuda_array_interface__")
    except RuntimeError:  # PyTorch: a CUDA tensor that requires grad refuses to export
        return True


def is_dask_array(obj):
    """True for dask collections (``dask.array.Array``), recognised by their type's
    module and the dask collection protocol, without importing dask."""
    module = getattr(type(obj), "__module__", None) or ""
    return module.split(".")[0] == "dask" and hasattr(obj, "__dask_graph__")


def any_dask_array(*objs):
    for obj in objs:
        if is_dask_array(obj):
            return True
        if isinstance(obj, (tuple, list)) and any(is_dask_array(o) for o in obj):
            return True
    return False


def any_device_array(*objs):
    for obj in objs:
        if is_device_array(obj):
            return True
        if isinstance(obj, (tuple, list)) and any(is_device_array(o) for o in obj):
            return True
    return False


def cuda_backend(family):
    """Import and return the CUDA module of ``family`` (e.g. ``"elementwise"``).

    Raises ``RuntimeError`` with a clear message when numba-cuda or a GPU is missing.
    """
    try:
        from numba import cuda
    except ImportError as exc:  # pragma: no cover - numba always ships a cuda stub
        raise RuntimeError(
            "a CUDA device array was passed, but numba's CUDA support is not installed; "
            "install numbaloss[cuda]"
        ) from exc
    if not cuda.is_available():
        raise RuntimeError(
            "a CUDA device array was passed, but no usable CUDA GPU or driver was found "
            "(install numbaloss[cuda] and check the NVIDIA driver)"
        )
    import importlib

    try:
        return importlib.import_module(f"numbaloss.{family}.cuda")
    except ModuleNotFoundError as exc:
        raise RuntimeError(f"the {family} losses have no CUDA implementation yet") from exc


def _check_hess_keywords(name, hessian, kwargs):
    """``return_hess``/``hess_out`` checked (docs/conventions.rst, "Second derivatives").

    A loss without a Hessian (``hessian`` False) accepts ``return_hess=False`` (and
    drops it: its function has no such keyword) and raises ``TypeError`` naming the
    loss for ``return_hess=True``; ``return_hess=True`` needs ``return_grad=True``,
    and ``hess_out`` needs ``return_hess=True`` (``ValueError``s).
    """
    if not hessian:
        wanted = kwargs.pop("return_hess", False)
        out = kwargs.pop("hess_out", None)
        if wanted or out is not None:
            raise TypeError(
                f"{name} has no Hessian diagonal: return_hess=True (and hess_out) are "
                "supported by the elementwise losses, cross_entropy, nll_loss and focal_loss"
            )
        return
    if kwargs.get("return_hess") and not kwargs.get("return_grad"):
        raise ValueError(
            f"{name}: return_hess=True requires return_grad=True (the call returns "
            "(loss, grad, hess))"
        )
    if kwargs.get("hess_out") is not None and not kwargs.get("return_hess"):
        raise ValueError(
            f"{name}: hess_out is only written with return_hess=True; "
            "pass return_hess=True, or leave hess_out out"
        )


def on_device(family, *, hessian=False):
    """Decorate a loss so that device-array arguments run its CUDA version, and dask
    arrays its dask version (:func:`numbaloss._core.dask_support.call`).

    The CPU function is called unchanged for host arguments; the checks cost a few
    attribute lookups per argument.  Before routing, on both devices, the flags
    (``return_grad`` and every other parameter with a bool default) must be bools
    (:func:`~.validation.check_flags`), and a ``grad_out`` without
    ``return_grad=True`` is a ``ValueError``, since no gradient would be written
    into it; ``return_hess`` and ``hess_out`` are checked likewise (``hessian``:
    whether the loss has a Hessian's diagonal, from the registry).
    """
    import functools
    import inspect

    from .validation import check_flags, flag_positions

    def deco(func):
        name = func.__name__
        flags = flag_positions(inspect.signature(func))

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            check_flags(flags, args, kwargs)
            if kwargs.get("grad_out") is not None and not kwargs.get("return_grad"):
                raise ValueError(
                    f"{name}: grad_out is only written with return_grad=True; "
                    "pass return_grad=True, or leave grad_out out"
                )
            if "return_hess" in kwargs or "hess_out" in kwargs:
                _check_hess_keywords(name, hessian, kwargs)
            if any_dask_array(*args, *kwargs.values()):
                from . import dask_support

                return dask_support.call(name, func, args, kwargs)
            if any_device_array(*args, *kwargs.values()):
                return getattr(cuda_backend(family), name)(*args, **kwargs)
            return func(*args, **kwargs)

        return wrapper

    return deco
