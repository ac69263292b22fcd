"""Timing numbaloss beside PyTorch's CPU forward+backward and plain NumPy.

Shared by ``python -m numbaloss bench``, ``asv_bench/compare.py`` and the asv
benchmarks (``asv_bench/benchmarks/compile.py``).  The losses are those of the
registry (:mod:`numbaloss._core.registry`); :func:`workload` makes valid inputs for
every function of a family at any size (an elementwise loss's from its reference
case in :mod:`numbaloss.testing.elementwise`), so a new loss is benchmarked
without editing this module.

Nothing here is imported by ``import numbaloss``; PyTorch is imported only when a
PyTorch timing is asked for.
"""

import inspect
import statistics
import time
import warnings
from dataclasses import dataclass, field

import numpy as np

from ._jit import kernel_jit

#: Classes of the class-index losses, features of the embedding losses.
CLASSES = 32
FEATURES = 64
#: CTC shapes: time steps, alphabet size (blank included) and label length.
CTC_TIME, CTC_CLASSES, CTC_LABELS = 50, 20, 10


@dataclass
class Workload:
    """One loss at one size: its arrays and how each library computes it."""

    name: str
    #: positional arrays, predictions first (CTC: log_probs, targets, lengths)
    arrays: tuple
    #: positions in ``arrays`` of the arguments that get a gradient
    preds: tuple = (0,)
    #: keyword options for numbaloss (``torch_options`` for PyTorch, if different)
    options: dict = field(default_factory=dict)
    torch_options: dict = None
    #: ``torch -> function(*tensors, **torch_options)`` or None when PyTorch has no such loss
    torch_function: object = None
    #: plain NumPy value and gradient: ``numpy_function(*arrays) -> (value, grads)``
    numpy_function: object = None

    @property
    def func(self):
        import numbaloss

        return getattr(numbaloss, self.name)

    @property
    def n_elements(self):
        return int(self.arrays[0].size)

    def run_numbaloss(self):
        """Value and gradient (value alone for a function without one)."""
        if self.preds:
            return self.func(*self.arrays, **self.options, return_grad=True)
        return self.func(*self.arrays, **self.options)


def _reduced(func):
    """Give ``reduction='mean'`` to losses that reduce (sigmoid_focal_loss defaults to 'none')."""
    return {"reduction": "mean"} if "reduction" in inspect.signature(func).parameters else {}


