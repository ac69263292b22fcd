"""Losses over dask arrays: one fused task per chunk, an exact combine, lazy results.

:func:`call` is where :func:`~numbaloss._core.devices.on_device` sends a call that
has a dask array among its arguments.  The loss's family declares how the call
splits (``chunking`` in its ``plans`` module, a :class:`~.chunking.Chunking`);
from that this module builds one dask graph (the model is in ``docs/dask.rst``):

* The arrays are aligned: the axes a kernel needs whole are rechunked to one block,
  and every array is rechunked to the chunks of the prediction (so the gradients
  and an unreduced loss come out chunked like the prediction); an array broadcast
  along an axis (length 1, or the axis missing) is not.  Options that are dask
  arrays (class weights, CTC's lengths) are rechunked to one block and passed
  whole.
* One *kernel task* per chunk calls the in-memory loss on the chunk's arrays and
  returns what that call returns: the loss part and the gradients together (and,
  where a loss has more outputs per prediction, those too).  A chunk of NumPy
  arrays runs the CPU kernels, a chunk of CuPy arrays the CUDA ones (the public
  function routes it).
* A reduced loss: each kernel task returns its chunk's float64 partial sum (the
  in-memory call with :data:`~.outputs.PARTIAL_SUM`), and the partial sums are
  added in float64 in a fixed tree over the chunks in their order, then divided
  and rounded once.  A ``'mean'`` whose divisor is known in advance passes
  ``grad_output / divisor`` to every chunk; one that depends on the data (weighted
  class-index targets, weighted elements) has its divisor summed first from
  per-chunk shares (which read only the targets or weights), and the kernel tasks
  wait for it: the loss kernel runs once per chunk either way.
* A broadcast prediction's gradient is summed over the chunks that share it, in
  float64 in the same fixed tree.

The same chunking therefore gives the same bits on any scheduler and any number of
workers or threads.  This module is imported only when a dask array arrives.
"""

import functools
import importlib
import inspect
import itertools
import numbers

import numpy as np

from . import outputs, registry
from .devices import is_dask_array, is_device_array
from .validation import as_array, check_broadcastable

#: Keywords that ask a loss for outputs beyond the loss itself, each one array per
#: prediction, in the order the in-memory call returns them: the gradients, then the
#: Hessian's diagonal (``return_hess=True`` needs ``return_grad=True``, checked before).
OUTPUT_KEYWORDS = ("return_grad", "return_hess")
#: Partial results combined per node of the fixed reduction tree.
SPLIT_EVERY = 8
#: The names of the kernel tasks' layers start with this (one task per chunk).
KERNEL_PREFIX = "numbaloss-chunk"


def _dask_array():
    try:
        import dask.array as da
    except ImportError as exc:  # pragma: no cover - dask without its array extra
        raise ImportError(
            "a dask array was passed, but dask.array cannot be imported; "
            "install numbaloss[dask] (dask[array] and distributed)"
        ) from exc
    return da


def call(name, func, args, kwargs):
    """The loss ``name`` of the registry (whose CPU function is ``func``) called with
    dask arrays: lazy dask results."""
    da = _dask_array()
    bound = inspect.signature(func).bind(*args, **kwargs)
    bound.apply_defaults()
    arguments = dict(bound.arguments)
    for key, value in arguments.items():
        if is_dask_array(value) and not isinstance(value, da.Array):
            raise TypeError(
                f"{name}: {key} is a {type(value).__name__}; numbaloss takes dask arrays "
                "(convert it, e.g. with .to_dask_array(lengths=True))"
            )
        if is_dask_array(value) and any(np.isnan(s) for s in value.shape):
            raise ValueError(
                f"{name}: {key} has unknown chunk sizes (after boolean indexing, say); "
                "call its compute_chunk_sizes() first"
            )
        if key.endswith("_out") and value is not None:
            raise TypeError(
                f"{name}: {key} cannot be used with dask arrays (they are immutable): "
                "the results are new dask arrays; leave it out"
            )
    plans = importlib.import_module(f"numbaloss.{registry.entry(name).family}.plans")
    plan = plans.chunking(name, dict(arguments))
    return _Graph(da, name, arguments, plan).results()


# --- the graph --------------------------------------------------------------------------


def _is_array_like(value):
    """Arguments that are arrays (or lists) rather than options (numbers, strings, callables)."""
    if value is None or isinstance(value, (str, bool, numbers.Number, np.generic)):
        return False
    return not callable(value)


