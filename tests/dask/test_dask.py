"""Every function of the registry over dask arrays, against the same call in memory.

Random chunkings (hypothesis): uneven chunks, chunks of one element, empty chunks,
chunks whose targets are all ignored, Fortran-ordered and broadcast operands, a
``grad_output`` that is a scalar, an array or a dask array; on dask's threaded
scheduler.  Then the graph's shape (one kernel task per chunk, with the gradient),
determinism across schedulers and thread counts, laziness and bad input.
"""

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import numbaloss as nl
from numbaloss._core import dask_support, registry
from tests.dask.samples import SAMPLES, reductions

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")

NAMES = registry.names()
DTYPES = [np.float64, np.float32]
#: float64: the issue's 1e-12; float32: sums to about 1e-6 relative (docs/conventions.rst)
TOL = {
    np.dtype(np.float64): dict(rtol=1e-12, atol=1e-13),
    np.dtype(np.float32): dict(rtol=1e-5, atol=1e-6),
}


def partitions(n):
    """Chunk sizes that add up to ``n``: uneven, ones and zeros included."""
    cuts = st.lists(st.integers(0, n), max_size=4)
    return cuts.map(lambda c: tuple(int(d) for d in np.diff(sorted([0, *c, n]))))


def to_dask(data, arr, fortran):
    arr = np.asarray(arr)
    if fortran and arr.ndim >= 2:
        arr = np.asfortranarray(arr)
    chunks = tuple(data.draw(partitions(n)) for n in arr.shape)
    return da.from_array(arr, chunks=chunks)


def as_dask_call(data, call):
    """``call`` with its arrays made dask arrays (the first always), randomly chunked."""
    fortran = data.draw(st.booleans(), label="fortran")
    out = dict(call)
    first = True
    for key, value in call.items():
        if not isinstance(value, np.ndarray) or value.ndim == 0 and not first:
            continue
        if first or data.draw(st.booleans(), label=f"{key} as dask"):
            out[key] = to_dask(data, value, fortran)
        first = False
    return out


def upstream(data, rng, reduction, loss, dtype):
    """A random ``grad_output``: a scalar, an array of the loss's shape or broadcast to
    it, as NumPy or dask."""
    if reduction != "none":
        g = float(rng.uniform(0.5, 2.0))
        return (
            (g, da.from_array(np.asarray(g, dtype=dtype))) if data.draw(st.booleans()) else (g, g)
        )
    shape = np.shape(loss)
    kind = data.draw(st.sampled_from(["scalar", "full", "broadcast"]), label="grad_output")
    if kind == "scalar" or not shape:
        g = float(rng.uniform(0.5, 2.0))
        return g, g
    if kind == "broadcast":
        shape = (1, *shape[1:])
    g = rng.uniform(-2, 2, shape).astype(dtype)
    return g, (to_dask(data, g, False) if data.draw(st.booleans()) else g)


def assert_same(actual, expected, dtype):
    tol = TOL[np.dtype(dtype)]
    if isinstance(expected, tuple):
        assert isinstance(actual, tuple) and len(actual) == len(expected)
        for a, e in zip(actual, expected):
            assert_same(a, e, dtype)
        return
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape
    assert actual.dtype == expected.dtype
    np.testing.assert_allclose(
        actual.astype(np.float64), expected.astype(np.float64), equal_nan=True, **tol
    )


def test_every_function_has_a_sample():
    assert sorted(SAMPLES) == sorted(NAMES)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=3, deadline=None)
