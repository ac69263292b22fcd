"""The speed tables of the issues, read from one ``asv run``'s results.

Run the benchmarks once (this machine, the installed numbaloss), then print::

    cd asv_bench
    asv run --python=same --set-commit-hash=$(git rev-parse HEAD) \\
        -b "^bandwidth" -b "^elementwise\\.(Numbaloss\\.time_value_and_grad|Numbaloss\\.time_value_and_grad_into|Torch\\.time_forward_backward|NumPy\\.time_value_and_grad)" \\
        -b "^softmax\\.(CrossEntropy|TorchCrossEntropy|Focal|TorchFocal)\\.time" \\
        -b "^linear\\."
    python asv_table.py            # newest results file; or --file results/<machine>/<file>.json
    python asv_table.py --stat min # the fastest sample (run asv with --record-samples)

Tables (Markdown), all from that one results file:

* the elementwise losses at ``--n`` float32 elements (default 2*10^7): numbaloss
  value+gradient, PyTorch CPU forward+backward, the NumPy formulas, the speed-up over
  PyTorch, and the fraction of the bandwidth floor (reading every input and writing
  the gradient once at the triad bandwidth that ``bandwidth.Bandwidth`` measured in the
  same run);
* the softmax family: cross entropy (new gradient array and ``grad_out=input``),
  focal and sigmoid focal loss against their PyTorch formulations, with the floor of
  reading the logits twice and writing the gradient once;
* ``linear_cross_entropy`` (``benchmarks/linear.py``): numbaloss, PyTorch's reference
  and chunked paths and the three NumPy matrix products alone (the floor), forward and
  backward, time and peak memory (asv's ``peakmem_``: the benchmark process's peak
  resident memory, libraries and inputs included).
"""

import argparse
import json
import pathlib

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent


def newest_results(results_dir):
    files = [p for p in results_dir.glob("*/*.json") if p.name != "machine.json"]
    if not files:
        raise SystemExit(f"no asv results under {results_dir}; run 'asv run' first")
    return max(files, key=lambda p: p.stat().st_mtime)


def load(path, stat="median"):
    """``{benchmark name: {param tuple: value}}`` from an asv results file.

    ``stat='median'`` gives asv's own figure (the median of the samples);
    ``stat='min'`` the fastest sample, which needs a run with ``--record-samples``
    (benchmarks without samples keep their median).
    """
    data = json.loads(path.read_text())
    columns = data["result_columns"]
    table = {}
    for name, row in data["results"].items():
        entry = dict(zip(columns, row))
        values = entry.get("result")
        if values is None:
            continue
        samples = entry.get("samples")
        if stat == "min" and samples:
            values = [min(s) if s else v for s, v in zip(samples, values)]
        params = entry.get("params") or [[]]
        combos = [()] if not params else _product(params)
        table[name] = {
            tuple(eval_param(p) for p in combo): v
            for combo, v in zip(combos, values)
            if v is not None and not (isinstance(v, float) and np.isnan(v))
        }
    return data, table


def _product(params):
    combos = [()]
    for values in params:
        combos = [c + (v,) for c in combos for v in values]
    return combos


def eval_param(text):
    """asv stores parameters as their repr: ``'20000000'``, ``"'mse_loss'"``."""
    text = str(text)
    if text[:1] in "'\"":
        return text[1:-1]
    try:
        return int(text)
    except ValueError:
        return text


def _ms(seconds):
    return f"{seconds * 1e3:.1f}" if seconds is not None else "–"


def _share(floor, seconds):
    return f"{100 * floor / seconds:.0f}%" if seconds else "–"


def _ratio(slow, fast):
    return f"{slow / fast:.1f}x" if slow and fast else "–"


