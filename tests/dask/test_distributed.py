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


def test_xgboost_dask_trains_with_a_numbaloss_objective(client):
    """XGBoost's dask interface on the two worker processes: the numbaloss objective of
    BCE with logits gives the margins of the built-in ``binary:logistic``
    (docs/dask.rst, "Gradient boosting on a cluster")."""
    try:
        import xgboost.dask as xgb_dask
    except ImportError:
        if os.environ.get("CI"):
            raise  # the test extra installs xgboost and dask[dataframe]
        pytest.skip("xgboost's dask interface (xgboost, dask[dataframe]) is not installed")
    from numbaloss.boosting import xgboost_objective

    rng = np.random.default_rng(2026)
    x = rng.standard_normal((4000, 5)).astype(np.float32)
    y = (x[:, 0] - 0.5 * x[:, 1] + 0.5 * rng.standard_normal(4000) > 0.3).astype(np.float32)
    dtrain = xgb_dask.DaskDMatrix(
        client, da.from_array(x, chunks=(1000, -1)), da.from_array(y, chunks=1000)
    )
    params = {"tree_method": "hist", "max_depth": 3}
    builtin = xgb_dask.train(
        client, {**params, "objective": "binary:logistic", "base_score": 0.5}, dtrain, 20
    )
    ours = xgb_dask.train(
        client,
        {**params, "base_score": 0.0},
        dtrain,
        20,
        obj=xgboost_objective("binary_cross_entropy_with_logits"),
    )
    want, got = (
        xgb_dask.predict(client, out["booster"], dtrain, output_margin=True).compute()
        for out in (builtin, ours)
    )
    assert np.abs(want).max() > 1  # the model learned something
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
