"""Command line of numbaloss: ``numbaloss {demo,bench,compile}`` (or ``python -m numbaloss``).

``demo`` trains a small classifier in pure NumPy with numbaloss's fused loss
gradients (the main job); ``bench`` times losses beside PyTorch and NumPy on this
machine; ``compile`` fills numba's on-disk cache ahead of time.  ``numbaloss`` is
the console script that ``pip install`` puts on the path (pyproject.toml's
``[project.scripts]``).
"""

import argparse
import sys

PROG = "numbaloss"


class _Formatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Help with each option's default, and descriptions laid out as written.

    An option whose default is ``None`` or empty says in its own words what it
    defaults to (``(default: None)`` would say nothing).
    """

    def _get_help_string(self, action):
        if action.default is None or action.default == []:
            return action.help
        return super()._get_help_string(action)


def _at_least(low, what):
    """An argparse type: an integer (``1e6`` allowed) of at least ``low``."""

    def convert(text):
        try:
            value = float(text)
            if value != int(value):
                raise ValueError
            value = int(value)
        except (ValueError, OverflowError):
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"{what} must be at least {low}, got {text}")
        return value

    convert.__name__ = what  # argparse names the type in its messages
    return convert


def _plural(n, word):
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def _short_names(names):
    from ._core import registry

    return [registry.entry(n).short_name for n in names]


def _parser():
    from . import _bench, _demo
    from ._core import registry

    parser = argparse.ArgumentParser(
        prog=PROG,
        formatter_class=_Formatter,
        description="numbaloss from the command line (the console script numbaloss, or "
        "python -m numbaloss):\n"
        "  demo     train a classifier in NumPy with numbaloss gradients\n"
        "  bench    time losses beside PyTorch and NumPy\n"
        "  compile  compile the kernels into numba's on-disk cache ahead of time",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="{demo,bench,compile}")
    d = sub.add_parser(
        "demo",
        formatter_class=_Formatter,
        help="train a small classifier in NumPy with numbaloss gradients",
        description="Train an MLP on generated data with a numbaloss loss.  The first run "
        "compiles the loss's kernels (numba caches them on disk for later runs).",
    )
    d.add_argument(
        "--loss",
        default="cross_entropy",
        metavar="NAME",
        help=f"loss to train with, one of: {', '.join(_demo.choices())} (or the full "
        "function name, e.g. mse_loss)",
    )
    d.add_argument(
        "--epochs", type=_at_least(1, "epochs"), default=5, help="passes over the training set"
    )
    d.add_argument(
        "--samples",
        type=_at_least(_demo.MIN_SAMPLES, "samples"),
        default=20_000,
        help="generated samples: 4/5 train the model, 1/5 are held out for the test accuracy",
    )
    d.add_argument("--seed", type=int, default=0, help="seed of the data and the weights")
    d.add_argument(
        "--device",
        choices=["cpu", "cuda"],
        default="cpu",
        help="where the loss kernels run; cuda needs numbaloss[cuda] and a GPU",
    )
    names = _bench.available()
    b = sub.add_parser(
        "bench",
        formatter_class=_Formatter,
        help="time losses beside PyTorch (CPU) and NumPy",
        description="Median time of value+gradient (numbaloss), forward+backward (PyTorch CPU, "
        "if installed) and the NumPy formula, for the losses and sizes given.",
    )
    b.add_argument(
        "losses",
        nargs="*",
        metavar="LOSS",
        default=[],
        help="losses to time, by full or short name (default: all).  Short names: "
        + ", ".join(_short_names(names)),
    )
    b.add_argument(
        "--sizes",
        type=_at_least(1, "sizes"),
        nargs="+",
        default=[1_000_000],
        help="elements in the prediction (1e6 notation allowed)",
    )
    b.add_argument(
        "--repeat",
        type=_at_least(1, "repeat"),
        default=5,
        help="timed runs per measurement, of each library (the median is shown)",
    )
    b.add_argument("--dtype", choices=["float32", "float64"], default="float32", help="dtype")
    b.add_argument(
        "--threads",
        type=_at_least(1, "threads"),
        default=None,
        help="threads for numbaloss and PyTorch, at most the CPUs (default: numbaloss's "
        "own, see numbaloss.get_num_threads)",
    )
    b.add_argument("--no-torch", action="store_true", help="skip PyTorch")
    b.add_argument("--markdown", action="store_true", help="print a Markdown table")
    c = sub.add_parser(
        "compile",
        formatter_class=_Formatter,
        help="compile the kernels into numba's on-disk cache ahead of time",
        description="Compile numbaloss's CPU kernels into numba's on-disk cache, so that "
        "the first calls of later processes load them instead of compiling (for container "
        "images and CI).  Each function is called on tiny inputs in float32 and float64, "
        "with reduction 'mean' and 'none', without and with the gradient, with its default "
        "options; other options or dtypes may compile more on their first call.  The cache "
        "is numba's: next to numbaloss's source files, or NUMBA_CACHE_DIR.",
    )
    c.add_argument(
        "targets",
        nargs="*",
        metavar="FAMILY",
        default=[],
        help=f"families to compile, of: {', '.join(registry.FAMILIES)}; or single "
        "functions by full or short name (default: all)",
    )
    return parser


def _resolve(names, err):
    """Full names for full or short ``names``; None (after an error message) if one is unknown."""
    from . import _bench
    from ._core import registry

    available = _bench.available()
    resolved, unknown = [], []
    for name in names:
        e = registry.lookup(name)
        if e is None or e.name not in available:
            unknown.append(name)
        else:
            resolved.append(e.name)
    if unknown:
        print(
            f"error: no such loss: {', '.join(unknown)}; choose from: "
            f"{', '.join(available)} (or their short names: {', '.join(_short_names(available))})",
            file=err,
        )
        return None
    return resolved


def bench(args, out=None, err=None):
    """``numbaloss bench``: returns the exit status."""
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    import numbaloss

    from . import _bench
    from ._progress import ProgressBar

    names = _resolve(args.losses, err) if args.losses else _bench.available()
    if names is None:
        return 2
    if args.threads is not None:
        try:
            numbaloss.set_num_threads(args.threads)
        except ValueError as exc:
            print(f"error: --threads: {exc}", file=err)
            return 2
    bar = ProgressBar(len(names) * len(args.sizes), "timing (first calls compile)", out=err)
    has_torch = _bench.torch_installed()
    timings = _bench.compare(
        names,
        args.sizes,
        repeat=args.repeat,
        dtype=args.dtype,
        torch=has_torch and not args.no_torch,
        progress=lambda label: bar.update(label=label),
    )
    bar.close("done")
    if args.no_torch:
        torch_note = "PyTorch skipped (--no-torch)"
    elif not has_torch:
        torch_note = "PyTorch is not installed, so its column is empty"
    else:
        torch_note = "'-' under PyTorch: no such function in PyTorch (or torchvision)"
    runs = "run" if args.repeat == 1 else "runs"
    print(
        f"median of {args.repeat} timed {runs} of each library, {args.dtype}, "
        f"{numbaloss.get_num_threads()} threads; numbaloss and NumPy: value and gradient, "
        "PyTorch: forward and backward (value only for functions without a gradient: the "
        f"softmax primitives, zero_one_loss); {torch_note}; '-' under NumPy: no NumPy "
        "formula for it here\n",
        file=out,
    )
    print(_bench.format_table(timings, markdown=args.markdown), file=out)
    return 0


def compile_command(args, out=None, err=None):
    """``numbaloss compile``: returns the exit status."""
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    import time

    from . import _bench, _compiling
    from ._core import registry
    from ._progress import ProgressBar

    names = []
    for target in args.targets:
        if target in registry.FAMILIES:
            names += [n for n in registry.names(target) if n in _bench.available()]
        else:
            resolved = _resolve([target], err)
            if resolved is None:
                print(f"(families: {', '.join(registry.FAMILIES)})", file=err)
                return 2
            names += resolved
    if not args.targets:
        names = _bench.available()
    names = list(dict.fromkeys(names))
    total = sum(len(_compiling.calls(n)) for n in names)
    bar = ProgressBar(total, "compiling", out=err)
    start = time.perf_counter()
    reports = _compiling.compile_ahead(
        names, progress=lambda label: bar.update(label=f"compiling {label}")
    )
    bar.close("done")
    for r in reports:
        print(
            f"{r.family}: {_plural(len(r.names), 'function')} ({', '.join(r.names)}), {r.calls} calls "
            f"(float32 and float64, reduction 'mean' and 'none', value and value+gradient, "
            "where they apply): "
            f"{r.compiled} kernel specialisations compiled in {r.seconds:.1f} s",
            file=out,
        )
    compiled = sum(r.compiled for r in reports)
    elapsed = time.perf_counter() - start
    if compiled:
        from numba.core import config

        where = config.CACHE_DIR or (
            "__pycache__ beside numbaloss's sources (or numba's user-wide cache where those "
            "are read-only)"
        )
        print(
            f"compiled {compiled} kernel specialisations in {elapsed:.1f} s; numba cached "
            f"them in {where}",
            file=out,
        )
    else:
        print(f"nothing to compile: all was in numba's on-disk cache ({elapsed:.1f} s)", file=out)
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
    if args.command == "compile":
        return compile_command(args)
    return bench(args)


if __name__ == "__main__":
    sys.exit(main())
