"""Sample calls of every function of the registry, for the dask tests.

``SAMPLES[name](rng, dtype, n)`` returns a list of keyword-argument dicts (NumPy
arrays and options, no reduction or gradient keywords) with ``n`` rows (or
elements along the first axis), and :func:`reductions` the reductions to test
on one.  ``tests/dask/test_dask.py`` checks that every name of the registry has
a sample.
"""

import numpy as np

from numbaloss._core import registry
from numbaloss.testing.ctc import log_softmax
from numbaloss.testing.elementwise import CASES

WIDTH = 5
N_CLASSES = 6
REDUCTIONS_ALL = ("none", "mean", "sum")


def _elementwise(name):
    def make(rng, dtype, n):
        case = CASES[name]
        shape = (n, WIDTH)
        arrays = dict(zip(case.arrays, case.make(rng, shape, dtype)))
        calls = []
        for variant in case.variants:
            options = dict(case.options)
            for key, value in variant.items():
                options[key] = value(rng, shape, dtype) if callable(value) else value
            calls.append({**arrays, **options})
        if name == "gaussian_nll_loss":  # var broadcast as PyTorch allows: (N,), (N, 1), a float
            var = arrays["var"]
            calls.append({**arrays, "var": np.ascontiguousarray(var[:, 0])})
            calls.append({**arrays, "var": np.ascontiguousarray(var[:, :1])})
            calls.append({**arrays, "var": 0.75})
        return calls

    return make


def _sigmoid_focal(rng, dtype, n):
    x = (rng.standard_normal((n, WIDTH)) * 2).astype(dtype)
    y = (rng.random((n, WIDTH)) < 0.3).astype(dtype)
    return [{"inputs": x, "targets": y}, {"inputs": x, "targets": y, "alpha": -1, "gamma": 0.5}]


def _class_targets(rng, n, ignore_head=True):
    """Class indices; the first rows ignored, so that a chunk may hold only ignored ones."""
    t = rng.integers(0, N_CLASSES, n)
    if ignore_head:
        t[: min(4, n)] = -100
        t[6::5] = -100
    return t


def _class_weight(rng, dtype):
    return (rng.random(N_CLASSES) + 0.5).astype(dtype)


def _cross_entropy(rng, dtype, n):
    x = (rng.standard_normal((n, N_CLASSES)) * 2).astype(dtype)
    t = _class_targets(rng, n)
    w = _class_weight(rng, dtype)
    x3 = (rng.standard_normal((n, N_CLASSES, 3)) * 2).astype(dtype)
    t3 = rng.integers(0, N_CLASSES, (n, 3))
    t3[:2] = -100
    probs = rng.random((n, N_CLASSES)).astype(dtype)
    return [
        {"input": x, "target": t},
        {"input": x, "target": t, "weight": w, "label_smoothing": 0.1},
        {"input": x3, "target": t3, "weight": w},
        {"input": x, "target": probs / probs.sum(1, keepdims=True), "weight": w},
        {"input": (rng.standard_normal(N_CLASSES) * 2).astype(dtype), "target": np.int64(2)},
    ]


def _linear_cross_entropy(rng, dtype, n, features=4):
    x = rng.standard_normal((n, features)).astype(dtype)
    w = rng.standard_normal((N_CLASSES, features)).astype(dtype)
    b = rng.standard_normal(N_CLASSES).astype(dtype)
    t = _class_targets(rng, n)
    w3 = rng.standard_normal((N_CLASSES, 2, features)).astype(dtype)
    t3 = rng.integers(0, N_CLASSES, (n, 2))
    t3[:2] = -100
    probs = rng.random((n, N_CLASSES)).astype(dtype)
    return [
        {"input": x, "linear_weight": w, "target": t},
        {
            "input": x,
            "linear_weight": w,
            "target": t,
            "linear_bias": b,
            "weight": _class_weight(rng, dtype),
            "label_smoothing": 0.1,
            "chunk_size": 3,
        },
        {"input": x, "linear_weight": w3, "target": t3, "linear_bias": b[:, None] * [1, -1]},
        {"input": x, "linear_weight": w, "target": probs / probs.sum(1, keepdims=True)},
        {"input": x[0], "linear_weight": w, "target": np.int64(2), "linear_bias": b},
    ]


def _focal(rng, dtype, n):
    x = (rng.standard_normal((n, N_CLASSES)) * 2).astype(dtype)
    t = _class_targets(rng, n)
    return [
        {"input": x, "target": t, "gamma": 2.0},
        {"input": x, "target": t, "gamma": 0.5, "weight": _class_weight(rng, dtype)},
    ]


def _nll(rng, dtype, n):
    x = log_softmax(rng.standard_normal((n, N_CLASSES))).astype(dtype)
    t = _class_targets(rng, n)
    return [
        {"input": x, "target": t},
        {"input": x, "target": t, "weight": _class_weight(rng, dtype)},
    ]


def _zero_one(rng, dtype, n):
    x = rng.standard_normal((n, N_CLASSES)).astype(dtype)
    t = rng.integers(0, N_CLASSES, n)
    return [{"input": x, "target": t}, {"input": rng.integers(0, N_CLASSES, n), "target": t}]


