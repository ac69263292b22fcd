"""Side-by-side timings in one process: numbaloss vs PyTorch CPU vs NumPy.

    python asv_bench/compare.py [--n 20000000] [--repeat 5]

Prints a Markdown table for the elementwise losses at ``n`` float32 elements:
value+gradient time of numbaloss, PyTorch forward+backward, the NumPy formula,
numbaloss's speed-up over PyTorch, and the fraction of the bandwidth floor (the
time to read the inputs and write the gradient once at the triad bandwidth).
"""

import argparse
import pathlib
import sys
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from benchmarks.bandwidth import measure_bandwidth  # noqa: E402
from benchmarks.elementwise import NAMES, Numbaloss, NumPy, Torch  # noqa: E402


def best_time(func, repeat):
    func()
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - t0)
    return best


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=20_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    n = args.n
    gbs = measure_bandwidth(n)
    print(f"triad bandwidth: {gbs:.1f} GB/s, n = {n:,} float32\n")
    print(
        "| loss | numbaloss value+grad (ms) | PyTorch fwd+bwd (ms) | NumPy (ms) | speed-up vs PyTorch | % of bandwidth floor |"
    )
    print("|---|---|---|---|---|---|")
    for name in NAMES:
        nb, th, npb = Numbaloss(), Torch(), NumPy()
        nb.setup(name, n)
        t_nb = best_time(lambda: nb.time_value_and_grad(name, n), args.repeat)  # noqa: B023
        try:
            th.setup(name, n)
            t_th = best_time(lambda: th.time_forward_backward(name, n), args.repeat)  # noqa: B023
        except NotImplementedError:
            t_th = np.nan
        npb.setup(name, n)
        t_np = best_time(lambda: npb.time_value_and_grad(name, n), max(1, args.repeat // 2))  # noqa: B023
        bytes_moved = 4 * n * (len(nb.arrays) + len(nb.case.preds))
        floor = bytes_moved / (gbs * 1e9)
        print(
            f"| {name} | {t_nb * 1e3:.1f} | {t_th * 1e3:.1f} | {t_np * 1e3:.1f} | "
            f"{t_th / t_nb:.1f}x | {100 * floor / t_nb:.0f}% |"
        )


if __name__ == "__main__":
    main()