def elementwise_table(table, n, gbs):
    from numbaloss.testing.elementwise import CASES, NAMES

    mine = table.get("elementwise.Numbaloss.time_value_and_grad", {})
    into = table.get("elementwise.Numbaloss.time_value_and_grad_into", {})
    torch = table.get("elementwise.Torch.time_forward_backward", {})
    numpy = table.get("elementwise.NumPy.time_value_and_grad", {})
    lines = [
        f"Elementwise losses, {n:,} float32 elements, value+gradient (reduction='mean'); "
        f"triad bandwidth {gbs:.1f} GB/s; 'new' returns new gradient arrays, 'grad_out' "
        "writes into preallocated ones",
        "",
        "| loss | numbaloss new (ms) | numbaloss grad_out (ms) | PyTorch fwd+bwd (ms) "
        "| NumPy (ms) | vs PyTorch (new) | % of floor (new) | % of floor (grad_out) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    probe = 1000
    for name in NAMES:
        case = CASES[name]
        arrays = case.make(np.random.default_rng(0), (probe,), np.float32)
        full = [a for a in arrays if np.size(a) == probe]
        nbytes = sum(a.nbytes for a in full) + 4 * probe * len(case.preds)
        floor = nbytes * (n / probe) / (gbs * 1e9)
        t, ti = mine.get((name, n)), into.get((name, n))
        lines.append(
            f"| {name} | {_ms(t)} | {_ms(ti)} | {_ms(torch.get((name, n)))} "
            f"| {_ms(numpy.get((name, n)))} | {_ratio(torch.get((name, n)), t)} "
            f"| {_share(floor, t)} | {_share(floor, ti)} |"
        )
    return "\n".join(lines)


def softmax_table(table, gbs):
    ce = table.get("softmax.CrossEntropy.time_value_and_grad", {})
    ce_in_place = table.get("softmax.CrossEntropy.time_value_and_grad_in_place", {})
    ce_torch = table.get("softmax.TorchCrossEntropy.time_forward_backward", {})
    focal = table.get("softmax.Focal.time_value_and_grad", {})
    focal_torch = table.get("softmax.TorchFocal.time_forward_backward", {})
    lines = [
        f"Softmax family, float32, value+gradient vs PyTorch CPU forward+backward; "
        f"triad bandwidth {gbs:.1f} GB/s (floor: read the logits twice and write the gradient "
        "once; sigmoid_focal_loss is in the elementwise table)",
        "",
        "| case | numbaloss (ms) | in place (ms) | PyTorch (ms) | vs PyTorch | in place vs PyTorch "
        "| time / floor (in place) |",
        "|---|---|---|---|---|---|---|",
    ]

    def row(label, key, mine, in_place, torch, nbytes):
        t, tp, tt = mine.get(key), in_place.get(key), torch.get(key)
        floor = nbytes / (gbs * 1e9)
        best = tp or t
        lines.append(
            f"| {label} | {_ms(t)} | {_ms(tp)} | {_ms(tt)} | {_ratio(tt, t)} | {_ratio(tt, tp)} "
            f"| {best / floor:.2f}x |"
            if best
            else f"| {label} | – | – | {_ms(tt)} | – | – | – |"
        )

    shapes = sorted((key[0] for key in ce), key=lambda s: -np.prod([int(v) for v in s.split("x")]))
    for shape in shapes:
        n, c = (int(v) for v in shape.split("x"))
        if n * c < 10**6:
            continue
        row(f"cross_entropy {shape}", (shape,), ce, ce_in_place, ce_torch, 3 * 4 * n * c)
    for (shape,) in focal:
        n, c = (int(v) for v in shape.split("x"))
        if n * c >= 10**6:
            row(f"focal_loss {shape}", (shape,), focal, {}, focal_torch, 3 * 4 * n * c)
    return "\n".join(lines)


def _mb(nbytes):
    return f"{nbytes / 2**20:.0f}" if nbytes is not None else "–"


def linear_table(table):
    """``linear_cross_entropy`` beside PyTorch's two paths and the floor, per shape."""
    mine_t = table.get("linear.LinearCrossEntropy.time_value_and_grad", {})
    mine_m = table.get("linear.LinearCrossEntropy.peakmem_value_and_grad", {})
    torch_t = table.get("linear.TorchLinearCrossEntropy.time_forward_backward", {})
    torch_m = table.get("linear.TorchLinearCrossEntropy.peakmem_forward_backward", {})
    floor_t = table.get("linear.MatmulFloor.time_three_products", {})
    floor_m = table.get("linear.MatmulFloor.peakmem_three_products", {})
    lines = [
        "linear_cross_entropy, float32, forward + backward (value and the gradients of the "
        "input and the weight), reduction='mean'; floor: the three NumPy matrix products "
        "alone; peak memory: asv's peakmem (whole process)",
        "",
        "| shape NxKxC | implementation | time (ms) | time / floor | peak memory (MiB) |",
        "|---|---|---|---|---|",
    ]
    for (shape,) in sorted(mine_t, key=lambda s: [int(v) for v in s[0].split("x")]):
        floor = floor_t.get((shape,))
        rows = [
            ("numbaloss", mine_t.get((shape,)), mine_m.get((shape,))),
            (
                "PyTorch reference",
                torch_t.get((shape, "reference")),
                torch_m.get((shape, "reference")),
            ),
            ("PyTorch chunked", torch_t.get((shape, "chunked")), torch_m.get((shape, "chunked"))),
            ("three NumPy products (floor)", floor, floor_m.get((shape,))),
        ]
        for label, t, m in rows:
            ratio = f"{t / floor:.2f}x" if t and floor else "–"
            lines.append(f"| {shape} | {label} | {_ms(t)} | {ratio} | {_mb(m)} |")
    return "\n".join(lines)


def _per_element_floor(name, n, gbs, outputs):
    """Seconds to read ``name``'s full-size inputs and write ``outputs`` arrays per
    prediction once, at ``gbs`` GB/s (sizes from a 1000-element probe, scaled)."""
    from numbaloss.testing.elementwise import CASES

    probe = 1000
    case = CASES[name]
    arrays = case.make(np.random.default_rng(0), (probe,), np.float32)
    nbytes = sum(a.nbytes for a in arrays if np.size(a) == probe)
    nbytes += outputs * 4 * probe * len(case.preds)
    return nbytes * (n / probe) / (gbs * 1e9)


def hess_table(table, n, gbs):
    """Value, gradient and Hessian (``return_hess=True``) of the elementwise losses."""
    from numbaloss._core import registry

    mine = table.get("elementwise_hess.Numbaloss.time_value_grad_hess", {})
    into = table.get("elementwise_hess.Numbaloss.time_value_grad_hess_into", {})
    numpy = table.get("elementwise_hess.NumPyObjective.time_grad_hess", {})
    torch = table.get("elementwise_hess.TorchDoubleBackward.time_value_grad_hess", {})
    lines = [
        f"Elementwise losses, {n:,} float32 elements, value + gradient + Hessian "
        f"(reduction='sum'); triad bandwidth {gbs:.1f} GB/s; floor: inputs read once, "
        "gradient and Hessian written once; NumPy: the hand-written objective (gradient "
        "and Hessian, no value); PyTorch: double backward",
        "",
        "| loss | numbaloss new (ms) | numbaloss grad_out (ms) | NumPy objective (ms) "
        "| PyTorch double backward (ms) | vs NumPy (grad_out) | vs PyTorch (grad_out) "
        "| % of floor (new) | % of floor (grad_out) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name in registry.names("elementwise", with_hessian=True):
        key = (name, n)
        t, ti = mine.get(key), into.get(key)
        floor = _per_element_floor(name, n, gbs, outputs=2)
        lines.append(
            f"| {name} | {_ms(t)} | {_ms(ti)} | {_ms(numpy.get(key))} | {_ms(torch.get(key))} "
            f"| {_ratio(numpy.get(key), ti)} | {_ratio(torch.get(key), ti)} "
            f"| {_share(floor, t)} | {_share(floor, ti)} |"
        )
    return "\n".join(lines)


def softmax_hess_table(table, gbs):
    """cross_entropy and focal_loss with ``return_hess=True`` beside NumPy and torch.func."""
    ce = table.get("softmax_hess.CrossEntropyHess.time_value_grad_hess", {})
    ce_into = table.get("softmax_hess.CrossEntropyHess.time_value_grad_hess_into", {})
    focal = table.get("softmax_hess.FocalHess.time_value_grad_hess", {})
    numpy = table.get("softmax_hess.NumPyCrossEntropyHess.time_grad_hess", {})
    torch = table.get("softmax_hess.TorchFuncHessianDiagonal.time_hessian_diagonal", {})
    lines = [
        f"Softmax family, float32, value + gradient + Hessian diagonal (reduction='sum'); "
        f"triad bandwidth {gbs:.1f} GB/s (floor: read the logits twice, write the gradient "
        "and the Hessian once); torch.func's per-row Hessian runs on 64 rows and is "
        "scaled to the row count",
        "",
        "| case | numbaloss new (ms) | numbaloss grad_out (ms) | NumPy p(1-p) (ms) "
        "| torch.func per row, scaled (ms) | vs faster baseline (grad_out) "
        "| time / floor (grad_out) |",
        "|---|---|---|---|---|---|---|",
    ]
    for (shape,) in sorted(ce, key=lambda s: [int(v) for v in s[0].split("x")]):
        n, c = (int(v) for v in shape.split("x"))
        if n * c < 10**6:
            continue
        per_row = [v / int(k[0].split("x")[0]) for k, v in torch.items() if k[0].endswith(f"x{c}")]
        scaled = per_row[0] * n if per_row else None
        t, ti, tn = ce.get((shape,)), ce_into.get((shape,)), numpy.get((shape,))
        best_baseline = min(v for v in (tn, scaled) if v) if (tn or scaled) else None
        floor = 4 * 4 * n * c / (gbs * 1e9)
        lines.append(
            f"| cross_entropy {shape} | {_ms(t)} | {_ms(ti)} | {_ms(tn)} | {_ms(scaled)} "
            f"| {_ratio(best_baseline, ti)} | {ti / floor:.2f}x |"
            if ti
            else f"| cross_entropy {shape} | – | – | {_ms(tn)} | {_ms(scaled)} | – | – |"
        )
        if (shape,) in focal:
            tf = focal[(shape,)]
            lines.append(f"| focal_loss {shape} | {_ms(tf)} | – | – | – | – | {tf / floor:.2f}x |")
    return "\n".join(lines)


def boosting_table(table):
    """XGBoost training wall time with the built-in, numbaloss and NumPy objectives."""
    logistic = {
        label: table.get(f"boosting.XGBoostLogistic.time_{label}", {})
        for label in ("builtin", "numbaloss", "numpy")
    }
    focal = {
        label: table.get(f"boosting.XGBoostFocal.time_{label}", {})
        for label in ("numbaloss", "numpy")
    }
    lines = [
        "XGBoost hist training, 20 float32 features, 50 rounds, binary (wall time of "
        "xgboost.train, the DMatrix built beforehand)",
        "",
        "| objective | rows | built-in (s) | numbaloss (s) | NumPy (s) "
        "| numbaloss / built-in | NumPy / numbaloss |",
        "|---|---|---|---|---|---|---|",
    ]

    def s(v):
        return f"{v:.2f}" if v else "–"

    for (rows,) in sorted(logistic["numbaloss"]):
        b, m, p = (logistic[k].get((rows,)) for k in ("builtin", "numbaloss", "numpy"))
        ratio = f"{m / b:.2f}x" if m and b else "–"
        lines.append(
            f"| logistic | {rows:,} | {s(b)} | {s(m)} | {s(p)} | {ratio} | {_ratio(p, m)} |"
        )
    for (rows,) in sorted(focal["numbaloss"]):
        m, p = focal["numbaloss"].get((rows,)), focal["numpy"].get((rows,))
        lines.append(f"| sigmoid focal | {rows:,} | – | {s(m)} | {s(p)} | – | {_ratio(p, m)} |")
    return "\n".join(lines)


def dask_table(table):
    """Losses over dask arrays: per-element time against numbaloss in memory and the
    dask.array expression, and peak memory."""
    mine = table.get("dask.Numbaloss.time_value_and_grad", {})
    mine_value = table.get("dask.Numbaloss.time_value", {})
    expr = table.get("dask.Expression.time_value_and_grad", {})
    memory = table.get("dask.InMemory.time_value_and_grad", {})
    peak_threads = table.get("dask.PeakMemory.peakmem_value_and_grad_threads", {})
    peak_worker = table.get("dask.PeakMemory.track_worker_peak_rss_cluster", {})
    lines = [
        "Losses over dask arrays, float32, value + gradient (the gradient consumed chunk "
        "by chunk), chunks of 10^7 elements; in memory: numbaloss on NumPy arrays of "
        "2*10^7 elements, scaled per element; peak memory: the process on the threaded "
        "scheduler (asv peakmem), the busiest worker on the cluster (max RSS)",
        "",
        "| loss | scheduler | elements | value (s) | value + grad (s) | ns / element "
        "| share of in-memory speed | dask.array expression (s) | vs expression "
        "| peak memory (MiB) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for loss, scheduler, elements in sorted(mine):
        if elements < 10**8:
            continue
        t = mine[(loss, scheduler, elements)]
        ref = [v / e for (name, e), v in memory.items() if name == loss and e >= 10**6]
        share = f"{100 * ref[0] * elements / t:.0f}%" if ref else "–"
        e = expr.get((loss, scheduler, elements))
        peak = (peak_threads if scheduler == "threads" else peak_worker).get((loss, elements))
        tv = mine_value.get((loss, scheduler, elements))
        lines.append(
            f"| {loss} | {scheduler} | {elements:,} | {tv:.2f} | {t:.2f} "
            f"| {1e9 * t / elements:.2f} | {share} | {e:.2f} | {_ratio(e, t)} | {_mb(peak)} |"
            if tv and e
            else f"| {loss} | {scheduler} | {elements:,} | – | {t:.2f} | "
            f"{1e9 * t / elements:.2f} | {share} | – | – | {_mb(peak)} |"
        )
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=pathlib.Path, help="an asv results file")
    parser.add_argument("--n", type=int, default=20_000_000)
    parser.add_argument(
        "--stat",
        choices=("median", "min"),
        default="median",
        help="asv's median, or the fastest sample (a run with --record-samples)",
    )
    args = parser.parse_args(argv)
    path = args.file or newest_results(HERE / "results")
    data, table = load(path, args.stat)
    gbs = table.get("bandwidth.Bandwidth.track_triad_gbs", {}).get((args.n,))
    if gbs is None:
        gbs = next(iter(table.get("bandwidth.Bandwidth.track_triad_gbs", {}).values()), None)
    needs_floor = any(k.startswith(("elementwise", "softmax")) for k in table)
    if gbs is None and needs_floor:
        raise SystemExit("the results hold no bandwidth.Bandwidth.track_triad_gbs")
    print(
        f"asv results: {path.name} (commit {data['commit_hash'][:8]}), {args.stat} of the samples\n"
    )
    if any(k.startswith("elementwise.") for k in table):
        print(elementwise_table(table, args.n, gbs))
        print()
    if any(k.startswith("softmax.") for k in table):
        print(softmax_table(table, gbs))
        print()
    if any(k.startswith("elementwise_hess.") for k in table):
        print(hess_table(table, args.n, gbs))
        print()
    if any(k.startswith("softmax_hess.") for k in table):
        print(softmax_hess_table(table, gbs))
        print()
    if any(k.startswith("linear.") for k in table):
        print(linear_table(table))
        print()
    if any(k.startswith("boosting.") for k in table):
        print(boosting_table(table))
        print()
    if any(k.startswith("dask.") for k in table):
        print(dask_table(table))


if __name__ == "__main__":
    main()