def _primitive(key, keepdims):
    def make(rng, dtype, n):
        x = rng.standard_normal((n, WIDTH)).astype(dtype)
        calls = [{key: x, "axis": 1}, {key: x, "axis": 0}, {key: x, "axis": None}]
        if keepdims:
            calls.append({key: x, "axis": 1, "keepdims": True})
        return calls

    return make


def _multi_margin(rng, dtype, n):
    x = rng.standard_normal((n, N_CLASSES)).astype(dtype)
    t = rng.integers(0, N_CLASSES, n)
    row = rng.standard_normal(N_CLASSES).astype(dtype)
    return [
        {"input": x, "target": t},
        {"input": x, "target": t, "p": 2, "margin": 0.5, "weight": _class_weight(rng, dtype)},
        {"input": row, "target": np.array(3)},
        {"input": row, "target": np.array([1])},
    ]


def _multilabel_margin(rng, dtype, n):
    x = rng.standard_normal((n, N_CLASSES)).astype(dtype)
    t = np.full((n, N_CLASSES), -1)
    for i in range(n):
        k = i % 4
        t[i, :k] = rng.permutation(N_CLASSES)[:k]
    return [{"input": x, "target": t}]


def _multilabel_soft_margin(rng, dtype, n):
    x = rng.standard_normal((n, 3, N_CLASSES)).astype(dtype)
    y = (rng.random((n, 3, N_CLASSES)) < 0.4).astype(dtype)
    return [
        {"input": x, "target": y},
        {"input": x[:, 0], "target": y[:, 0], "weight": _class_weight(rng, dtype)},
    ]


def _cosine(rng, dtype, n):
    a = rng.standard_normal((n, WIDTH)).astype(dtype)
    b = rng.standard_normal((n, WIDTH)).astype(dtype)
    t = np.where(rng.random(n) < 0.5, 1, -1)
    return [{"input1": a, "input2": b, "target": t, "margin": 0.2}]


def _triplets(rng, dtype, n):
    return {
        k: rng.standard_normal((n, WIDTH)).astype(dtype) for k in ("anchor", "positive", "negative")
    }


def row_distance(x, y):
    """A user's distance on whole arrays (module level: picklable for a cluster)."""
    return np.abs(x - y).sum(axis=-1)


def row_distance_grad(x, y):
    s = np.sign(x - y)
    return s, -s


def _triplet(rng, dtype, n):
    arrays = _triplets(rng, dtype, n)
    return [arrays, {**arrays, "p": 1.0, "swap": True, "margin": 0.5}]


def _triplet_distance(rng, dtype, n):
    arrays = _triplets(rng, dtype, n)
    return [
        {**arrays, "distance_function": "cosine", "swap": True},
        {**arrays, "distance_function": row_distance, "distance_grad": row_distance_grad},
    ]


def _ctc(from_logits):
    def make(rng, dtype, n, T=12, S=3):
        x = rng.standard_normal((T, n, N_CLASSES)) * 2
        x = (x if from_logits else log_softmax(x)).astype(dtype)
        target_lengths = rng.integers(0, S + 1, n)
        input_lengths = rng.integers(2 * S + 1, T + 1, n)
        targets = rng.integers(1, N_CLASSES, (n, S))
        flat = np.concatenate([targets[i, : target_lengths[i]] for i in range(n)] + [[]])
        single = rng.standard_normal((T, N_CLASSES)) * 2
        single = (single if from_logits else log_softmax(single)).astype(dtype)
        key = "logits" if from_logits else "log_probs"
        return [
            {
                key: x,
                "targets": targets,
                "input_lengths": input_lengths,
                "target_lengths": target_lengths,
            },
            {
                key: x,
                "targets": flat.astype(np.int64),
                "input_lengths": T,
                "target_lengths": target_lengths,
                "zero_infinity": True,
            },
            {key: single, "targets": np.array([1, 2]), "input_lengths": T, "target_lengths": 2},
        ]

    return make


SAMPLES = {
    **{name: _elementwise(name) for name in CASES},
    "sigmoid_focal_loss": _sigmoid_focal,
    "cross_entropy": _cross_entropy,
    "linear_cross_entropy": _linear_cross_entropy,
    "focal_loss": _focal,
    "nll_loss": _nll,
    "zero_one_loss": _zero_one,
    "log_softmax": _primitive("x", False),
    "softmax": _primitive("x", False),
    "logsumexp": _primitive("a", True),
    "multi_margin_loss": _multi_margin,
    "multilabel_margin_loss": _multilabel_margin,
    "multilabel_soft_margin_loss": _multilabel_soft_margin,
    "cosine_embedding_loss": _cosine,
    "triplet_margin_loss": _triplet,
    "triplet_margin_with_distance_loss": _triplet_distance,
    "ctc_loss": _ctc(False),
    "ctc_loss_from_logits": _ctc(True),
}


def reductions(name, call):
    """The reductions of ``name`` to test on ``call``: ``'none'``, ``'mean'``, ``'sum'``, and
    ``'batchmean'`` where the in-memory function accepts it; none for a function
    without a ``reduction``."""
    import inspect

    func = registry.entry(name).function
    if "reduction" not in inspect.signature(func).parameters:
        return ()
    try:
        func(**call, reduction="batchmean")
    except ValueError:
        return REDUCTIONS_ALL
    return (*REDUCTIONS_ALL, "batchmean")