@given(data=st.data())
def test_equal_to_the_call_in_memory(name, dtype, data):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    calls = SAMPLES[name](rng, dtype, 13)
    call = calls[data.draw(st.integers(0, len(calls) - 1), label="call")]
    func = registry.entry(name).function
    lazy = as_dask_call(data, call)
    todo = reductions(name, call)
    if not todo:  # softmax, log_softmax, logsumexp
        result = func(**lazy)
        assert isinstance(result, da.Array)
        assert_same(result.compute(scheduler="threads"), func(**call), dtype)
        return
    entry = registry.entry(name)
    with_grad = bool(entry.predictions)
    # the Hessian's diagonal too (drawn) where the loss has one: the same kernel tasks
    hess = entry.hessian and data.draw(st.booleans(), label="return_hess")
    outputs = {"return_grad": True, **({"return_hess": True} if hess else {})}
    for reduction in todo:
        loss = func(**call, reduction=reduction)
        g, g_lazy = upstream(data, rng, reduction, loss, dtype)
        if with_grad:
            expected = func(**call, reduction=reduction, grad_output=g, **outputs)
            result = func(**lazy, reduction=reduction, grad_output=g_lazy, **outputs)
            assert isinstance(result[0], da.Array)
            assert len(result) == len(expected)
            grads = [
                arr
                for group in result[1:]
                for arr in (group if isinstance(group, tuple) else (group,))
            ]
            preds = entry.predictions
            first = next((lazy[p] for p in preds if isinstance(lazy.get(p), da.Array)), None)
            for grad in grads:
                assert isinstance(grad, da.Array)
                if first is not None and grad.shape == first.shape:
                    # chunked like the (first dask) prediction, up to the axes a
                    # kernel needs whole
                    for ours, theirs in zip(grad.chunks, first.chunks):
                        assert ours == theirs or len(ours) == 1
        else:
            expected = func(**call, reduction=reduction)
            result = func(**lazy, reduction=reduction)
        (got,) = dask.compute(result, scheduler="threads")
        assert_same(got, expected, dtype)


# --- the graph --------------------------------------------------------------------------


def graph_of(*collections):
    """The tasks of ``collections`` together, as built (before any optimization)."""
    graph = {}
    for c in collections:
        graph.update(dict(c.__dask_graph__()))
    return graph


def kernel_keys(*collections):
    return [
        k
        for k in graph_of(*collections)
        if isinstance(k, tuple) and str(k[0]).startswith(dask_support.KERNEL_PREFIX)
    ]


class _Counting:
    """Counts the in-memory calls of a loss (the kernel runs)."""

    def __init__(self, monkeypatch, name):
        module = __import__(f"numbaloss.{registry.entry(name).family}", fromlist=[name])
        self.func = getattr(module, name)
        self.calls = 0
        monkeypatch.setattr(module, name, self)

    def __call__(self, *args, **kwargs):
        self.calls += 1
        return self.func(*args, **kwargs)


@pytest.mark.parametrize(
    "name, make",
    [
        ("mse_loss", lambda r: (r.standard_normal((40, 7)), r.standard_normal((40, 7)))),
        ("cross_entropy", lambda r: (r.standard_normal((40, 7)), r.integers(0, 7, 40))),
    ],
)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("hess", [False, True], ids=["grad", "grad+hess"])
def test_one_kernel_task_per_chunk_for_value_and_gradient(
    monkeypatch, rng, name, make, reduction, hess
):
    x, t = make(rng)
    xd = da.from_array(x, chunks=(9, 7))
    td = da.from_array(t, chunks=9 if t.ndim == 1 else (9, 7))
    func = getattr(nl, name)
    kw = {"weight": rng.random(7) + 0.5} if name == "cross_entropy" else {}
    kw.update({"return_hess": True} if hess else {})
    lazy = func(xd, td, reduction=reduction, return_grad=True, **kw)
    assert len(lazy) == 2 + hess
    for arr in lazy[1:]:
        assert arr.chunks == xd.chunks
    assert len(kernel_keys(*lazy)) == xd.npartitions == 5
    counting = _Counting(monkeypatch, name)
    got = dask.compute(*lazy, scheduler="sync")
    assert counting.calls == xd.npartitions
    monkeypatch.undo()
    assert_same(got, func(x, t, reduction=reduction, return_grad=True, **kw), np.float64)