def _size(shape):
    n = 1
    for s in shape:
        n *= int(s)
    return n


class _Graph:
    """The dask graph of one call (see the module docs)."""

    def __init__(self, da, name, arguments, plan):
        from dask.base import tokenize

        self.da = da
        self.name = name
        self.plan = plan
        # The predictions given: an optional one left out (linear_cross_entropy's
        # linear_bias) has no gradient
        self.predictions = [
            p for p in registry.entry(name).predictions if arguments.get(p, 0) is not None
        ]
        self.has_reduction = "reduction" in arguments
        self.groups = [k for k in OUTPUT_KEYWORDS if arguments.pop(k, False)]
        reduction = arguments.pop("reduction", None)
        self.reduction = "mean" if reduction == "batchmean" else reduction
        grad_output = arguments.pop("grad_output", None)
        for key in [k for k in arguments if k.endswith("_out")]:
            del arguments[key]
        self.dtype = np.dtype(plan.dtype)
        self._align(arguments)
        self._upstream(grad_output)
        self.token = tokenize(
            name,
            self.reduction,
            self.groups,
            sorted((k, v.name) for k, v in self.blocks.items()),
            self.literals,
            self.upstream,
        )

    # --- arrays ------------------------------------------------------------------

    def _align(self, arguments):
        """The labelled arguments as dask arrays chunked alike; dask options as one block."""
        da, plan = self.da, self.plan
        values = dict(arguments)
        shapes = {}
        for key in plan.arrays:
            value = values[key]
            if not is_dask_array(value):
                if not _is_array_like(value):
                    continue  # a number standing for an array: passed to every chunk
                value = values[key] = np.asarray(value)
            shapes[key] = tuple(int(s) for s in value.shape)
        # The length along each label: that of the arrays not broadcast along it.
        extents = dict(plan.extents)
        for key, shape in shapes.items():
            for label, n in zip(plan.arrays[key], shape):
                if n != 1 or label not in extents:
                    extents[label] = n
        # The chunks along each label: those of the first dask prediction that has it,
        # else of the first dask array that has it (one block where a kernel needs it whole).
        order = [p for p in self.predictions if p in shapes] + list(shapes)
        order = sorted(dict.fromkeys(order), key=lambda k: not is_dask_array(values[k]))
        chunks = {}
        for key in order:
            for axis, label in enumerate(plan.arrays[key]):
                if label in chunks or shapes[key][axis] != extents[label]:
                    continue
                if label not in plan.whole and is_dask_array(values[key]):
                    chunks[label] = tuple(int(c) for c in values[key].chunks[axis])
        for label, n in extents.items():
            chunks.setdefault(label, (n,))
        loose = [label for label in chunks if label not in plan.whole and label not in plan.loss]
        if loose:  # pragma: no cover - a family's declaration is wrong
            raise AssertionError(f"{self.name}: labels {loose} are neither whole nor the loss's")
        self.chunks = chunks
        self.extents = extents
        self.grid_labels = list(dict.fromkeys([*plan.loss, *chunks]))
        self.reference = next((values[k] for k in order if is_dask_array(values[k])), None)

        self.blocks = {}  # argument -> dask array (the call's chunks, or one block)
        self.labels = {}  # argument -> labels, or None for an option passed whole
        self.literals = {}  # argument -> value passed to every chunk as it is
        for key, value in values.items():
            if key in shapes:
                want = tuple(
                    chunks[label] if n == extents[label] else (n,)
                    for label, n in zip(plan.arrays[key], shapes[key])
                )
                if not is_dask_array(value):
                    value = da.from_array(value, chunks=want)
                elif tuple(value.chunks) != want:
                    value = value.rechunk(want)
                self.blocks[key] = value
                self.labels[key] = plan.arrays[key]
            elif is_dask_array(value):
                self.blocks[key] = value if value.npartitions == 1 else value.rechunk(-1)
                self.labels[key] = None
            else:
                self.literals[key] = value

    def _upstream(self, grad_output):
        """``grad_output``: labelled like the loss (``'none'``), or one value."""

        self.upstream = None
        if not self.has_reduction or grad_output is None:
            return
        g = grad_output
        if not is_dask_array(g):
            if self.reduction != "none":
                self.upstream = outputs.upstream_scalar(g)
                return
            if not _is_array_like(g):
                self.literals["grad_output"] = g
                return
            g = outputs.upstream_array(g, self.loss_shape)
        elif self.reduction == "none":
            as_array(np.empty(0, dtype=g.dtype), "grad_output")
            check_broadcastable("grad_output", g, "the loss", self.loss_shape)
        elif _size(g.shape) != 1:
            raise ValueError(
                f"grad_output of shape {tuple(g.shape)} cannot be broadcast to the shape () "
                "of a reduced loss"
            )
        if self.reduction != "none" or g.ndim == 0:
            self.blocks["grad_output"] = (
                g if is_dask_array(g) and g.npartitions == 1 else self.da.asarray(g).rechunk(-1)
            )
            self.labels["grad_output"] = None
            return
        labels = self.plan.loss[len(self.plan.loss) - g.ndim :]
        want = tuple(
            self.chunks[label] if n == self.extents[label] else (int(n),)
            for label, n in zip(labels, g.shape)
        )
        if not is_dask_array(g):
            g = self.da.from_array(g, chunks=want)
        elif tuple(g.chunks) != want:
            g = g.rechunk(want)
        self.blocks["grad_output"] = g
        self.labels["grad_output"] = labels

    @property
    def loss_shape(self):
        return tuple(self.extents.get(label, 1) for label in self.plan.loss)

    def _grid(self):
        """Every chunk: its block index along each grid label, in row-major order."""
        return list(itertools.product(*(range(len(self.chunks[lb])) for lb in self.grid_labels)))

    def _block_key(self, key, cell):
        """The key of argument ``key``'s block that chunk ``cell`` reads."""
        arr = self.blocks[key]
        labels = self.labels[key]
        if labels is None:
            return (arr.name, *([0] * arr.ndim))
        where = dict(zip(self.grid_labels, cell))
        index = [where[lb] if arr.numblocks[axis] > 1 else 0 for axis, lb in enumerate(labels)]
        return (arr.name, *index)

    def _spans(self, cell):
        spans = {}
        for label, b in zip(self.grid_labels, cell):
            start = sum(self.chunks[label][:b])
            spans[label] = (start, start + self.chunks[label][b])
        return spans

    # --- tasks -------------------------------------------------------------------

    def results(self):
        """The call's lazy results: ``loss``, or ``(loss, grads, ...)`` as in memory."""
        from dask.highlevelgraph import HighLevelGraph

        da = self.da
        grid = self._grid()
        names = list(self.blocks)
        divisor, divisor_deps = self._divisor(grid)
        static = _Static(
            self.name,
            names,
            self.literals,
            self.reduction if self.has_reduction else None,
            self.groups,
            len(self.predictions),
            self.plan.row_divisors,
            self.plan.per_chunk,
        )
        kernel = f"{KERNEL_PREFIX}-{self.name}-{self.token}"
        # The kernels need the divisor only for the gradients' scale.
        kernel_divisor = divisor if self.groups else None
        dsk = {
            (kernel, *cell): (
                functools.partial(_run_chunk, static, self._spans(cell)),
                [self._block_key(k, cell) for k in names],
                kernel_divisor,
                self.upstream,
            )
            for cell in grid
        }
        deps = list(self.blocks.values()) + (divisor_deps if self.groups else [])
        graph = HighLevelGraph.from_collections(kernel, dsk, dependencies=deps)
        grid_chunks = tuple(self.chunks[label] for label in self.grid_labels)
        self.kernel = da.Array(
            graph, kernel, grid_chunks, meta=np.empty((0,) * len(grid_chunks), dtype=object)
        )
        self.kernel_keys = {cell: (kernel, *cell) for cell in grid}

        if self.reduction in ("sum", "mean"):
            name = f"numbaloss-loss-{self.name}-{self.token}"
            dsk = _tree(list(self.kernel_keys.values()), name, _sum_loss_parts, _sum_floats)
            dsk[(name,)] = (_finish_loss, dsk.pop(_ROOT), divisor, self.reduction, self.dtype)
            graph = HighLevelGraph.from_collections(
                name, dsk, dependencies=[self.kernel, *divisor_deps]
            )
            loss = da.Array(graph, name, (), meta=np.empty((), dtype=self.dtype))
        else:
            loss = self._output("loss", 0, None, self.plan.loss, self.loss_shape)
        if not self.groups:
            return loss
        results = [loss]
        for group, keyword in enumerate(self.groups, start=1):
            arrays = []
            for p, pred in enumerate(self.predictions):
                arr = self.blocks.get(pred)
                labels = (self.labels.get(pred) or ()) if arr is not None else ()
                shape = tuple(arr.shape) if arr is not None else ()
                what = f"{keyword.removeprefix('return_')}-{pred}"
                arrays.append(self._output(what, group, p, labels, shape))
            results.append(arrays[0] if len(arrays) == 1 else tuple(arrays))
        return tuple(results)

    def _output(self, what, group, pred, labels, shape):
        """An output of the kernel tasks as a dask array: one block per chunk, or (for a
        broadcast prediction) the float64 sum of the chunks that share a block."""
        from dask.array.utils import meta_from_array
        from dask.highlevelgraph import HighLevelGraph

        broadcast = [n != self.extents[label] for label, n in zip(labels, shape)]
        out_chunks = tuple(
            (n,) if b else self.chunks[label] for label, n, b in zip(labels, shape, broadcast)
        )
        where = {label: i for i, label in enumerate(self.grid_labels)}
        members = {}
        for cell, key in self.kernel_keys.items():
            index = tuple(0 if b else cell[where[lb]] for lb, b in zip(labels, broadcast))
            members.setdefault(index, []).append(key)
        name = f"numbaloss-{what}-{self.name}-{self.token}"
        dsk = {}
        for index, keys in members.items():
            if len(keys) == 1:
                dsk[(name, *index)] = (_pick, keys[0], group, pred, self.dtype)
            else:
                leaf = functools.partial(_sum_picked, group, pred)
                tree = _tree(keys, f"{name}-sum", leaf, _add_arrays, index)
                dsk[(name, *index)] = (_cast, tree.pop(_ROOT), self.dtype)
                dsk.update(tree)
        graph = HighLevelGraph.from_collections(name, dsk, dependencies=[self.kernel])
        meta = self.reference._meta if self.reference is not None else np.empty(0)
        return self.da.Array(
            graph, name, out_chunks, meta=meta_from_array(meta, len(labels), self.dtype)
        )

    def _divisor(self, grid):
        """``'mean'``'s divisor: a number, or the key of the summed shares (and its array)."""
        from dask.highlevelgraph import HighLevelGraph

        from .chunking import Share

        share = self.plan.divisor
        if self.reduction != "mean":
            return None, []
        if not isinstance(share, Share):
            return share, []
        name = f"numbaloss-divisor-{self.name}-{self.token}"
        reads = [k for k in self.blocks if k in share.reads]
        literals = {k: v for k, v in self.literals.items() if k in share.reads}
        task = functools.partial(_run_share, share.func, reads, literals)
        dsk = {}
        for j, cell in enumerate(grid):
            dsk[(f"{name}-share", j)] = (task, [self._block_key(k, cell) for k in reads])
        dsk.update(_tree(list(dsk), name, _sum_floats, _sum_floats))
        dsk[(name,)] = dsk.pop(_ROOT)
        graph = HighLevelGraph.from_collections(
            name, dsk, dependencies=[self.blocks[k] for k in reads]
        )
        return (name,), [self.da.Array(graph, name, (), meta=np.empty((), dtype=np.float64))]


