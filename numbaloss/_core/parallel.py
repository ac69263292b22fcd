"""Running kernels on several threads, deterministically, thread- and fork-safely.

numba's own parallel backends each fail one of numbaloss's promises on this
platform: GNU OpenMP kills a child forked after the parent used it, workqueue
aborts when two Python threads enter a parallel region at once, and TBB needs a
shared library on the loader path and reorders ``prange`` reductions between calls.
numbaloss therefore does not use ``parallel=True`` at all.  Kernels are plain
``nogil`` functions over a range of *blocks*; this module runs those ranges on a
small pool of Python threads that it owns:

* The data are cut into blocks of a fixed size (``BLOCK``) that does not depend on
  the number of threads; each block's partial sum is formed by the same compiled
  loop, and the partial sums are combined in block order.  Results are therefore
  bitwise identical across runs and across thread counts.
* Any number of Python threads may call at once: each call hands its own block
  ranges to the pool and runs the first range itself.
* After ``fork()`` the child starts a fresh pool on first use.

The number of threads is :func:`get_num_threads`; how it is chosen (and how
``NUMBALOSS_NUM_THREADS`` and numba's ``NUMBA_NUM_THREADS`` interact) is described
there and in docs/conventions.rst ("Threads and determinism").
"""

import operator
import os
import threading
from concurrent.futures import ThreadPoolExecutor

from numpy import bool_ as np_bool

#: Elements per block of an elementwise reduction; fixed, for reproducibility.
BLOCK = 1 << 13
#: Below this many elements of work a call runs on the calling thread alone; no
#: chunk of a parallel call is smaller.
MIN_PARALLEL_WORK = 1 << 16
#: Chunks per thread of a large call, taken by whichever thread is free.
CHUNKS_PER_THREAD = 8

_lock = threading.Lock()
_pool = None
_pool_size = 0


