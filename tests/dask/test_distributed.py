"""numbaloss on a real dask.distributed cluster: two worker processes, started once for
this module by a fixture and closed by it, give the results (and bits) of the
threaded scheduler."""

import logging
import os

import numpy as np
import pytest

import numbaloss as nl
from tests.dask.samples import row_distance, row_distance_grad

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")
distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def client():
    """A LocalCluster of 2 worker processes (one thread each) and its client, once per
    module: starting one costs seconds."""
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
        yield client


def _calls(rng):
    x = rng.standard_normal((300, 40)).astype(np.float32)
    y = rng.standard_normal((300, 40)).astype(np.float32)
    t = rng.integers(0, 40, 300)
    t[::9] = -100
    w = (rng.random(40) + 0.5).astype(np.float32)
    a, p, n = (rng.standard_normal((300, 8)) for _ in range(3))
    lw, lb = rng.standard_normal((40, 8)), rng.standard_normal(40)
    chunks = ((70, 1, 0, 129, 100), 40)
    xd, yd = da.from_array(x, chunks=chunks), da.from_array(y, chunks=chunks)
    td = da.from_array(t, chunks=chunks[:1])
    ad, pd, nd = (da.from_array(v, chunks=(64, 8)) for v in (a, p, n))
    distance = {"distance_function": row_distance, "distance_grad": row_distance_grad}
    hess = {"return_hess": True}
    return [
        (nl.mse_loss, (x, y), (xd, yd), {}),
        (nl.mse_loss, (x, y), (xd, yd), {"reduction": "none", **hess}),
        (nl.cross_entropy, (x, t), (xd, td), {"weight": w, **hess}),
        (nl.cross_entropy, (x, t), (xd, td), {"reduction": "sum", "label_smoothing": 0.1}),
        (nl.triplet_margin_with_distance_loss, (a, p, n), (ad, pd, nd), distance),
        (nl.linear_cross_entropy, (a, lw, t), (ad, lw, td), {"linear_bias": lb}),
    ]


def _arrays(result):
    """The arrays of a result ``(loss, grads, ...)``, flattened."""
    out = []
    for part in result:
        out.extend(part if isinstance(part, tuple) else (part,))
    return [np.asarray(a) for a in out]


def test_local_cluster_with_two_worker_processes(rng, client):
    calls = _calls(rng)
    lazy = [func(*arrays, **kw, return_grad=True) for func, _, arrays, kw in calls]
    threaded = dask.compute(*lazy, scheduler="threads")
    on_cluster = client.compute(lazy, sync=True)
    workers = client.run(os.getpid)
    assert len(set(workers.values())) == 2 and os.getpid() not in workers.values()
    for (func, arrays, _, kw), got, same in zip(calls, on_cluster, threaded):
        expected = _arrays(func(*arrays, **kw, return_grad=True))
        got, same = _arrays(got), _arrays(same)
        assert len(got) == len(expected)
        for g, e, s in zip(got, expected, same):
            assert g.dtype == e.dtype and g.shape == e.shape
            np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-6)
            # the same chunking: the same bits as the threaded scheduler
            assert g.tobytes() == s.tobytes()
