"""Side-by-side timings of the softmax family in one process: numbaloss vs PyTorch CPU.

    python asv_bench/compare_softmax.py [--repeat 7]

float32, value+gradient (new gradient array, and ``grad_out=input``) against
PyTorch forward+backward, for the sizes of the softmax issue.  The runs of the
three contenders are interleaved, so that a machine shared with other work
loads them alike; the table gives the median and (in parentheses) the minimum.
The floor is the time to read the logits twice and write the gradient once at
the triad bandwidth.
"""

import argparse
import pathlib
import sys
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from benchmarks.bandwidth import measure_bandwidth  # noqa: E402
from benchmarks.common import torch_or_skip  # noqa: E402

import numbaloss as nl  # noqa: E402


def interleaved(funcs, repeat):
    """(median, min) seconds of each function, run in turn ``repeat`` times."""
    for func in funcs:
        func()
    times = [[] for _ in funcs]
    for _ in range(repeat):
        for func, ts in zip(funcs, times):
            t0 = time.perf_counter()
            func()
            ts.append(time.perf_counter() - t0)
    return [(float(np.median(ts)), min(ts)) for ts in times]


def softmax_case(torch, gen, n, c, focal, repeat):
    F = torch.nn.functional
    x = gen.standard_normal((n, c), dtype=np.float32)
    t = gen.integers(0, c, n)
    work = x.copy()
    loss = nl.focal_loss if focal else nl.cross_entropy
    xt, tt = torch.from_numpy(x), torch.from_numpy(t)

    def torch_step():
        xx = xt.detach().requires_grad_(True)
        if focal:
            lsm = F.log_softmax(xx, 1)
            F.nll_loss((1 - lsm.exp()) ** 2.0 * lsm, tt).backward()
        else:
            F.cross_entropy(xx, tt).backward()

    return x.nbytes * 3, interleaved(
        [
            lambda: loss(x, t, return_grad=True),
            lambda: loss(work, t, return_grad=True, grad_out=work),
            torch_step,
        ],
        repeat,
    )


def sigmoid_case(torch, gen, n, repeat):
    F = torch.nn.functional
    x = gen.standard_normal(n, dtype=np.float32) * 3
    y = (gen.random(n) < 0.1).astype(np.float32)
    work = x.copy()
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)

    def torch_step():  # torchvision's sigmoid_focal_loss, written in PyTorch ops
        xx = xt.detach().requires_grad_(True)
        p = torch.sigmoid(xx)
        ce = F.binary_cross_entropy_with_logits(xx, yt, reduction="none")
        p_t = p * yt + (1 - p) * (1 - yt)
        loss = (0.25 * yt + 0.75 * (1 - yt)) * (ce * ((1 - p_t) ** 2.0))
        loss.mean().backward()

    return x.nbytes * 3, interleaved(
        [
            lambda: nl.sigmoid_focal_loss(x, y, reduction="mean", return_grad=True),
            lambda: nl.sigmoid_focal_loss(
                work, y, reduction="mean", return_grad=True, grad_out=work
            ),
            torch_step,
        ],
        repeat,
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    torch = torch_or_skip()
    gen = np.random.default_rng(0)
    bandwidth = measure_bandwidth()
    print(
        f"threads: numbaloss {nl.get_num_threads()}, torch {torch.get_num_threads()}; "
        f"triad {bandwidth:.1f} GB/s; median (min) of {args.repeat} interleaved runs, ms\n"
    )
    cases = [
        (f"cross_entropy {n}x{c}", softmax_case(torch, gen, n, c, False, args.repeat))
        for n, c in [(65536, 1000), (1_000_000, 10), (2048, 32768)]
    ]
    cases.append(
        ("focal_loss 65536x1000", softmax_case(torch, gen, 65536, 1000, True, args.repeat))
    )
    cases.append(("sigmoid_focal_loss 2e7", sigmoid_case(torch, gen, 20_000_000, args.repeat)))
    print(
        "| float32 | numbaloss value+grad | in place | PyTorch fwd+bwd | speed-up "
        "(median) | speed-up (min) | floor | best / floor |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, (nbytes, (new, inplace, ref)) in cases:
        floor = nbytes / (bandwidth * 1e9)
        best_med = min(new[0], inplace[0])
        best_min = min(new[1], inplace[1])
        print(
            f"| {name} | {new[0] * 1e3:.1f} ({new[1] * 1e3:.1f}) "
            f"| {inplace[0] * 1e3:.1f} ({inplace[1] * 1e3:.1f}) "
            f"| {ref[0] * 1e3:.1f} ({ref[1] * 1e3:.1f}) | {ref[0] / best_med:.1f}x "
            f"| {ref[1] / best_min:.1f}x | {floor * 1e3:.1f} | {best_min / floor:.2f}x |"
        )


if __name__ == "__main__":
    main()