def test_a_weighted_mean_sums_its_divisor_first_from_the_targets(monkeypatch, rng):
    """The divisor of weighted class-index targets is a small reduction over the targets;
    the loss kernel still runs once per chunk."""
    x = rng.standard_normal((30, 5))
    t = rng.integers(0, 5, 30)
    w = rng.random(5) + 0.5
    loss, grad = nl.cross_entropy(
        da.from_array(x, chunks=(7, 5)), da.from_array(t, chunks=7), weight=w, return_grad=True
    )
    shares = [k for k in graph_of(loss, grad) if "divisor" in str(k[0]) and "share" in str(k[0])]
    assert len(kernel_keys(loss, grad)) == 5
    assert len(shares) == 5
    counting = _Counting(monkeypatch, "cross_entropy")
    got = dask.compute(loss, grad, scheduler="sync")
    assert counting.calls == 5
    monkeypatch.undo()
    assert_same(got, nl.cross_entropy(x, t, weight=w, return_grad=True), np.float64)


def test_results_are_lazy(monkeypatch, rng):
    x = da.from_array(rng.standard_normal(20), chunks=6)
    counting = _Counting(monkeypatch, "huber_loss")
    loss, grad = nl.huber_loss(x, x * 0.5, return_grad=True)
    assert counting.calls == 0
    assert loss.shape == () and loss.dtype == np.float64
    assert grad.chunks == x.chunks
    loss.compute(scheduler="sync")
    assert counting.calls == 4


def test_the_same_chunking_gives_the_same_bits_on_any_scheduler(rng):
    x = rng.standard_normal((257, 33)).astype(np.float32)
    t = rng.integers(0, 33, 257)
    t[::7] = -100
    xd = da.from_array(x, chunks=((100, 1, 0, 156), 33))
    td = da.from_array(t, chunks=((100, 1, 0, 156),))
    lazy = nl.cross_entropy(xd, td, weight=rng.random(33) + 0.1, return_grad=True)
    runs = [
        dask.compute(*lazy, scheduler="sync"),
        dask.compute(*lazy, scheduler="threads", num_workers=1),
        dask.compute(*lazy, scheduler="threads", num_workers=4),
    ]
    for loss, grad in runs[1:]:
        assert loss.tobytes() == runs[0][0].tobytes()
        assert grad.tobytes() == runs[0][1].tobytes()


def test_chunks_whose_targets_are_all_ignored(rng):
    x = rng.standard_normal((12, 4))
    t = rng.integers(0, 4, 12)
    t[:5] = -100
    xd = da.from_array(x, chunks=((5, 7), 4))
    td = da.from_array(t, chunks=((5, 7),))
    for reduction in ("mean", "sum", "none"):
        got = dask.compute(*nl.cross_entropy(xd, td, reduction=reduction, return_grad=True))
        assert_same(got, nl.cross_entropy(x, t, reduction=reduction, return_grad=True), np.float64)
    # every target ignored: 'mean' is NaN, as in memory
    t[:] = -100
    loss = nl.nll_loss(xd, da.from_array(t, chunks=5)).compute()
    assert np.isnan(loss) and np.isnan(nl.nll_loss(x, t))


def test_empty_arrays(rng):
    for name in ("mse_loss", "cross_entropy", "triplet_margin_loss", "ctc_loss"):
        call = SAMPLES[name](rng, np.float64, 0)[0]
        func = registry.entry(name).function
        lazy = {
            k: da.from_array(v) if isinstance(v, np.ndarray) and v.ndim else v
            for k, v in call.items()
        }
        for reduction in ("mean", "sum", "none"):
            got = dask.compute(func(**lazy, reduction=reduction, return_grad=True))[0]
            assert_same(got, func(**call, reduction=reduction, return_grad=True), np.float64)


def test_dask_options_and_operands_are_aligned(rng):
    """Operands chunked differently are rechunked to the prediction's chunks; class
    weights given as a dask array are passed whole."""
    x = rng.standard_normal((30, 6))
    t = rng.integers(0, 6, 30)
    w = rng.random(6) + 0.5
    loss, grad = nl.cross_entropy(
        da.from_array(x, chunks=(4, 2)),
        da.from_array(t, chunks=11),
        weight=da.from_array(w, chunks=2),
        return_grad=True,
    )
    assert grad.chunks == ((4,) * 7 + (2,), (6,))  # the class axis whole
    assert_same(
        dask.compute(loss, grad), nl.cross_entropy(x, t, weight=w, return_grad=True), np.float64
    )


