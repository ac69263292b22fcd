"""The main job: train a small classifier in pure NumPy with numbaloss gradients.

The data are generated (no download): ``classes`` classes in ``features``
dimensions, each class a mixture of two Gaussian clouds, so that a linear model is
not enough and the one-hidden-layer MLP has something to learn.  numbaloss gives
the loss and its gradient with respect to the logits; the rest of the backward
pass is two matrix products written out by hand.
"""

import importlib.util
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


#: ``--loss`` choices (short name -> loss); only those installed are offered.
DEMO_LOSSES = {
    "cross_entropy": DemoLoss("cross_entropy", "index"),
    "focal": DemoLoss("focal_loss", "index"),
    "nll": DemoLoss("nll_loss", "index", log_softmax_first=True),
    "multi_margin": DemoLoss("multi_margin_loss", "index"),
    "multilabel_soft_margin": DemoLoss("multilabel_soft_margin_loss", "onehot"),
    "sigmoid_focal": DemoLoss("sigmoid_focal_loss", "onehot"),
    "bce_with_logits": DemoLoss("binary_cross_entropy_with_logits", "onehot"),
    "soft_margin": DemoLoss("soft_margin_loss", "signs"),
    "mse": DemoLoss("mse_loss", "onehot"),
    "huber": DemoLoss("huber_loss", "onehot"),
    "smooth_l1": DemoLoss("smooth_l1_loss", "onehot"),
    "l1": DemoLoss("l1_loss", "onehot"),
}


def available_losses():
    """``{short name: DemoLoss}`` of the demo losses this installation has."""
    import numbaloss

    return {key: spec for key, spec in DEMO_LOSSES.items() if hasattr(numbaloss, spec.function)}


def resolve_loss(name):
    """The ``DemoLoss`` for ``--loss name`` (short name or function name); ValueError if unknown."""
    losses = available_losses()
    for key, spec in losses.items():
        if name in (key, spec.function):
            return key, spec
    known = ", ".join(losses) or "none"
    missing = [k for k, s in DEMO_LOSSES.items() if name in (k, s.function)]
    if missing:
        raise ValueError(
            f"--loss {name}: numbaloss.{DEMO_LOSSES[missing[0]].function} is not in this "
            f"installation of numbaloss; available: {known}"
        )
    raise ValueError(f"unknown --loss {name!r}; available: {known}")


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
    from ._bench import family_of

    family = family_of(function)
    try:
        from numba import cuda
    except ImportError:  # pragma: no cover - numba ships numba.cuda
        return "numba's CUDA support is not installed (pip install 'numbaloss[cuda]')"
    if not cuda.is_available():
        return "no usable CUDA GPU or driver was found (numba.cuda.is_available() is False)"
    if importlib.util.find_spec(f"numbaloss.{family}.cuda") is None:
        return f"the CUDA path of the {family} losses is not in this installation of numbaloss yet"
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
    """Train a one-hidden-layer MLP with ``loss``; returns the final test accuracy."""
    import numbaloss

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
        f"{spec.function} ({key}) on {split:,} generated samples, "
        f"{'GPU loss kernels' if device == 'cuda' else 'CPU'}",
        file=out,
    )
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
        f"done: test accuracy {accuracy:.1%} with {spec.function} after {epochs} epochs "
        f"in {elapsed:.1f} s (chance: {1 / classes:.0%})",
        file=out,
    )
    return accuracy


def train_logistic(epochs=5, samples=40_000, dims=32, lr=0.5, seed=0, out=sys.stdout):
    """Two-class logistic regression with ``binary_cross_entropy_with_logits``; returns accuracy."""
    import numbaloss

    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, samples)
    centres = np.where(labels[:, None] == 1, 0.12, -0.12) * (np.arange(dims) % 3 == 0)
    x = (centres + rng.standard_normal((samples, dims))).astype(np.float32)
    y = labels.astype(np.float32)
    split = samples * 4 // 5
    x_train, y_train, x_test, y_test = x[:split], y[:split], x[split:], y[split:]
    w = np.zeros(dims, np.float32)
    b = np.float32(0)
    batch = 4096
    print(
        f"numbaloss demo: logistic regression with binary_cross_entropy_with_logits, "
        f"{split:,} generated samples, {dims} features",
        file=out,
    )
    start = time.perf_counter()
    accuracy = 0.0
    for epoch in range(1, epochs + 1):
        order = rng.permutation(split)
        steps = range(0, split, batch)
        bar = ProgressBar(len(steps), f"epoch {epoch:2d}/{epochs}", out=out)
        total = 0.0
        for i in steps:
            idx = order[i : i + batch]
            logits = x_train[idx] @ w + b
            loss, grad = numbaloss.binary_cross_entropy_with_logits(
                logits, y_train[idx], return_grad=True
            )
            w -= lr * (x_train[idx].T @ grad)
            b -= lr * grad.sum()
            total += float(loss) * len(idx)
            bar.update()
        accuracy = float(np.mean(((x_test @ w + b) > 0) == (y_test > 0.5)))
        bar.close(f"loss {total / split:.4f}  test accuracy {accuracy:.3f}")
    elapsed = time.perf_counter() - start
    print(
        f"done: test accuracy {accuracy:.1%} after {epochs} epochs in {elapsed:.1f} s "
        "(chance: 50%)",
        file=out,
    )
    return accuracy


def demo(loss=None, epochs=5, samples=20_000, seed=0, device="cpu", out=sys.stdout, err=None):
    """Run the demo; returns the process exit status (0 on success, 2 on a usage error)."""
    import numbaloss

    err = sys.stderr if err is None else err
    if loss is None and not hasattr(numbaloss, "cross_entropy"):
        if device == "cuda":
            print("--device cuda needs a loss with a CUDA path; see --loss", file=err)
            return 2
        print(
            "numbaloss.cross_entropy is not in this installation (the softmax family is "
            "missing): falling back to logistic regression with binary_cross_entropy_with_logits",
            file=out,
        )
        train_logistic(epochs=epochs, samples=samples, seed=seed, out=out)
        return 0
    try:
        _, spec = resolve_loss(loss or "cross_entropy")
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