_ROOT = ("numbaloss-tree-root",)


def _tree(keys, name, leaf, node, prefix=()):
    """A fixed tree over ``keys`` in their order: ``leaf`` combines up to
    :data:`SPLIT_EVERY` keys, ``node`` combines the values of lower nodes.  Returns the
    tasks, the root's task under the key :data:`_ROOT`."""
    dsk = {}
    level, combine, depth = list(keys), leaf, 0
    while len(level) > SPLIT_EVERY:
        groups = [level[i : i + SPLIT_EVERY] for i in range(0, len(level), SPLIT_EVERY)]
        level = []
        for j, group in enumerate(groups):
            key = (f"{name}-{depth}", *prefix, j)
            dsk[key] = (combine, group)
            level.append(key)
        combine, depth = node, depth + 1
    dsk[_ROOT] = (combine, level)
    return dsk


# --- what the tasks run (module level, so that dask.distributed can pickle it) -----------


class _Static:
    """The parts of a kernel task that are the same for every chunk."""

    def __init__(self, name, names, literals, reduction, groups, n_preds, row_divisors, per_chunk):
        self.name = name
        self.names = names
        self.literals = literals
        self.reduction = reduction
        self.groups = groups
        self.n_preds = n_preds
        self.row_divisors = row_divisors
        self.per_chunk = per_chunk


