"""Command line: ``python -m numbaloss demo``.

``demo`` trains a logistic-regression classifier in pure NumPy on a generated
two-class problem, with the loss and its gradient from numbaloss's fused kernels.
"""

import argparse
import sys
import time

import numpy as np


def _make_data(rng, n, dims):
    """Two overlapping Gaussian clouds (no download)."""
    labels = rng.integers(0, 2, n)
    centers = np.where(labels[:, None] == 1, 0.12, -0.12) * (np.arange(dims) % 3 == 0)
    features = centers + rng.standard_normal((n, dims))
    return features.astype(np.float32), labels.astype(np.float32)


def demo(epochs=10, samples=200_000, dims=32, lr=0.5, seed=0, out=sys.stdout):
    """Train a logistic regression with ``binary_cross_entropy_with_logits``; returns accuracy."""
    import numbaloss as nl

    rng = np.random.default_rng(seed)
    x, y = _make_data(rng, samples, dims)
    split = samples * 4 // 5
    x_train, y_train, x_test, y_test = x[:split], y[:split], x[split:], y[split:]
    w = np.zeros(dims, np.float32)
    b = np.float32(0)
    batch = 4096
    print(
        f"numbaloss demo: logistic regression, {split} training samples, {dims} features", file=out
    )
    start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        order = rng.permutation(split)
        total = 0.0
        steps = range(0, split, batch)
        shown = -1
        for k, i in enumerate(steps):
            idx = order[i : i + batch]
            logits = x_train[idx] @ w + b
            loss, grad = nl.binary_cross_entropy_with_logits(logits, y_train[idx], return_grad=True)
            w -= lr * (x_train[idx].T @ grad)
            b -= lr * grad.sum()
            total += float(loss) * len(idx)
            done = (k + 1) * 30 // len(steps)
            if done != shown:
                shown = done
                bar = "#" * done + "." * (30 - done)
                print(f"\repoch {epoch:2d}/{epochs} [{bar}]", end="", file=out, flush=True)
        accuracy = np.mean(((x_test @ w + b) > 0) == (y_test > 0.5))
        print(f"  loss {total / split:.4f}  test accuracy {accuracy:.3f}", file=out)
    elapsed = time.perf_counter() - start
    print(f"done: test accuracy {accuracy:.1%} after {epochs} epochs in {elapsed:.1f} s", file=out)
    return accuracy


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m numbaloss", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    d = sub.add_parser("demo", help="train a small classifier in NumPy with numbaloss gradients")
    d.add_argument("--epochs", type=int, default=10)
    d.add_argument("--samples", type=int, default=200_000)
    d.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.command == "demo":
        demo(epochs=args.epochs, samples=args.samples, seed=args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
