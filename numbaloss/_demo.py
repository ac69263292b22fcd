"""The main job: train a small classifier in pure NumPy with numbaloss gradients.

The data are generated (no download): ``classes`` classes in ``features``
dimensions, each class a mixture of two Gaussian clouds, so that a linear model is
not enough and the one-hidden-layer MLP has something to learn.  numbaloss gives
the loss and its gradient with respect to the logits; the rest of the backward
pass is two matrix products written out by hand.
"""

import inspect
import sys
import time
from dataclasses import dataclass

import numpy as np

from ._progress import ProgressBar


@dataclass(frozen=True)
class DemoLoss:
    """How the demo trains with one loss: its function and the form of its targets."""

    function: str
    #: ``"index"`` (class indices), ``"onehot"`` (0/1 per class) or ``"signs"`` (-1/+1)
    targets: str
    #: ``nll_loss`` needs log-probabilities: the demo puts a log_softmax in front
    log_softmax_first: bool = False

    @property
    def short(self):
        """The short name ``--loss`` accepts (the registry's, e.g. ``mse``)."""
        from ._core import registry

        return registry.entry(self.function).short_name


#: The losses a classifier can be trained with, and the form of their targets; the
#: ``--loss`` choices are their short names (the registry's) or full names.
DEMO_LOSSES = (
    DemoLoss("cross_entropy", "index"),
    DemoLoss("focal_loss", "index"),
    DemoLoss("nll_loss", "index", log_softmax_first=True),
    DemoLoss("multi_margin_loss", "index"),
    DemoLoss("multilabel_soft_margin_loss", "onehot"),
    DemoLoss("sigmoid_focal_loss", "onehot"),
    DemoLoss("binary_cross_entropy_with_logits", "onehot"),
    DemoLoss("soft_margin_loss", "signs"),
    DemoLoss("mse_loss", "onehot"),
    DemoLoss("huber_loss", "onehot"),
    DemoLoss("smooth_l1_loss", "onehot"),
    DemoLoss("l1_loss", "onehot"),
)

#: Fewest ``--samples``: 4/5 train the model, 1/5 are held out for the test accuracy.
MIN_SAMPLES = 10


def choices():
    """The short names ``--loss`` lists (it also accepts the full function names)."""
    return [spec.short for spec in DEMO_LOSSES]


def resolve_loss(name):
    """``(short name, DemoLoss)`` for ``--loss name`` (short or full name); ValueError if unknown."""
    for spec in DEMO_LOSSES:
        if name in (spec.short, spec.function):
            return spec.short, spec
    raise ValueError(
        f"unknown --loss {name!r}; choose one of {', '.join(choices())} (or the full "
        "function name, e.g. mse_loss)"
    )


def make_data(rng, n, features=16, classes=4):
    """Class ``k`` is two Gaussian clouds at opposite centres ``+-c_k`` plus noise."""
    labels = rng.integers(0, classes, n)
    centres = rng.standard_normal((classes, features)) * 0.7
    side = np.where(rng.random(n) < 0.5, -1.0, 1.0)[:, None]
    x = side * centres[labels] + rng.standard_normal((n, features))
    x /= x.std(axis=0)
    return x.astype(np.float32), labels.astype(np.int64)


def _targets(spec, labels, classes):
    if spec.targets == "index":
        return labels
    onehot = np.zeros((labels.size, classes), np.float32)
    onehot[np.arange(labels.size), labels] = 1.0
    return onehot if spec.targets == "onehot" else 2.0 * onehot - 1.0


def cuda_problem(function):
    """Why ``--device cuda`` cannot run ``function`` here, or None when it can."""
    try:
        from numba import cuda
    except ImportError:  # pragma: no cover - numba ships numba.cuda
        return "numba's CUDA support is not installed (pip install 'numbaloss[cuda]')"
    if not cuda.is_available():
        return "no usable CUDA GPU or driver was found (numba.cuda.is_available() is False)"
    return None


class _Device:
    """Moves the logits and targets to the GPU for the loss call, and the results back."""

    def __init__(self, name):
        self.cuda = None
        if name == "cuda":
            from numba import cuda

            self.cuda = cuda

    def put(self, arr):
        return arr if self.cuda is None else self.cuda.to_device(np.ascontiguousarray(arr))

    @staticmethod
    def get(arr):
        return np.asarray(arr.copy_to_host() if hasattr(arr, "copy_to_host") else arr)