def _run_chunk(static, spans, blocks, divisor, upstream):
    """One chunk: the in-memory loss on the chunk's arrays, as ``(part, group, ...)``.

    ``part`` is the chunk's loss block (``'none'``) or its float64 partial sum; each
    group (the gradients, ...) is a tuple with one array per prediction.
    """
    func = registry.entry(static.name).function
    arguments = dict(static.literals)
    arguments.update(zip(static.names, blocks))
    if static.per_chunk is not None:
        arguments = static.per_chunk(arguments, spans)
    if static.reduction is None:  # a function without a reduction (softmax, ...)
        return (func(**arguments),)
    flags = dict.fromkeys(static.groups, True)
    device = any(is_device_array(b) for b in blocks)
    if static.reduction == "none":
        reduction = "none" if device else outputs.PARTIAL_NONE
        return _split(func(**arguments, reduction=reduction, **flags), static)
    g = outputs.upstream_scalar(_host(arguments.pop("grad_output", upstream)))
    if static.row_divisors is not None and static.reduction == "mean":
        # mean = sum(loss / rows) / divisor, each element's upstream g / (divisor * rows)
        rows = np.asarray(static.row_divisors(arguments), dtype=np.float64)
        scale = g / (divisor * rows) if divisor is not None else g
        result = func(**arguments, reduction="none", grad_output=scale, **flags)
        loss, *rest = _split(result, static)
        return (np.sum(np.asarray(_host(loss), dtype=np.float64) / rows), *rest)
    if static.reduction == "mean" and divisor is not None:
        g = outputs.divide(g, divisor)
    if device:
        result = func(**arguments, reduction="none", grad_output=g, **flags)
        loss, *rest = _split(result, static)
        return (_device_sum(loss), *rest)
    result = func(**arguments, reduction=outputs.PARTIAL_SUM, grad_output=g, **flags)
    loss, *rest = _split(result, static)
    return (np.float64(loss), *rest)


