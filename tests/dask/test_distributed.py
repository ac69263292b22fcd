"""numbaloss on a real dask.distributed cluster: two worker processes, started and
closed by the test, give the results (and bits) of the threaded scheduler."""

import logging

import numpy as np
import pytest

import numbaloss as nl
from tests.dask.samples import row_distance, row_distance_grad

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")
distributed = pytest.importorskip("distributed")


def _calls(rng):
    x = rng.standard_normal((300, 40)).astype(np.float32)
    y = rng.standard_normal((300, 40)).astype(np.float32)
    t = rng.integers(0, 40, 300)
    t[::9] = -100
    w = (rng.random(40) + 0.5).astype(np.float32)
    a, p, n = (rng.standard_normal((300, 8)) for _ in range(3))
    chunks = ((70, 1, 0, 129, 100), 40)
    xd, yd = da.from_array(x, chunks=chunks), da.from_array(y, chunks=chunks)
    td = da.from_array(t, chunks=chunks[:1])
    ad, pd, nd = (da.from_array(v, chunks=(64, 8)) for v in (a, p, n))
    distance = {"distance_function": row_distance, "distance_grad": row_distance_grad}
    return [
        (nl.mse_loss, (x, y), (xd, yd), {}),
        (nl.mse_loss, (x, y), (xd, yd), {"reduction": "none"}),
        (nl.cross_entropy, (x, t), (xd, td), {"weight": w}),
        (nl.cross_entropy, (x, t), (xd, td), {"reduction": "sum", "label_smoothing": 0.1}),
        (nl.triplet_margin_with_distance_loss, (a, p, n), (ad, pd, nd), distance),
    ]


def test_local_cluster_with_two_worker_processes(rng):
    calls = _calls(rng)
    lazy = [func(*arrays, **kw, return_grad=True) for func, _, arrays, kw in calls]
    threaded = dask.compute(*lazy, scheduler="threads")
    with (
        distributed.LocalCluster(
            n_workers=2,
            processes=True,
            threads_per_worker=1,
            dashboard_address=":0",
            silence_logs=logging.ERROR,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        on_cluster = client.compute(lazy, sync=True)
        workers = client.run(lambda: __import__("os").getpid())
    assert len(set(workers.values())) == 2
    for (func, arrays, _, kw), got, same in zip(calls, on_cluster, threaded):
        loss, grad = got
        exp_loss, exp_grad = func(*arrays, **kw, return_grad=True)
        grads = grad if isinstance(grad, tuple) else (grad,)
        exp_grads = exp_grad if isinstance(exp_grad, tuple) else (exp_grad,)
        np.testing.assert_allclose(loss, exp_loss, rtol=1e-5, atol=1e-6)
        for g, e in zip(grads, exp_grads):
            assert g.dtype == e.dtype and g.shape == e.shape
            np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-6)
        # the same chunking: the same bits as the threaded scheduler
        assert np.asarray(loss).tobytes() == np.asarray(same[0]).tobytes()
        same_grads = same[1] if isinstance(same[1], tuple) else (same[1],)
        for g, s in zip(grads, same_grads):
            assert g.tobytes() == s.tobytes()
