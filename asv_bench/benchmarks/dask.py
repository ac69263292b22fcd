"""Losses over dask arrays: numbaloss per chunk, the dask.array expression, numbaloss in memory.

``mse_loss`` and ``cross_entropy`` (C = 1000), value and value+gradient, over
float32 data made by ``dask.array.random`` in chunks of 10^7 elements (a quarter of
the array in the small smoke size), on dask's threaded scheduler and on a
``LocalCluster`` of two worker processes (one dask thread each; each worker's
numbaloss threads are half the cores, so that the two together use all of them).
The gradient is consumed chunk by chunk (one element of each chunk is kept), as a
training step that stores or applies it would, so it is computed but never
gathered whole.

* ``Numbaloss`` and ``Expression`` time the loss over data already in memory (on
  the workers, for the cluster): ``nl.<loss>(x, y, return_grad=True)`` against the
  same loss and gradient written as dask.array expressions (``cross_entropy``'s
  needs a log-softmax).
* ``InMemory`` is the in-memory numbaloss call at 2*10^7 elements, the baseline per
  element.
* ``PeakMemory`` generates the data inside the graph (nothing persisted): the peak
  memory of the process on the threaded scheduler (``peakmem_``), and of the
  busiest worker on the cluster (``track_``, its maximum resident set in bytes),
  which should be a few chunks per thread, never the whole array.
"""

import logging
import os
import resource

import numpy as np

import numbaloss as nl

N_CLASSES = 1000
#: elements of the full run, and of the smoke size
ELEMENTS = [400_000, 400_000_000]
CHUNK = 10_000_000
LOSSES = ["mse_loss", "cross_entropy"]
SCHEDULERS = ["threads", "cluster"]


def _dask_or_skip():
    try:
        import dask
        import dask.array as da
        import distributed
    except ImportError as exc:
        raise NotImplementedError("dask[array] and distributed are not installed") from exc
    return dask, da, distributed