def available_cpus():
    """The number of CPUs this process may run on (its affinity mask, where known)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _env_threads(variable):
    """The positive integer in environment ``variable``, or None when it is unset or empty."""
    text = os.environ.get(variable, "").strip()
    if not text:
        return None
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise ValueError(f"{variable} must be a positive integer, got {text!r}")
    return n


def _default_threads():
    cpus = available_cpus()
    own = _env_threads("NUMBALOSS_NUM_THREADS")
    if own is not None:
        if own > cpus:
            raise ValueError(
                f"NUMBALOSS_NUM_THREADS={own} is more than the {cpus} CPUs this process "
                f"may run on; set it to at most {cpus} (or unset it for {cpus})"
            )
        return own
    # numba's own limit on its threads also bounds ours: NUMBA_NUM_THREADS=1 is how a
    # user (or a job scheduler) asks numba code for one thread.  It caps the default
    # and is never a request for more threads than there are CPUs.
    numba_limit = _env_threads("NUMBA_NUM_THREADS")
    return cpus if numba_limit is None else min(cpus, numba_limit)


_num_threads = None


def get_num_threads():
    """The number of threads numbaloss kernels use.

    numbaloss runs its kernels on a pool of threads of its own (numba's
    ``parallel=True`` is not used), so numba's :func:`numba.set_num_threads` does
    not change it.  In order of precedence, the number is:

    1. the last :func:`set_num_threads` of this process;
    2. else the environment variable ``NUMBALOSS_NUM_THREADS`` (a positive integer,
       at most the CPUs this process may run on; ``ValueError`` at the first call
       that needs it otherwise);
    3. else the number of CPUs this process may run on (its affinity mask), capped
       by numba's ``NUMBA_NUM_THREADS`` when that is set: ``NUMBA_NUM_THREADS=1``
       makes numbaloss single-threaded too, while a value above the CPUs does not
       add threads.

    The environment variables are read once, at the first call that needs the number.

    Returns
    -------
    int

    Examples
    --------
    >>> import numbaloss as nl
    >>> nl.get_num_threads() >= 1
    True
    """
    global _num_threads
    if _num_threads is None:
        _num_threads = _default_threads()
    return _num_threads


def set_num_threads(n):
    """Use ``n`` threads for later calls (results do not depend on it).

    Parameters
    ----------
    n : int
        Any integer type (``int``, ``numpy.int64``, anything with ``__index__``)
        from 1 to the number of CPUs this process may run on.  Not an integer
        (``2.0``, ``"2"``, ``True``): ``TypeError``.  Below 1, or more threads than
        CPUs (which would only make the threads wait for each other):
        ``ValueError``.  Overrides ``NUMBALOSS_NUM_THREADS`` and
        ``NUMBA_NUM_THREADS`` (see :func:`get_num_threads`).

    Examples
    --------
    >>> import numbaloss as nl
    >>> nl.set_num_threads(1)
    >>> nl.get_num_threads()
    1
    """
    global _num_threads
    if isinstance(n, (bool, np_bool)):
        raise TypeError(f"n must be an integer number of threads, got {type(n).__name__} {n!r}")
    try:
        n = operator.index(n)
    except TypeError:
        raise TypeError(
            f"n must be an integer number of threads, got {type(n).__name__} {n!r}"
        ) from None
    if n < 1:
        raise ValueError(f"n must be at least 1 thread, got {n}")
    cpus = available_cpus()
    if n > cpus:
        raise ValueError(
            f"n={n} threads is more than the {cpus} CPUs this process may run on; "
            f"use at most {cpus}"
        )
    _num_threads = n


def _get_pool(workers):
    global _pool, _pool_size
    with _lock:
        if _pool is None or _pool_size < workers:
            old = _pool
            _pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="numbaloss")
            _pool_size = workers
            if old is not None:
                old.shutdown(wait=False)
        return _pool


def _reset_after_fork():
    global _pool, _pool_size, _lock
    _lock = threading.Lock()
    _pool = None
    _pool_size = 0


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


def split(n_items, parts):
    """``parts`` contiguous (start, stop) ranges covering ``range(n_items)``."""
    parts = max(1, min(parts, n_items))
    bounds = [n_items * i // parts for i in range(parts + 1)]
    return [(bounds[i], bounds[i + 1]) for i in range(parts) if bounds[i] < bounds[i + 1]]


def run_ranges(kernel, n_items, work_per_item, *args):
    """Call ``kernel(*args, start, stop)`` over ranges that cover ``range(n_items)``.

    ``work_per_item`` (elements touched per item) decides whether threads pay off.
    The ranges must write disjoint outputs; what each range computes must not
    depend on where the range starts, so that any split gives the same bits.

    The items are cut into up to ``CHUNKS_PER_THREAD`` chunks per thread (none
    smaller than ``MIN_PARALLEL_WORK`` elements), and each thread takes the next
    chunk when it is done with one: a thread that runs slower (a busy core, a
    descheduled virtual CPU) then takes fewer chunks instead of holding up the call.
    """
    if n_items <= 0:
        return
    threads = get_num_threads()
    total_work = n_items * work_per_item
    if threads == 1 or total_work < MIN_PARALLEL_WORK or n_items == 1:
        kernel(*args, 0, n_items)
        return
    chunks = min(threads * CHUNKS_PER_THREAD, max(threads, total_work // MIN_PARALLEL_WORK))
    ranges = split(n_items, chunks)
    workers = min(threads, len(ranges))
    take = _Chunks(ranges)

    def work():
        while (chunk := take()) is not None:
            kernel(*args, *chunk)

    pool = _get_pool(workers - 1)
    futures = [pool.submit(work) for _ in range(workers - 1)]
    first_error = None
    try:
        work()
    except BaseException as exc:  # still wait for the others: they write our buffers
        first_error = exc
        take.stop()
    for fut in futures:
        try:
            fut.result()
        except BaseException as exc:
            if first_error is None:
                first_error = exc
    if first_error is not None:
        raise first_error


class _Chunks:
    """Hands out ``ranges`` one at a time to the threads of one call."""

    def __init__(self, ranges):
        self._ranges = ranges
        self._next = 0
        self._lock = threading.Lock()

    def __call__(self):
        with self._lock:
            if self._next >= len(self._ranges):
                return None
            chunk = self._ranges[self._next]
            self._next += 1
            return chunk

    def stop(self):
        """Hand out nothing more (after an error)."""
        with self._lock:
            self._next = len(self._ranges)


def n_blocks(n, block=BLOCK):
    """How many blocks of ``block`` elements cover ``n`` elements."""
    return -(-n // block)