def _split(result, static):
    """``(loss, group, ...)`` of an in-memory call's result, each group a tuple."""
    if not static.groups:
        return (result,)
    loss, *groups = result
    return (loss, *(g if static.n_preds > 1 else (g,) for g in groups))


def _host(arr):
    """A device array copied to the host (small ones only: per-sample losses, targets)."""
    module = type(arr).__module__.split(".")[0]
    if hasattr(arr, "copy_to_host"):
        return arr.copy_to_host()
    if module == "cupy":
        return arr.get()
    if module == "torch":
        return arr.detach().cpu().numpy()
    return arr


def _device_sum(loss):
    """The float64 sum of a device array of losses, formed on the device."""
    from numba import cuda

    from . import cuda_support

    arr = loss if cuda_support.is_numba_device_array(loss) else cuda.as_cuda_array(loss)
    return float(cuda_support.device_sum(cuda_support.flat_view(arr)).copy_to_host()[0])


def _run_share(func, reads, literals, blocks):
    arguments = dict(literals)
    arguments.update(zip(reads, (_host(b) for b in blocks)))
    return np.float64(func(arguments))


def _sum_floats(parts):
    total = np.float64(0.0)
    for part in parts:
        total += np.float64(part)
    return total


def _sum_loss_parts(results):
    return _sum_floats([r[0] for r in results])


def _finish_loss(total, divisor, reduction, dtype):
    if reduction == "mean":
        total = outputs.divide(total, divisor)
    return np.asarray(dtype.type(total))


def _pick(result, group, pred, dtype):
    """A block of a kernel task's output: its loss (``group`` 0) or a prediction's array."""
    value = result[group] if pred is None else result[group][pred]
    if isinstance(value, np.generic):
        value = np.asarray(value)
    return value if value.dtype == dtype else value.astype(dtype)


def _sum_picked(group, pred, results):
    return _add_arrays([r[group][pred].astype(np.float64) for r in results])


def _add_arrays(parts):
    total = parts[0]
    for part in parts[1:]:
        total = total + part
    return total


def _cast(value, dtype):
    return np.asarray(value).astype(dtype) if np.isscalar(value) else value.astype(dtype)
