"""Compilation seen from the command line: noticing it, and doing it ahead of time.

numba compiles a kernel the first time it is called with new argument types and
keeps the machine code in its on-disk cache (docs/compilation.rst); a later
process loads it from there.  numba announces each real compilation (not a load
from the cache) with a ``numba:compile`` event, which :class:`CompileWatch`
listens to: the demo uses it to say that it is compiling and that the result is
cached, and ``python -m numbaloss compile`` (:func:`compile_ahead`) to report what
it compiled.

Nothing here is imported by ``import numbaloss``.
"""

import threading
import time
from dataclasses import dataclass, field

import numpy as np
from numba.core import event


class CompileWatch(event.Listener):
    """Counts numba's compilations while installed (``with CompileWatch() as watch:``).

    A compilation of a kernel compiles the functions it calls inside it; only the
    outermost one of each thread is counted, in :attr:`count`, and its wall time
    added to :attr:`seconds`.  ``on_first`` is called when the first one starts
    (from the compiling thread).
    """

    def __init__(self, on_first=None):
        self.count = 0
        self.seconds = 0.0
        self.compiled = []  # the qualified names of the outermost compiled functions
        self._on_first = on_first
        self._lock = threading.Lock()
        self._local = threading.local()

    def on_start(self, ev):
        depth = getattr(self._local, "depth", 0)
        self._local.depth = depth + 1
        if depth:
            return
        self._local.start = time.perf_counter()
        with self._lock:
            first = self.count == 0
            self.count += 1
            dispatcher = (ev.data or {}).get("dispatcher")
            func = getattr(dispatcher, "py_func", None)
            if func is not None:
                self.compiled.append(f"{func.__module__}.{func.__qualname__}")
        if first and self._on_first is not None:
            self._on_first()

    def on_end(self, ev):
        self._local.depth -= 1
        if self._local.depth == 0:
            elapsed = time.perf_counter() - self._local.start
            with self._lock:
                self.seconds += elapsed

    def __enter__(self):
        event.register("numba:compile", self)
        return self

    def __exit__(self, *exc):
        event.unregister("numba:compile", self)
        return False


#: The dtypes ``compile`` prepares every kernel for.
DTYPES = (np.float32, np.float64)
#: Reductions ``compile`` prepares (``'sum'`` runs the kernels of ``'mean'``).
REDUCTIONS = ("mean", "none")
#: Elements of the tiny inputs it calls each function with.
SIZE = 64


@dataclass
class Report:
    """What :func:`compile_ahead` did for one family."""

    family: str
    names: list
    calls: int = 0
    compiled: int = 0
    seconds: float = 0.0
    kernels: list = field(default_factory=list)


def calls(name):
    """The calls that prepare ``name``: ``(dtype, reduction or None, return_grad)`` each.

    Every dtype of :data:`DTYPES`; the reductions of :data:`REDUCTIONS` where the
    function has ``reduction``; the value alone and, where the function has a
    gradient, the value with the gradient.
    """
    import inspect

    import numbaloss

    from ._core import registry

    params = inspect.signature(getattr(numbaloss, name)).parameters
    reductions = REDUCTIONS if "reduction" in params else (None,)
    grads = (False, True) if registry.entry(name).predictions else (False,)
    return [(d, r, g) for d in DTYPES for r in reductions for g in grads]


def compile_ahead(names, progress=None):
    """Call every function of ``names`` on tiny inputs in every form of :func:`calls`.

    Kernels that numba has not cached yet are compiled and written to its on-disk
    cache; those already cached are loaded.  ``progress(label)`` is called after each
    call.  Returns one :class:`Report` per family, in the registry's order.
    """
    from . import _bench
    from ._core import registry

    reports = {}
    for name in names:
        family = registry.entry(name).family
        report = reports.setdefault(family, Report(family, []))
        report.names.append(name)
        for dtype, reduction, grad in calls(name):
            load = _bench.workload(name, SIZE, dtype)
            options = dict(load.options)
            if reduction is not None:
                options["reduction"] = reduction
            if grad:
                options["return_grad"] = True
            start = time.perf_counter()
            with CompileWatch() as watch:
                load.func(*load.arrays, **options)
            report.seconds += time.perf_counter() - start
            report.calls += 1
            report.compiled += watch.count
            report.kernels += [k for k in watch.compiled if k not in report.kernels]
            if progress is not None:
                progress(f"{name} {np.dtype(dtype).name}")
    return list(reports.values())
