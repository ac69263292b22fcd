"""Command line of numbaloss: ``python -m numbaloss {demo,bench}``.

``demo`` trains a small classifier in pure NumPy with numbaloss's fused loss
gradients (the main job); ``bench`` times losses beside PyTorch and NumPy on this
machine.
"""

import argparse
import sys


def _sizes(text):
    try:
        value = int(float(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a size: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"sizes must be positive, got {text!r}")
    return value


def _parser():
    parser = argparse.ArgumentParser(
        prog="python -m numbaloss",
        description="numbaloss from the command line: demo (train a classifier with numbaloss "
        "gradients) and bench (time losses beside PyTorch and NumPy).",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    d = sub.add_parser(
        "demo",
        help="train a small classifier in NumPy with numbaloss gradients",
        description="Train an MLP on generated data with a numbaloss loss (cross_entropy by "
        "default; logistic regression if the softmax family is not installed).",
    )
    d.add_argument(
        "--loss",
        default=None,
        help="loss to train with (short name or function name, e.g. focal); default cross_entropy",
    )
    d.add_argument("--epochs", type=int, default=5)
    d.add_argument("--samples", type=_sizes, default=20_000)
    d.add_argument("--seed", type=int, default=0)
    d.add_argument(
        "--device",
        choices=["cpu", "cuda"],
        default="cpu",
        help="cuda: run the loss kernels on the GPU (needs numbaloss[cuda] and a GPU)",
    )
    b = sub.add_parser(
        "bench",
        help="time losses beside PyTorch (CPU) and NumPy",
        description="Median time of value+gradient (numbaloss), forward+backward (PyTorch CPU, "
        "if installed) and the NumPy formula, for the losses and sizes given.",
    )
    b.add_argument("losses", nargs="*", help="losses to time (default: all installed)")
    b.add_argument(
        "--sizes",
        type=_sizes,
        nargs="+",
        default=[1_000_000],
        help="elements in the prediction (default 1e6)",
    )
    b.add_argument("--repeat", type=int, default=5, help="timed runs per measurement (median)")
    b.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    b.add_argument(
        "--threads",
        type=int,
        default=None,
        help="threads for numbaloss and PyTorch (default: numbaloss's default)",
    )
    b.add_argument("--no-torch", action="store_true", help="skip PyTorch")
    b.add_argument("--markdown", action="store_true", help="print a Markdown table")
    return parser


def bench(args, out=sys.stdout, err=sys.stderr):
    """``python -m numbaloss bench``: returns the exit status."""
    import numbaloss

    from . import _bench
    from ._progress import ProgressBar

    names = args.losses or _bench.available()
    unknown = [n for n in names if n not in _bench.available()]
    if unknown:
        print(
            f"error: no such loss in this installation: {', '.join(unknown)}; "
            f"available: {', '.join(_bench.available())}",
            file=err,
        )
        return 2
    if args.threads is not None:
        numbaloss.set_num_threads(args.threads)
    bar = ProgressBar(len(names) * len(args.sizes), "timing (first calls compile)", out=err)
    timings = _bench.compare(
        names,
        args.sizes,
        repeat=args.repeat,
        dtype=args.dtype,
        torch=not args.no_torch,
        progress=lambda label: bar.update(label=label),
    )
    bar.close("done")
    print(
        f"median of {args.repeat} runs, {args.dtype}, {numbaloss.get_num_threads()} threads; "
        "numbaloss and NumPy: value and gradient, PyTorch: forward and backward "
        "(value only for functions without a gradient: the softmax primitives, "
        "zero_one_loss); '-': no such function in that library\n",
        file=out,
    )
    print(_bench.format_table(timings, markdown=args.markdown), file=out)
    return 0


def main(argv=None):
    args = _parser().parse_args(argv)
    if args.command == "demo":
        from ._demo import demo

        return demo(
            loss=args.loss,
            epochs=args.epochs,
            samples=args.samples,
            seed=args.seed,
            device=args.device,
        )
    return bench(args)


if __name__ == "__main__":
    sys.exit(main())
