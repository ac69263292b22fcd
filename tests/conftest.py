"""Shared test fixtures and helpers.

``torch`` is the PyTorch oracle: on a user's machine without PyTorch the tests
that need it are skipped, but under CI (``CI`` set in the environment) a missing
PyTorch is an error, so the comparisons can never be skipped silently there.
``sklearn`` (scikit-learn, a reference for the regression objectives) likewise.
"""

import os

import numpy as np
import pytest

REQUIRE_TORCH = bool(os.environ.get("CI"))


def _import_torch():
    try:
        import torch
    except ImportError:
        if REQUIRE_TORCH:
            raise
        return None
    torch.set_num_threads(1)
    return torch


_TORCH = _import_torch()


@pytest.fixture(scope="session")
def torch():
    """The ``torch`` module (2.13 in CI); skips the test where it is not installed."""
    if _TORCH is None:
        pytest.skip("PyTorch is not installed (CI requires it)")
    return _TORCH


def _import_sklearn():
    try:
        import sklearn.metrics
    except ImportError:
        if REQUIRE_TORCH:  # CI installs the test extra, which has scikit-learn
            raise
        return None
    return sklearn


_SKLEARN = _import_sklearn()


@pytest.fixture(scope="session")
def sklearn():
    """The ``sklearn`` module (a reference for the regression objectives' values);
    skips the test where it is not installed, an error under CI (as ``torch``)."""
    if _SKLEARN is None:
        pytest.skip("scikit-learn is not installed (CI requires it)")
    return _SKLEARN


@pytest.fixture
def any_thread_count(monkeypatch):
    """Let ``set_num_threads`` take more threads than this machine has CPUs.

    ``set_num_threads`` refuses more threads than CPUs; the determinism tests ask for
    several thread counts on any machine (2 CPUs in CI) so that the work is split as
    on a larger one.  The thread count in force before the test is restored.
    """
    import numbaloss
    from numbaloss._core import parallel

    before = numbaloss.get_num_threads()
    monkeypatch.setattr(parallel, "available_cpus", lambda: 64)
    yield
    numbaloss.set_num_threads(before)


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


TOL = {
    np.dtype(np.float32): dict(rtol=2e-5, atol=2e-6),
    np.dtype(np.float64): dict(rtol=1e-11, atol=1e-13),
}


def assert_close(actual, expected, dtype, scale=1.0, **kwargs):
    """Compare with a dtype-appropriate tolerance (``scale`` loosens it)."""
    tol = dict(TOL[np.dtype(dtype)])
    tol = {k: v * scale for k, v in tol.items()}
    tol.update(kwargs)
    np.testing.assert_allclose(
        np.asarray(actual, dtype=np.float64),
        np.asarray(expected, dtype=np.float64),
        equal_nan=True,
        **tol,
    )


def layouts(arr):
    """The same values in other memory layouts: C, Fortran, negative strides, read-only, big-endian."""
    out = {"C": np.ascontiguousarray(arr)}
    if arr.ndim >= 2:
        out["F"] = np.asfortranarray(arr)
    rev = np.ascontiguousarray(arr[..., ::-1])[..., ::-1] if arr.ndim else arr.copy()
    out["negative_strides"] = rev
    ro = np.array(arr)
    ro.flags.writeable = False
    out["read_only"] = ro
    out["big_endian"] = np.asarray(arr, dtype=arr.dtype.newbyteorder(">"))
    return out


def central_difference(func, x, h=1e-6):
    """Gradient of the scalar ``func`` at float64 ``x`` by central differences."""
    x = np.array(x, dtype=np.float64)
    grad = np.empty_like(x)
    flat = x.reshape(-1)
    gflat = grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + h
        up = func(x)
        flat[i] = old - h
        down = func(x)
        flat[i] = old
        gflat[i] = (up - down) / (2 * h)
    return grad


def torch_loss_and_grad(torch, func, x, grad_output, *args, **kwargs):
    """``func(x_tensor, *args, **kwargs)``, and the gradient of sum(grad_output * loss)."""
    xt = torch.tensor(np.asarray(x), requires_grad=True)
    loss = func(xt, *args, **kwargs)
    g = torch.tensor(np.asarray(grad_output, dtype=np.asarray(x).dtype))
    (loss * g).sum().backward()
    return loss.detach().numpy(), xt.grad.numpy()


def compare_with_torch(
    torch, func, torch_func, args, grad_args, *, reduction, rng, kwargs=None, dtype=np.float64
):
    """``func(*args)`` against ``torch_func`` on the same arguments: the loss's shape and
    value, and the gradients (of ``sum(grad_output * loss)``, with a random upstream
    gradient) with respect to the arguments at the positions ``grad_args``, their
    shapes included.  NumPy arrays (and array options in ``kwargs``) become tensors;
    other values pass as they are.  Returns numbaloss's ``(loss, grads)``.
    """
    kwargs = dict(kwargs or {})
    tensors = [
        torch.tensor(a, requires_grad=k in grad_args) if isinstance(a, np.ndarray) else a
        for k, a in enumerate(args)
    ]
    topts = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
    ref = torch_func(*tensors, reduction=reduction, **topts)
    grad_output = rng.uniform(0.5, 1.5, tuple(ref.shape)).astype(dtype)
    ref.backward(torch.tensor(grad_output, dtype=ref.dtype))
    loss, grads = func(
        *args, reduction=reduction, **kwargs, return_grad=True, grad_output=grad_output
    )
    grads = grads if isinstance(grads, tuple) else (grads,)
    assert np.shape(loss) == tuple(ref.shape)
    assert_close(loss, ref.detach().numpy(), dtype)
    assert len(grads) == len(grad_args)
    for g, k in zip(grads, grad_args):
        want = tensors[k].grad.numpy()
        assert np.shape(g) == want.shape
        assert_close(g, want, dtype)
    return loss, grads
