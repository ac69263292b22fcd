"""Side-by-side timings in one process: numbaloss vs PyTorch CPU vs NumPy.

    python asv_bench/compare.py [--n 20000000] [--repeat 5] [loss ...]

Prints a Markdown table for the installed losses (or those named) at ``n``
elements: value+gradient time of numbaloss, PyTorch forward+backward, the NumPy
formula, and for each loss the fraction of the bandwidth floor (the time to read
the inputs and write the gradient once at the triad bandwidth).  The timing and
the inputs are those of ``python -m numbaloss bench`` (``numbaloss._bench``).
"""

import argparse

import numbaloss
from numbaloss import _bench


def bytes_moved(load):
    """Bytes read (every array) plus bytes of gradient written, once."""
    read = sum(a.nbytes for a in load.arrays)
    return read + sum(load.arrays[i].nbytes for i in load.preds)


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("losses", nargs="*")
    parser.add_argument("--n", type=int, default=20_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    names = args.losses or _bench.available()
    gbs = _bench.measure_bandwidth(args.n)
    print(
        f"triad bandwidth: {gbs:.1f} GB/s, n = {args.n:,} float32, "
        f"{numbaloss.get_num_threads()} threads\n"
    )
    timings = _bench.compare(names, [args.n], repeat=args.repeat)
    print(_bench.format_table(timings, markdown=True))
    print("\n| loss | % of bandwidth floor |\n|---|---|")
    for timing in timings:
        floor = bytes_moved(_bench.workload(timing.name, args.n)) / (gbs * 1e9)
        print(f"| {timing.name} | {100 * floor / timing.numbaloss:.0f}% |")


if __name__ == "__main__":
    main()