# --- bad input --------------------------------------------------------------------------


def test_shape_errors_are_raised_when_the_graph_is_built():
    x = da.zeros((4, 3), chunks=2)
    with pytest.raises(ValueError, match="input and target must have the same shape"):
        nl.mse_loss(x, da.zeros((4, 2), chunks=2))
    with pytest.raises(ValueError, match="class-index targets must have shape"):
        nl.cross_entropy(x, da.zeros(5, dtype=int, chunks=2))
    with pytest.raises(TypeError, match="must hold real numbers"):
        nl.l1_loss(x, da.zeros((4, 3), dtype=complex, chunks=2))
    with pytest.raises(ValueError, match="reduction must be one of"):
        nl.l1_loss(x, x, reduction="avg")
    with pytest.raises(ValueError, match="grad_output of shape"):
        nl.mse_loss(x, x, reduction="none", return_grad=True, grad_output=da.zeros((5,), chunks=2))
    with pytest.raises(ValueError, match="no gradient"):
        nl.zero_one_loss(x, da.zeros(4, dtype=int, chunks=2), return_grad=True)


def test_grad_out_and_hess_out_cannot_be_used_with_dask_arrays():
    x = da.zeros(4, chunks=2)
    with pytest.raises(TypeError, match="grad_out cannot be used with dask arrays"):
        nl.mse_loss(x, x, return_grad=True, grad_out=np.empty(4))
    with pytest.raises(TypeError, match="hess_out cannot be used with dask arrays"):
        nl.mse_loss(x, x, return_grad=True, return_hess=True, hess_out=np.empty(4))
    # the keyword checks of every call come first, with their own messages
    with pytest.raises(ValueError, match="return_hess=True requires return_grad=True"):
        nl.mse_loss(x, x, return_hess=True)
    with pytest.raises(TypeError, match="triplet_margin_loss has no Hessian diagonal"):
        nl.triplet_margin_loss(x, x, x, return_grad=True, return_hess=True)


def test_values_are_checked_in_the_chunks():
    x = da.from_array(np.array([0.5, 1.5, 0.2]), chunks=1)
    with pytest.raises(ValueError, match="between 0 and 1"):
        nl.binary_cross_entropy(x, x * 0).compute()
    with pytest.raises(ValueError, match="out of bounds"):
        nl.cross_entropy(
            da.zeros((3, 2), chunks=1), da.from_array(np.array([0, 5, 1]), chunks=1)
        ).compute()


def test_unknown_chunk_sizes_are_a_clear_error(rng):
    x = da.from_array(rng.standard_normal(10), chunks=5)
    y = x[x > 0]
    with pytest.raises(ValueError, match="unknown chunk sizes"):
        nl.mse_loss(y, y)


def test_dask_is_imported_only_when_a_dask_array_arrives():
    code = (
        "import sys, numpy as np, numbaloss as nl\n"
        "nl.mse_loss(np.ones(3), np.zeros(3), return_grad=True)\n"
        "nl.cross_entropy(np.zeros((2, 3)), np.array([0, 2]))\n"
        "assert not any(m.split('.')[0] in ('dask', 'distributed') for m in sys.modules), "
        "sorted(m for m in sys.modules if m.startswith('dask'))\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_torch_style_classes_accept_dask_arrays(rng):
    x = rng.standard_normal((10, 4))
    t = rng.integers(0, 4, 10)
    module = nl.CrossEntropyLoss(label_smoothing=0.1)
    got = dask.compute(
        module(da.from_array(x, chunks=3), da.from_array(t, chunks=3), return_grad=True)
    )[0]
    assert_same(got, module(x, t, return_grad=True), np.float64)