def _loss_and_logit_grad(function, spec, options, logits, targets, device):
    """The mean loss and its gradient with respect to ``logits`` (one fused numbaloss call)."""
    if spec.log_softmax_first:
        shifted = logits - logits.max(axis=1, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        loss, g = function(device.put(log_probs), device.put(targets), **options, return_grad=True)
        g = device.get(g)
        # backward through log_softmax: g - softmax * sum(g)
        grad = g - np.exp(log_probs) * g.sum(axis=1, keepdims=True)
        return float(device.get(loss)), grad
    loss, grad = function(device.put(logits), device.put(targets), **options, return_grad=True)
    return float(device.get(loss)), device.get(grad)


def _plural(n, word):
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def _first_call(function, spec, options, logits, targets, device, out):
    """Run the loss once before training, saying so if numba compiles its kernels.

    numba compiles a kernel on its first call with new argument types: seconds
    that would otherwise pass in silence inside the first epoch.  CPU kernels are
    then kept in numba's on-disk cache for the next run; CUDA kernels are compiled
    in every process.
    """
    from ._compiling import CompileWatch

    where = "CUDA" if device.cuda is not None else "CPU"

    def announce():
        print(
            f"compiling numbaloss.{spec.function}'s {where} kernels (numba, first call) ...",
            file=out,
            flush=True,
        )

    with CompileWatch(on_first=announce) as watch:
        _loss_and_logit_grad(function, spec, options, logits, targets, device)
    if watch.count:
        later = (
            "compiled again in each new process (numba keeps no disk cache of CUDA kernels)"
            if device.cuda is not None
            else "cached on disk by numba: the next run loads them instead of compiling"
        )
        print(f"compiled in {watch.seconds:.1f} s; {later}", file=out, flush=True)


def train_mlp(
    loss="cross_entropy",
    epochs=5,
    samples=20_000,
    hidden=64,
    lr=0.2,
    seed=0,
    device="cpu",
    out=sys.stdout,
):
    """Train a one-hidden-layer MLP with ``loss``; returns the final test accuracy.

    ``samples`` (at least :data:`MIN_SAMPLES`) are generated; 4/5 train the model
    and the rest are held out for the test accuracy.
    """
    import numbaloss

    if epochs < 1:
        raise ValueError(f"epochs must be at least 1, got {epochs}")
    if samples < MIN_SAMPLES:
        raise ValueError(f"samples must be at least {MIN_SAMPLES}, got {samples}")
    key, spec = resolve_loss(loss)
    function = getattr(numbaloss, spec.function)
    options = {"reduction": "mean"} if "reduction" in inspect.signature(function).parameters else {}
    rng = np.random.default_rng(seed)
    classes, features = 4, 16
    x, labels = make_data(rng, samples, features, classes)
    split = samples * 4 // 5
    x_train, x_test, y_test = x[:split], x[split:], labels[split:]
    targets = _targets(spec, labels[:split], classes)
    w1 = (rng.standard_normal((features, hidden)) * np.sqrt(2.0 / features)).astype(np.float32)
    b1 = np.zeros(hidden, np.float32)
    w2 = (rng.standard_normal((hidden, classes)) * np.sqrt(1.0 / hidden)).astype(np.float32)
    b2 = np.zeros(classes, np.float32)
    on = _Device(device)
    batch = 256
    print(
        f"numbaloss demo: MLP {features}-{hidden}-{classes} trained with numbaloss."
        f"{spec.function} ({key}) on {_plural(split, 'generated sample')} "
        f"({samples - split:,} more held out for the test accuracy), "
        f"{'GPU loss kernels' if device == 'cuda' else 'CPU'}",
        file=out,
    )
    first = x_train[:batch] @ w1 + b1
    first_logits = np.maximum(first, 0) @ w2 + b2
    _first_call(function, spec, options, first_logits, targets[:batch], on, out)
    start = time.perf_counter()
    accuracy = 0.0
    for epoch in range(1, epochs + 1):
        order = rng.permutation(split)
        steps = range(0, split, batch)
        bar = ProgressBar(len(steps), f"epoch {epoch:2d}/{epochs}", out=out)
        total = 0.0
        for i in steps:
            idx = order[i : i + batch]
            xb = x_train[idx]
            hidden_pre = xb @ w1 + b1
            h = np.maximum(hidden_pre, 0)
            logits = h @ w2 + b2
            value, g = _loss_and_logit_grad(function, spec, options, logits, targets[idx], on)
            total += value * len(idx)
            g_h = (g @ w2.T) * (hidden_pre > 0)
            w2 -= lr * (h.T @ g)
            b2 -= lr * g.sum(axis=0)
            w1 -= lr * (xb.T @ g_h)
            b1 -= lr * g_h.sum(axis=0)
            bar.update()
        test_logits = np.maximum(x_test @ w1 + b1, 0) @ w2 + b2
        accuracy = float(np.mean(test_logits.argmax(axis=1) == y_test))
        bar.close(f"loss {total / split:.4f}  test accuracy {accuracy:.3f}")
    elapsed = time.perf_counter() - start
    print(
        f"done: test accuracy {accuracy:.1%} with {spec.function} after "
        f"{_plural(epochs, 'epoch')} in {elapsed:.1f} s (chance: {1 / classes:.0%})",
        file=out,
    )
    return accuracy


def demo(loss=None, epochs=5, samples=20_000, seed=0, device="cpu", out=sys.stdout, err=None):
    """Run the demo; returns the process exit status (0 on success, 2 on a usage error)."""
    err = sys.stderr if err is None else err
    try:
        _, spec = resolve_loss(loss or "cross_entropy")
        if epochs < 1:
            raise ValueError(f"--epochs must be at least 1, got {epochs}")
        if samples < MIN_SAMPLES:
            raise ValueError(
                f"--samples must be at least {MIN_SAMPLES} (1/5 of them are held out "
                f"for the test accuracy), got {samples}"
            )
    except ValueError as exc:
        print(f"error: {exc}", file=err)
        return 2
    if device == "cuda":
        problem = cuda_problem(spec.function)
        if problem is not None:
            print(
                f"error: --device cuda: {problem}; run without --device cuda to train on the CPU",
                file=err,
            )
            return 2
    train_mlp(spec.function, epochs=epochs, samples=samples, seed=seed, device=device, out=out)
    return 0