def _normal(rng, shape, dtype, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(dtype)


def _rows(n, width):
    return max(1, n // width)


def _log_softmax(x, axis=-1):
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def _numpy_cross_entropy(x, t):
    logp = _log_softmax(x.astype(np.float64))
    rows = np.arange(len(t))
    value = -logp[rows, t].mean()
    grad = np.exp(logp)
    grad[rows, t] -= 1.0
    return value, (grad / len(t)).astype(x.dtype)


def _numpy_nll(x, t):
    rows = np.arange(len(t))
    grad = np.zeros_like(x)
    grad[rows, t] = -1.0 / len(t)
    return -x[rows, t].mean(), grad


def _numpy_logsumexp(x):
    m = x.max(axis=-1, keepdims=True)
    return (m + np.log(np.exp(x - m).sum(axis=-1, keepdims=True)))[..., 0], None


def _numpy_log_softmax(x):
    return _log_softmax(x), None


def _numpy_softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True), None


def _class_rows(name, n, dtype, rng):
    rows = _rows(n, CLASSES)
    x = _normal(rng, (rows, CLASSES), dtype, 2.0)
    t = rng.integers(0, CLASSES, rows)
    return x, t


def _numpy_linear_cross_entropy(x, w, t):
    """The full logits with NumPy, then cross entropy and the chain rule."""
    z = x @ w.T
    value, gz = _numpy_cross_entropy(z, t)
    return value, (gz @ w, gz.T @ x)


def _softmax_family(name, n, dtype, rng):
    x, t = _class_rows(name, n, dtype, rng)
    if name == "linear_cross_entropy":  # features (rows, FEATURES), a head of CLASSES rows
        features = _normal(rng, (x.shape[0], FEATURES), dtype)
        head = _normal(rng, (CLASSES, FEATURES), dtype, FEATURES**-0.5)
        return Workload(
            name, (features, head, t), preds=(0, 1), numpy_function=_numpy_linear_cross_entropy
        )
    if name == "cross_entropy":
        return Workload(name, (x, t), numpy_function=_numpy_cross_entropy)
    if name == "nll_loss":
        return Workload(name, (_log_softmax(x).astype(dtype), t), numpy_function=_numpy_nll)
    if name == "focal_loss":
        return Workload(name, (x, t), options={"gamma": 2.0})
    if name == "zero_one_loss":
        return Workload(name, (x, t), preds=())
    primitive = {
        "logsumexp": _numpy_logsumexp,
        "log_softmax": _numpy_log_softmax,
        "softmax": _numpy_softmax,
    }[name]

    def torch_primitive(torch):
        if name == "logsumexp":
            return lambda x: torch.logsumexp(x, dim=-1)
        return getattr(torch.nn.functional, name)

    return Workload(
        name,
        (x,),
        preds=(),
        options={"axis": -1},
        torch_options={"dim": -1} if name != "logsumexp" else {},
        torch_function=torch_primitive,
        numpy_function=primitive,
    )


def _margin_family(name, n, dtype, rng):
    if name in (
        "cosine_embedding_loss",
        "triplet_margin_loss",
        "triplet_margin_with_distance_loss",
    ):
        rows = _rows(n, FEATURES)
        a = _normal(rng, (rows, FEATURES), dtype)
        b = _normal(rng, (rows, FEATURES), dtype)
        if name == "cosine_embedding_loss":
            y = np.where(rng.random(rows) < 0.5, -1.0, 1.0).astype(dtype)
            return Workload(name, (a, b, y), preds=(0, 1))
        c = _normal(rng, (rows, FEATURES), dtype)
        return Workload(name, (a, b, c), preds=(0, 1, 2))
    x, t = _class_rows(name, n, dtype, rng)
    if name == "multi_margin_loss":
        return Workload(name, (x, t))
    if name == "multilabel_soft_margin_loss":
        labels = (rng.random(x.shape) < 0.2).astype(dtype)
        return Workload(name, (x, labels))
    # multilabel_margin_loss: a few class indices per row, padded with -1
    labels = np.full(x.shape, -1, np.int64)
    for row in range(x.shape[0]):
        labels[row, :3] = rng.choice(CLASSES, 3, replace=False)
    return Workload(name, (x, labels))


def _ctc(name, n, dtype, rng):
    batch = max(1, n // (CTC_TIME * CTC_CLASSES))
    logits = _normal(rng, (CTC_TIME, batch, CTC_CLASSES), np.float64)
    # ctc_loss takes log-probabilities; ctc_loss_from_logits raw scores
    log_probs = (logits if name == "ctc_loss_from_logits" else _log_softmax(logits)).astype(dtype)
    targets = rng.integers(1, CTC_CLASSES, (batch, CTC_LABELS))
    input_lengths = np.full(batch, CTC_TIME, np.int64)
    target_lengths = np.full(batch, CTC_LABELS, np.int64)
    return Workload(name, (log_probs, targets, input_lengths, target_lengths))


def _elementwise(name, n, dtype, rng):
    from .testing.elementwise import CASES

    case = CASES[name]
    arrays = case.make(rng, (n,), dtype)

    def numpy_value_and_grad(*arrays):
        with np.errstate(all="ignore"):
            value = case.numpy_ref(*arrays, **case.options).mean()
            grads = [g / arrays[0].size for g in case.numpy_grad(*arrays, **case.options)]
        return value, grads

    preds = tuple(case.arrays.index(p) for p in case.preds)
    return Workload(
        name,
        tuple(arrays),
        preds,
        dict(case.options),
        torch_function=case.torch_function,
        numpy_function=numpy_value_and_grad,
    )


#: How to make inputs for the functions of each family (the registry says which
#: functions there are: :mod:`numbaloss._core.registry`).
MAKERS = {
    "elementwise": _elementwise,
    "softmax": _softmax_family,
    "margin": _margin_family,
    "ctc": _ctc,
}


def available():
    """The public functions that :func:`workload` can benchmark, in the registry's order."""
    from ._core import registry

    return [name for name in registry.names() if registry.entry(name).family in MAKERS]


def workload(name, n, dtype=np.float32, seed=2026):
    """The inputs of loss ``name`` with about ``n`` elements in its first prediction."""
    if name not in available():
        raise ValueError(f"no benchmark for {name!r}; there are: {', '.join(available())}")
    load = MAKERS[family_of(name)](name, int(n), np.dtype(dtype), np.random.default_rng(seed))
    reduce = _reduced(load.func)
    load.options = {**reduce, **load.options}
    if load.torch_options is None:
        load.torch_options = {**reduce, **load.options}
    return load


def family_of(name):
    """The family package (``"elementwise"``, ``"softmax"``, ...) that defines loss ``name``."""
    from ._core import registry

    return registry.entry(name).family


def families():
    """``{family: [loss names]}`` of the benchmarkable losses."""
    grouped = {}
    for name in available():
        grouped.setdefault(family_of(name), []).append(name)
    return grouped


# --- timing ---------------------------------------------------------------------


def median_time(func, repeat=5, warmup=1):
    """Median wall time of ``func()`` over ``repeat`` runs after ``warmup`` runs."""
    for _ in range(warmup):
        func()
    times = []
    for _ in range(max(1, repeat)):
        t0 = time.perf_counter()
        func()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def torch_callable(load, torch):
    """PyTorch's forward+backward of ``load`` as a no-argument callable, or None."""
    if load.torch_function is not None:
        function = load.torch_function(torch)
    else:
        function = getattr(torch.nn.functional, load.name, None)
    if function is None:
        return None
    tensors = [torch.from_numpy(np.ascontiguousarray(a)) for a in load.arrays]

    def forward_backward():
        inputs = list(tensors)
        for i in load.preds:
            inputs[i] = inputs[i].detach().requires_grad_(True)
        with warnings.catch_warnings():  # kl_div's notice about 'mean'
            warnings.simplefilter("ignore", UserWarning)
            out = function(*inputs, **load.torch_options)
        if load.preds:
            out.sum().backward()
        return out

    return forward_backward


def torch_installed():
    """Whether PyTorch can be imported here (without importing it)."""
    import importlib.util

    return importlib.util.find_spec("torch") is not None


def import_torch(threads):
    """PyTorch with ``threads`` threads, or None when it is not installed."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(threads)
    return torch


@dataclass
class Timing:
    """Median seconds of one loss at one size; NaN where a library has no such loss."""

    name: str
    n: int
    numbaloss: float
    torch: float
    numpy: float


def compare(names, sizes, repeat=5, dtype=np.float32, torch=True, progress=None):
    """Time every loss of ``names`` at every size of ``sizes``; a list of :class:`Timing`.

    ``progress`` is called with a label after each measurement (for a progress bar).
    """
    import numbaloss

    torch_module = import_torch(numbaloss.get_num_threads()) if torch else None
    results = []
    for name in names:
        for n in sizes:
            load = workload(name, n, dtype)
            t_nb = median_time(load.run_numbaloss, repeat)
            t_th = t_np = float("nan")
            if torch_module is not None:
                forward_backward = torch_callable(load, torch_module)
                if forward_backward is not None:
                    t_th = median_time(forward_backward, repeat)
            if load.numpy_function is not None:
                t_np = median_time(lambda: load.numpy_function(*load.arrays), repeat)  # noqa: B023
            results.append(Timing(name, load.n_elements, t_nb, t_th, t_np))
            if progress is not None:
                progress(f"{name} n={n:,}")
    return results


def _ms(seconds):
    return "-" if np.isnan(seconds) else f"{seconds * 1e3:.2f}"


def _ratio(other, ours):
    return "-" if np.isnan(other) else f"{other / ours:.1f}x"


def format_table(timings, markdown=False):
    """The timings as a text (or Markdown) table, one row per loss and size."""
    header = [
        "loss",
        "elements",
        "numbaloss (ms)",
        "PyTorch fwd+bwd (ms)",
        "NumPy (ms)",
        "vs PyTorch",
        "vs NumPy",
    ]
    rows = [
        [
            t.name,
            f"{t.n:,}",
            _ms(t.numbaloss),
            _ms(t.torch),
            _ms(t.numpy),
            _ratio(t.torch, t.numbaloss),
            _ratio(t.numpy, t.numbaloss),
        ]
        for t in timings
    ]
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(lines)
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows)]

    def line(cells):
        return "  ".join(
            f"{c:<{w}}" if i == 0 else f"{c:>{w}}" for i, (c, w) in enumerate(zip(cells, widths))
        )

    lines = [line(header), line(["-" * w for w in widths])]
    lines += [line(r) for r in rows]
    return "\n".join(lines)


# --- the memory-bandwidth floor ----------------------------------------------------


@kernel_jit
def _triad_range(a, b, c, scalar, start, stop):
    for i in range(start, stop):
        c[i] = a[i] + scalar * b[i]


_TRIAD_SCALAR = np.float32(1.5)


def triad(a, b, c, scalar=_TRIAD_SCALAR):
    """``c = a + scalar * b`` on numbaloss's thread pool, in fixed blocks."""
    from ._core import parallel

    block = parallel.BLOCK
    n = a.size

    def blocks(start, stop):
        _triad_range(a, b, c, scalar, start * block, min(stop * block, n))

    parallel.run_ranges(blocks, parallel.n_blocks(n, block), block)


def measure_bandwidth(n=20_000_000, repeat=7):
    """Best-of-``repeat`` triad bandwidth in GB/s (12 bytes moved per float32 element)."""
    a = np.ones(n, np.float32)
    b = np.ones(n, np.float32)
    c = np.empty(n, np.float32)
    triad(a, b, c)
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        triad(a, b, c)
        best = min(best, time.perf_counter() - t0)
    return 12 * n / best / 1e9
