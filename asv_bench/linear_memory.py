"""The memory picture of ``linear_cross_entropy``: extra memory of one call against C.

For each number of classes C (N = 2048 rows, in_features = 512, float32, class
indices, ``reduction='mean'``, forward and backward) each implementation runs in a
fresh process, which makes its inputs, warms up (compiles, loads its libraries)
with a few rows, then measures the memory of one full call: the peak resident set
size during the call (Linux's ``VmHWM``, reset through ``/proc/self/clear_refs``)
minus the resident set size before it.  That is what the call costs beyond its
inputs, its outputs (the gradients) included, whatever allocator each library uses.

* ``numbaloss``: ``nl.linear_cross_entropy(x, w, t, return_grad=True)``;
* ``PyTorch reference``: ``F.linear_cross_entropy(x, w, t).backward()`` (the full
  logits, ``options=None``);
* ``PyTorch chunked``: the same with ``options=nn.LinearCrossEntropyOptions()``;
* ``gradients alone``: the bytes of ``grad_input`` and ``grad_linear_weight``, the
  least any implementation that returns them needs.

Writes ``docs/images/linear_cross_entropy_memory.csv`` and ``.png`` (the docs page
``docs/linear_cross_entropy.rst`` shows them)::

    python asv_bench/linear_memory.py            # about a minute; needs PyTorch, matplotlib

This measures memory, not time, and gives the same numbers on a busy machine.
"""

import argparse
import csv
import pathlib
import resource
import subprocess
import sys

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # measure this checkout's numbaloss
OUT = HERE.parent / "docs" / "images" / "linear_cross_entropy_memory"
N, K = 2048, 512
CLASSES = [2000, 4000, 8000, 16000, 32000, 64000]
KINDS = ["numbaloss", "PyTorch reference", "PyTorch chunked"]


def _status_kb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def _reset_peak():
    """Reset the peak RSS to the current RSS; False where the kernel does not allow it."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def child(kind, n, k, c):
    """Run in a fresh process: print the extra bytes of one call of ``kind``."""
    import gc

    import numpy as np

    gen = np.random.default_rng(0)
    x = gen.standard_normal((n, k), dtype=np.float32)
    w = gen.standard_normal((c, k), dtype=np.float32) / np.float32(np.sqrt(k))
    t = gen.integers(0, c, n)
    if kind == "numbaloss":
        import numbaloss as nl

        def call(rows):
            nl.linear_cross_entropy(x[:rows], w, t[:rows], return_grad=True)

    else:
        import torch

        options = torch.nn.LinearCrossEntropyOptions() if kind == "PyTorch chunked" else None
        tx, tw, tt = torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(t)

        def call(rows):
            xr = tx[:rows].detach().requires_grad_(True)
            wr = tw.detach().requires_grad_(True)
            torch.nn.functional.linear_cross_entropy(xr, wr, tt[:rows], options=options).backward()

    call(8)
    gc.collect()
    if _reset_peak():
        before = _status_kb("VmRSS")
        call(n)
        peak = _status_kb("VmHWM")
    else:  # the peak since the process started (the warm-up's is far smaller)
        before = _status_kb("VmRSS")
        call(n)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print((peak - before) * 1024)


def measure():
    rows = []
    for c in CLASSES:
        row = {"C": c, "gradients alone": (N * K + c * K) * 4}
        for kind in KINDS:
            out = subprocess.run(
                [sys.executable, __file__, "--child", kind, str(N), str(K), str(c)],
                capture_output=True,
                text=True,
                check=True,
            )
            row[kind] = int(out.stdout.split()[-1])
        print(", ".join(f"{key}: {value}" for key, value in row.items()), flush=True)
        rows.append(row)
    return rows


def write(rows):
    OUT.parent.mkdir(parents=True, exist_ok=True)
    columns = ["C", *KINDS, "gradients alone"]
    with open(OUT.with_suffix(".csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, columns)
        writer.writeheader()
        writer.writerows(rows)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
    cs = [r["C"] for r in rows]
    styles = {
        "numbaloss": dict(color="C0", marker="o"),
        "PyTorch reference": dict(color="C3", marker="s"),
        "PyTorch chunked": dict(color="C1", marker="^"),
        "gradients alone": dict(color="0.5", linestyle="--"),
    }
    for kind in [*KINDS, "gradients alone"]:
        ax.plot(cs, [r[kind] / 2**20 for r in rows], label=kind, **styles[kind])
    ax.set_xlabel("classes C")
    ax.set_ylabel("extra memory of one call (MiB)")
    ax.set_title(
        f"linear_cross_entropy forward + backward\nN={N}, in_features={K}, float32", fontsize=10
    )
    ax.grid(alpha=0.3)
    ax.legend()
    fig.savefig(OUT.with_suffix(".png"), dpi=90)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", nargs=4, metavar=("KIND", "N", "K", "C"), help=argparse.SUPPRESS)
    parser.add_argument(
        "--plot-only", action="store_true", help="redraw the PNG from the CSV, measure nothing"
    )
    opts = parser.parse_args(argv)
    if opts.child:
        kind, n, k, c = opts.child
        child(kind, int(n), int(k), int(c))
        return 0
    if opts.plot_only:
        with open(OUT.with_suffix(".csv"), newline="") as f:
            rows = [{key: int(value) for key, value in row.items()} for row in csv.DictReader(f)]
    else:
        rows = measure()
    write(rows)
    print(f"wrote {OUT.with_suffix('.csv')} and {OUT.with_suffix('.png')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
