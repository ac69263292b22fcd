"""CTC on device arrays (numba's CUDA simulator in CI) against the CPU path."""

import numpy as np
import pytest

import numbaloss as nl
from numbaloss._core.devices import is_device_array

T, N, C, S = 5, 3, 4, 2


def _log_softmax(z):
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def _case(dtype, seed=0):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((T, N, C)).astype(dtype)
    targets = np.array([[1, 2], [3, 3], [2, 0]], dtype=np.int64)
    input_lengths = np.array([5, 4, 3], dtype=np.int64)
    target_lengths = np.array([2, 2, 1], dtype=np.int64)
    return z, targets, input_lengths, target_lengths


def _close(dev, host, dtype):
    got = dev.copy_to_host() if hasattr(dev, "copy_to_host") else np.asarray(dev)
    tol = 1e-5 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(got, host, rtol=tol, atol=tol)
    assert got.dtype == np.asarray(host).dtype


FUNCS = [
    ("ctc_loss", True),
    ("ctc_loss_from_logits", False),
]


@pytest.mark.parametrize("name, normalize", FUNCS)
@pytest.mark.parametrize(
    "dtype, reduction",
    [
        (np.float32, "mean"),
        (np.float64, "sum"),
        (np.float64, "none"),
        (np.float32, "none"),
        (np.float64, "mean"),
    ],
)
def test_matches_cpu(cuda, name, normalize, dtype, reduction):
    z, tg, il, tl = _case(dtype)
    # blank 0 used as a label in sample 2: use blank=0 and labels != 0
    tg = np.where(tg == 0, 1, tg)
    x = _log_softmax(z).astype(dtype) if normalize else z
    f = getattr(nl, name)
    loss, grad = f(x, tg, il, tl, reduction=reduction, return_grad=True)
    dloss, dgrad = f(
        cuda.to_device(x), cuda.to_device(tg), il, tl, reduction=reduction, return_grad=True
    )
    assert is_device_array(dloss) and is_device_array(dgrad)
    assert dloss.shape == np.shape(loss)
    _close(dloss, loss, dtype)
    _close(dgrad, grad, dtype)
    value = f(cuda.to_device(x), tg, il, tl, reduction=reduction)
    _close(value, loss, dtype)


def test_concatenated_blank_grad_output_zero_infinity(cuda):
    z, tg, il, tl = _case(np.float64, 1)
    x = _log_softmax(z)
    flat = np.array([1, 2, 3, 3, 2])
    il = np.array([5, 2, 0])  # sample 1 impossible (repeat needs 3 frames), sample 2 T=0
    tl = np.array([2, 2, 1])
    g = np.array([0.5, 2.0, -1.0])
    for zi in (False, True):
        loss, grad = nl.ctc_loss(
            x,
            flat,
            il,
            tl,
            blank=0,
            reduction="none",
            zero_infinity=zi,
            return_grad=True,
            grad_output=g,
        )
        dloss, dgrad = nl.ctc_loss(
            cuda.to_device(x),
            cuda.to_device(flat),
            il,
            tl,
            reduction="none",
            zero_infinity=zi,
            return_grad=True,
            grad_output=cuda.to_device(g),
        )
        _close(dloss, loss, np.float64)
        _close(dgrad, grad, np.float64)
    # blank other than 0, empty target, reduced grad_output on the device
    tg2 = np.array([[0, 1], [2, 2], [1, 0]])
    tl2 = np.array([2, 0, 1])
    loss, grad = nl.ctc_loss_from_logits(z, tg2, 5, tl2, blank=3, return_grad=True, grad_output=1.5)
    dloss, dgrad = nl.ctc_loss_from_logits(
        cuda.to_device(z),
        cuda.to_device(tg2),
        5,
        tl2,
        blank=3,
        return_grad=True,
        grad_output=cuda.to_device(np.array([1.5])),
    )
    _close(dloss, loss, np.float64)
    _close(dgrad, grad, np.float64)


def test_unbatched_strided_grad_out_in_place(cuda):
    z, tg, il, tl = _case(np.float64, 2)
    tg = np.where(tg == 0, 1, tg)
    # unbatched
    x1 = _log_softmax(z[:, 0])
    loss, grad = nl.ctc_loss(x1, tg[0], 5, 2, reduction="sum", return_grad=True)
    dloss, dgrad = nl.ctc_loss(
        cuda.to_device(x1), cuda.to_device(tg[0]), 5, 2, reduction="sum", return_grad=True
    )
    assert dloss.shape == ()
    _close(dloss, loss, np.float64)
    _close(dgrad, grad, np.float64)
    # Fortran-order input, gradient written in place into it
    xf = np.asfortranarray(z)
    loss, grad = nl.ctc_loss_from_logits(xf, tg, il, tl, return_grad=True)
    dx = cuda.to_device(xf)
    dloss, dgrad = nl.ctc_loss_from_logits(dx, tg, il, tl, return_grad=True, grad_out=dx)
    _close(dloss, loss, np.float64)
    _close(dx, grad, np.float64)


def test_empty_batch(cuda):
    x = np.zeros((3, 0, 4))
    for red in ("mean", "sum", "none"):
        loss = nl.ctc_loss(
            x,
            np.zeros((0, 2), np.int64),
            np.zeros(0, np.int64),
            np.zeros(0, np.int64),
            reduction=red,
        )
        d = nl.ctc_loss(
            cuda.to_device(x),
            np.zeros((0, 2), np.int64),
            np.zeros(0, np.int64),
            np.zeros(0, np.int64),
            reduction=red,
        )
        np.testing.assert_array_equal(d.copy_to_host(), loss)


def test_bad_input(cuda):
    z, tg, il, tl = _case(np.float64)
    dz = cuda.to_device(z)
    with pytest.raises(TypeError, match="log_probs is on the host"):
        nl.ctc_loss(z, cuda.to_device(tg), il, tl)
    for f in (nl.ctc_loss, nl.ctc_loss_from_logits):
        bad = tg.copy()
        bad[1, 0] = 7
        with pytest.raises(ValueError, match="label 7 of sample 1 is outside"):
            f(dz, bad, il, tl, blank=3)
        blank_label = tg.copy()
        blank_label[2, 0] = 0
        with pytest.raises(ValueError, match="label 0 of sample 2 is equal to blank"):
            f(dz, cuda.to_device(blank_label), il, tl)
        with pytest.raises(ValueError, match="input_lengths must be at most"):
            f(dz, tg, il + 3, tl, blank=3)


def test_float16_host_grad_output_in_place_log_probs(cuda):
    z, tg, il, tl = _case(np.float64, 3)
    tg = np.where(tg == 0, 1, tg)
    x = _log_softmax(z).astype(np.float16)
    g = np.array([1.0, -0.5, 2.0])
    loss, grad = nl.ctc_loss(x, tg, il, tl, reduction="none", return_grad=True, grad_output=g)
    dx = cuda.to_device(x)
    dloss, dgrad = nl.ctc_loss(
        dx, tg, il, tl, reduction="none", return_grad=True, grad_output=g, grad_out=dx
    )
    got_loss, got_grad = dloss.copy_to_host(), dx.copy_to_host()
    assert got_loss.dtype == np.float16 and got_grad.dtype == np.float16
    np.testing.assert_allclose(got_loss, loss, rtol=1e-3)
    np.testing.assert_allclose(got_grad, grad, rtol=1e-3, atol=1e-3)