def _chunk(elements):
    return min(CHUNK, elements // 4)


def _data(da, loss, elements):
    """Lazy float32 data: ``(x, y)`` for mse_loss, ``(logits, targets)`` for cross_entropy."""
    gen = da.random.default_rng(2026)
    chunk = _chunk(elements)
    if loss == "mse_loss":
        x = gen.standard_normal(elements, chunks=chunk, dtype=np.float32)
        y = gen.standard_normal(elements, chunks=chunk, dtype=np.float32)
        return x, y
    rows, rows_per_chunk = elements // N_CLASSES, chunk // N_CLASSES
    x = gen.standard_normal((rows, N_CLASSES), chunks=(rows_per_chunk, -1), dtype=np.float32)
    t = gen.integers(0, N_CLASSES, rows, chunks=rows_per_chunk)
    return x, t


def _consumed(grad):
    """One element of each gradient chunk: the gradient is computed, not gathered."""
    return grad.map_blocks(
        lambda b: b[(slice(0, 1),) * b.ndim], chunks=tuple((1,) * len(c) for c in grad.chunks)
    )


def _expression(da, loss, x, y):
    """The loss and its gradient as dask.array expressions."""
    if loss == "mse_loss":
        d = x - y
        return (d * d).mean(), d * np.float32(2 / x.size)
    m = x.max(axis=1, keepdims=True)
    shifted = x - m
    log_softmax = shifted - da.log(da.exp(shifted).sum(axis=1, keepdims=True))
    onehot = da.arange(N_CLASSES)[None, :] == y[:, None]
    rows = np.float32(1 / x.shape[0])
    value = -da.where(onehot, log_softmax, 0).sum() * rows
    grad = (da.exp(log_softmax) - onehot) * rows
    return value, grad


class _Cluster:
    """Starts the scheduler: nothing for ``'threads'``, a two-process LocalCluster."""

    def start(self, scheduler):
        dask, da, distributed = _dask_or_skip()
        self.client = self.cluster = None
        if scheduler == "cluster":
            previous = os.environ.get("NUMBALOSS_NUM_THREADS")
            os.environ["NUMBALOSS_NUM_THREADS"] = str(max(1, nl.get_num_threads() // 2))
            try:
                self.cluster = distributed.LocalCluster(
                    n_workers=2,
                    processes=True,
                    threads_per_worker=1,
                    dashboard_address=":0",
                    silence_logs=logging.ERROR,
                )
            finally:
                if previous is None:
                    del os.environ["NUMBALOSS_NUM_THREADS"]
                else:
                    os.environ["NUMBALOSS_NUM_THREADS"] = previous
            self.client = distributed.Client(self.cluster)
        return dask, da

    def compute(self, *collections):
        if self.client is not None:
            return self.client.compute(list(collections), sync=True)
        return self.dask.compute(*collections, scheduler="threads")

    def persist(self, *collections):
        if self.client is not None:
            done = self.client.persist(list(collections))
            import distributed

            distributed.wait(done)
            return done
        return self.dask.persist(*collections, scheduler="threads")

    def teardown(self, *args):
        if self.client is not None:
            self.client.close()
            self.cluster.close()


class Numbaloss(_Cluster):
    params = [LOSSES, SCHEDULERS, ELEMENTS]
    param_names = ["loss", "scheduler", "elements"]
    timeout = 900
    number = 1
    repeat = 3

    def setup(self, loss, scheduler, elements):
        self.dask, self.da = self.start(scheduler)
        self.x, self.y = self.persist(*_data(self.da, loss, elements))
        self.func = getattr(nl, loss)
        # compile (on every worker; each loads it from the disk cache at best)
        self.time_value(loss, scheduler, elements)
        self.time_value_and_grad(loss, scheduler, elements)

    def time_value(self, loss, scheduler, elements):
        self.compute(self.func(self.x, self.y))

    def time_value_and_grad(self, loss, scheduler, elements):
        value, grad = self.func(self.x, self.y, return_grad=True)
        self.compute(value, _consumed(grad))


class Expression(_Cluster):
    params = [LOSSES, SCHEDULERS, ELEMENTS]
    param_names = ["loss", "scheduler", "elements"]
    timeout = 900
    number = 1
    repeat = 3

    def setup(self, loss, scheduler, elements):
        self.dask, self.da = self.start(scheduler)
        self.x, self.y = self.persist(*_data(self.da, loss, elements))
        self.loss = loss

    def time_value(self, loss, scheduler, elements):
        self.compute(_expression(self.da, loss, self.x, self.y)[0])

    def time_value_and_grad(self, loss, scheduler, elements):
        value, grad = _expression(self.da, loss, self.x, self.y)
        self.compute(value, _consumed(grad))


class InMemory:
    """numbaloss on NumPy arrays, the per-element baseline (2*10^7 elements)."""

    params = [LOSSES, [400_000, 20_000_000]]
    param_names = ["loss", "elements"]
    timeout = 300

    def setup(self, loss, elements):
        gen = np.random.default_rng(2026)
        if loss == "mse_loss":
            self.x = gen.standard_normal(elements, dtype=np.float32)
            self.y = gen.standard_normal(elements, dtype=np.float32)
        else:
            rows = elements // N_CLASSES
            self.x = gen.standard_normal((rows, N_CLASSES), dtype=np.float32)
            self.y = gen.integers(0, N_CLASSES, rows)
        self.func = getattr(nl, loss)
        self.func(self.x, self.y, return_grad=True)

    def time_value(self, loss, elements):
        self.func(self.x, self.y)

    def time_value_and_grad(self, loss, elements):
        self.func(self.x, self.y, return_grad=True)


class PeakMemory(_Cluster):
    """Memory with the data generated inside the graph (nothing persisted)."""

    params = [LOSSES, ELEMENTS]
    param_names = ["loss", "elements"]
    timeout = 900

    def setup(self, loss, elements):
        self.dask, self.da = _dask_or_skip()[:2]
        self.func = getattr(nl, loss)
        self.client = None

    def _lazy(self, loss, elements):
        value, grad = self.func(*_data(self.da, loss, elements), return_grad=True)
        return value, _consumed(grad)

    def peakmem_value_and_grad_threads(self, loss, elements):
        self.dask.compute(*self._lazy(loss, elements), scheduler="threads")

    def track_worker_peak_rss_cluster(self, loss, elements):
        self.start("cluster")
        try:
            self.compute(*self._lazy(loss, elements))
            # (a lambda, pickled by value: the workers need not import this module)
            rss = self.client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
            return max(rss.values()) * 1024  # Linux reports KiB
        finally:
            self.teardown()

    track_worker_peak_rss_cluster.unit = "bytes"
