"""CTC loss: against PyTorch 2.13, a NumPy reference, finite differences, and bad input."""

import numpy as np
import pytest

import numbaloss as nl
from numbaloss.ctc import cpu
from numbaloss.testing.ctc import ctc_batch, ctc_value, log_softmax, through_log_softmax
from tests.conftest import assert_close, layouts

REDUCTIONS = ["none", "mean", "sum"]


def random_labels(rng, size, n_classes, blank):
    """Labels in [0, C) other than ``blank``."""
    labels = rng.integers(0, n_classes - 1, size)
    return labels + (labels >= blank)


def make_batch(rng, T=12, N=5, C=6, S=4, blank=0, dtype=np.float64, impossible=False):
    """log_probs (T, N, C), padded targets (N, S), lengths, and the per-sample labels.

    Sample 0 uses every frame and the longest target; with ``impossible`` the
    last sample gets a target that needs more frames than it has.
    """
    logits = rng.standard_normal((T, N, C)) * 2
    log_probs = log_softmax(logits).astype(dtype)
    input_lengths = rng.integers(S * 2 + 1, T + 1, N)
    input_lengths[0] = T
    target_lengths = rng.integers(0, S + 1, N)
    target_lengths[0] = S
    targets = random_labels(rng, (N, S), C, blank)
    if impossible:
        targets[-1, :] = targets[-1, 0]  # S equal labels need 2S - 1 frames
        target_lengths[-1] = S
        input_lengths[-1] = S
    labels = [targets[n, : target_lengths[n]] for n in range(N)]
    return log_probs, targets, input_lengths, target_lengths, labels


def concatenated(targets, target_lengths):
    return np.concatenate([targets[n, :k] for n, k in enumerate(target_lengths)])


def torch_ctc(
    torch, x, targets, input_lengths, target_lengths, grad_output, *, from_logits=False, **options
):
    """PyTorch's loss and the autograd gradient w.r.t. ``x`` (log_probs, or logits)."""
    xt = torch.tensor(x, requires_grad=True)
    lp = torch.log_softmax(xt, -1) if from_logits else xt
    loss = torch.nn.functional.ctc_loss(
        lp,
        torch.tensor(targets),
        torch.tensor(input_lengths),
        torch.tensor(target_lengths),
        **options,
    )
    (loss * torch.tensor(grad_output, dtype=loss.dtype)).sum().backward()
    return loss.detach().numpy(), xt.grad.numpy()


def reduce_reference(losses, target_lengths, reduction):
    if reduction == "none":
        return losses
    if reduction == "sum":
        return losses.sum()
    return (losses / np.maximum(target_lengths, 1)).mean()


# --- PyTorch -----------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("zero_infinity", [False, True])
@pytest.mark.parametrize("layout", ["padded", "concatenated"])
def test_matches_torch(torch, rng, dtype, reduction, zero_infinity, layout):
    lp, targets, il, tl, _ = make_batch(rng, blank=2, dtype=dtype, impossible=True)
    if layout == "concatenated":
        targets = concatenated(targets, tl)
    n = lp.shape[1]
    g = rng.uniform(0.5, 2.0, n) if reduction == "none" else np.float64(1.7)
    options = dict(blank=2, reduction=reduction, zero_infinity=zero_infinity)
    loss, grad = nl.ctc_loss(lp, targets, il, tl, **options, return_grad=True, grad_output=g)
    ref_loss, ref_grad = torch_ctc(torch, lp, targets, il, tl, g, **options)
    assert loss.dtype == dtype and grad.dtype == dtype and grad.shape == lp.shape
    assert np.isscalar(loss) == (reduction != "none")
    scale = 10 if dtype == np.float32 else 100
    assert_close(loss, ref_loss, dtype, scale=scale)
    # PyTorch's gradient is ours pushed through a log_softmax.
    pushed = through_log_softmax(grad.astype(np.float64), lp.astype(np.float64))
    assert_close(pushed, ref_grad, dtype, scale=scale)
    if not zero_infinity:
        assert np.isnan(grad[: il[-1], -1]).all()
        assert not np.isnan(np.delete(grad, -1, axis=1)).any()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_from_logits_matches_torch_autograd(torch, rng, dtype, reduction):
    T, N, C = 10, 4, 7
    logits = (rng.standard_normal((T, N, C)) * 3).astype(dtype)
    _, targets, il, tl, _ = make_batch(rng, T=T, N=N, C=C, S=3)
    g = rng.uniform(0.5, 2.0, N) if reduction == "none" else np.float64(0.7)
    loss, grad = nl.ctc_loss_from_logits(
        logits, targets, il, tl, reduction=reduction, return_grad=True, grad_output=g
    )
    ref_loss, ref_grad = torch_ctc(
        torch, logits, targets, il, tl, g, from_logits=True, reduction=reduction
    )
    assert loss.dtype == dtype and grad.dtype == dtype
    assert_close(loss, ref_loss, dtype, scale=10)
    assert_close(grad, ref_grad, dtype, scale=10)
    same = nl.ctc_loss(log_softmax(logits), targets, il, tl, reduction=reduction)
    assert_close(loss, same, dtype, scale=10)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_unbatched_matches_torch(torch, rng, reduction):
    lp, targets, _, _, _ = make_batch(rng, N=1)
    lp2, target = lp[:, 0], targets[0, :3]
    loss, grad = nl.ctc_loss(
        lp2, target, lp2.shape[0], 3, reduction=reduction, return_grad=True, grad_output=0.5
    )
    ref_loss, ref_grad = torch_ctc(torch, lp2, target, lp2.shape[0], 3, 0.5, reduction=reduction)
    assert grad.shape == lp2.shape
    if reduction == "none":
        assert isinstance(loss, np.ndarray) and loss.shape == ()
    assert_close(loss, ref_loss, np.float64)
    assert_close(through_log_softmax(grad, lp2), ref_grad, np.float64)
    # Lengths as 1-element sequences, targets padded (1, S).
    assert_close(
        nl.ctc_loss(lp2, targets[:1], [lp2.shape[0]], (3,), reduction=reduction), loss, np.float64
    )
    with pytest.raises(ValueError, match="sum"):
        nl.ctc_loss(lp2, targets[0], lp2.shape[0], 3)


def test_input_length_zero_and_empty_target(torch, rng):
    lp, targets, _, _, _ = make_batch(rng, N=3, T=9)
    il = np.array([0, 0, 9])
    tl = np.array([0, 2, 0])
    g = np.array([1.0, 1.0, 1.0])
    loss, grad = nl.ctc_loss(lp, targets, il, tl, reduction="none", return_grad=True)
    ref_loss, ref_grad = torch_ctc(torch, lp, targets, il, tl, g, reduction="none")
    np.testing.assert_array_equal(loss[:2], [0.0, np.inf])
    assert_close(loss, ref_loss, np.float64)
    assert (grad[:, :2] == 0).all()
    assert_close(through_log_softmax(grad, lp)[:, 2], ref_grad[:, 2], np.float64)


# --- NumPy reference and finite differences -----------------------------------------------


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_matches_numpy_reference(rng, reduction):
    lp, targets, il, tl, labels = make_batch(rng, T=15, N=4, C=5, S=5, blank=4)
    losses, ref_grad = ctc_batch(lp, labels, il, blank=4)
    loss, grad = nl.ctc_loss(lp, targets, il, tl, blank=4, reduction=reduction, return_grad=True)
    assert_close(loss, reduce_reference(losses, tl, reduction), np.float64)
    weights = {"none": np.ones(4), "sum": np.ones(4), "mean": 1 / (4 * np.maximum(tl, 1))}
    assert_close(grad, ref_grad * weights[reduction][:, None], np.float64)


def central_differences(func, x, h=1e-6):
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        up = x.copy()
        down = x.copy()
        up[i] += h
        down[i] -= h
        grad[i] = (func(up) - func(down)) / (2 * h)
    return grad


@pytest.mark.parametrize("from_logits", [False, True])
def test_gradient_matches_finite_differences(rng, from_logits):
    T, N, C = 7, 2, 4
    # Not normalized: the gradient is the derivative of the function as computed.
    x = rng.standard_normal((T, N, C)) - 1.0
    targets = np.array([[1, 1, 2], [3, 2, 0]])  # a repeat, and a shorter target
    il = np.array([7, 6])
    tl = np.array([3, 2])
    func = nl.ctc_loss_from_logits if from_logits else nl.ctc_loss
    g = np.array([1.3, -0.4])

    def value(arr):
        return float(np.dot(g, func(arr, targets, il, tl, reduction="none")))

    _, grad = func(x, targets, il, tl, reduction="none", return_grad=True, grad_output=g)
    assert_close(grad, central_differences(value, x), np.float64, rtol=1e-6, atol=1e-8)
    assert (grad[6:, 1] == 0).all()


# --- impossible alignments, zero_infinity -------------------------------------------------


@pytest.mark.parametrize("from_logits", [False, True])
def test_impossible_alignment(rng, from_logits):
    x = rng.standard_normal((3, 2, 4))
    targets = np.array([[1, 1], [1, 2]])  # "1 1" needs 3 frames, here only 2
    il = np.array([2, 3])
    tl = np.array([2, 2])
    func = nl.ctc_loss_from_logits if from_logits else nl.ctc_loss
    loss, grad = func(x, targets, il, tl, reduction="none", return_grad=True)
    assert loss[0] == np.inf and np.isfinite(loss[1])
    assert np.isnan(grad[:2, 0]).all() and (grad[2:, 0] == 0).all()
    loss, grad = func(x, targets, il, tl, reduction="none", zero_infinity=True, return_grad=True)
    assert loss[0] == 0 and np.isfinite(loss[1])
    assert (grad[:, 0] == 0).all() and np.isfinite(grad).all()
    assert func(x, targets, il, tl, reduction="sum") == np.inf


# --- long sequences -----------------------------------------------------------------------


def peaked_batch(rng, T, S, C, dtype):
    """One sample whose log-probabilities favour a random alignment of its target."""
    labels = random_labels(rng, S, C, 0)
    logits = rng.standard_normal((T, C))
    frames = np.sort(rng.choice(T, S, replace=False))
    logits[frames, labels] += 4.0
    return log_softmax(logits).astype(dtype)[:, None, :], labels


def test_long_sequence_matches_float64_reference(rng):
    T, S, C = 3000, 900, 40
    lp, labels = peaked_batch(rng, T, S, C, np.float64)
    ref_losses, ref_grad = ctc_batch(lp, [labels], [T])
    loss, grad = nl.ctc_loss(lp, labels[None], [T], [S], reduction="sum", return_grad=True)
    assert np.isfinite(ref_losses[0])
    assert_close(loss, ref_losses[0], np.float64, scale=100)
    assert_close(grad, ref_grad, np.float64, scale=100, atol=1e-10)
    # float32 input: alpha and beta still run in float64.
    loss32, grad32 = nl.ctc_loss(
        lp.astype(np.float32), labels[None], [T], [S], reduction="sum", return_grad=True
    )
    assert_close(loss32, ref_losses[0], np.float32, rtol=1e-6)
    assert_close(grad32, ref_grad, np.float32, atol=2e-5, rtol=1e-4)


def test_several_thousand_labels(rng):
    T, S, C = 5000, 4000, 50
    lp, labels = peaked_batch(rng, T, S, C, np.float64)
    loss = nl.ctc_loss(lp, labels, [T], [S], reduction="sum")  # concatenated targets
    assert_close(loss, ctc_value(lp[:, 0], labels), np.float64, scale=100)
    # With the gradient (the whole alpha table of the sample): each frame holds one unit
    # of occupancy, so the rows sum to -1.
    loss, grad = nl.ctc_loss(
        lp[:4200], labels[None, :3500], [4200], [3500], reduction="sum", return_grad=True
    )
    assert_close(loss, ctc_value(lp[:4200, 0], labels[:3500]), np.float64, scale=100)
    np.testing.assert_allclose(grad[:, 0].sum(axis=-1), -1.0, rtol=1e-9)


def test_large_spread_uses_exact_path(rng):
    """Log-probabilities far apart (hundreds of nats) along the label axis."""
    T, N, C, S = 80, 3, 5, 30
    lp = -rng.exponential(200.0, (T, N, C))
    targets = random_labels(rng, (N, S), C, 0)
    il = np.full(N, T)
    tl = np.full(N, S)
    labels = [targets[n] for n in range(N)]
    ref_losses, ref_grad = ctc_batch(lp, labels, il)
    losses, grad = nl.ctc_loss(lp, targets, il, tl, reduction="none", return_grad=True)
    assert_close(losses, ref_losses, np.float64)
    assert_close(grad, ref_grad, np.float64, atol=1e-12)


# --- arguments ----------------------------------------------------------------------------


def test_layouts_dtypes_and_lengths(rng):
    lp, targets, il, tl, _ = make_batch(rng)
    expected, expected_grad = nl.ctc_loss(lp, targets, il, tl, return_grad=True)
    for name, arr in layouts(lp).items():
        loss, grad = nl.ctc_loss(arr, targets, il, tl, return_grad=True)
        assert_close(loss, expected, np.float64, err_msg=name)
        assert_close(grad, expected_grad, np.float64, err_msg=name)
    for t_layout in layouts(targets.astype(np.int32)).values():
        assert_close(nl.ctc_loss(lp, t_layout, list(il), tuple(tl)), expected, np.float64)
    loss16, grad16 = nl.ctc_loss(lp.astype(np.float16), targets, il, tl, return_grad=True)
    assert loss16.dtype == np.float16 and grad16.dtype == np.float16
    # Integer log_probs promote to float64; an int length applies to every sample.
    assert nl.ctc_loss(np.zeros((4, 2, 3), dtype=np.int64), [[1], [2]], 4, 1).dtype == np.float64


def test_grad_out_in_place(rng):
    for func in (nl.ctc_loss, nl.ctc_loss_from_logits):
        x, targets, il, tl, _ = make_batch(rng)
        loss, expected = func(x, targets, il, tl, return_grad=True)
        work = x.copy()
        loss2, grad = func(work, targets, il, tl, return_grad=True, grad_out=work)
        assert grad is work
        assert_close(loss2, loss, np.float64)
        assert_close(work, expected, np.float64)
        out = np.empty(x.shape, order="F")
        _, grad = func(x, targets, il, tl, return_grad=True, grad_out=out)
        assert grad is out
        assert_close(out, expected, np.float64)
    with pytest.raises(ValueError, match="shape"):
        nl.ctc_loss(x, targets, il, tl, return_grad=True, grad_out=np.empty((1, 2, 3)))


def test_empty_batch():
    lp = np.zeros((5, 0, 4))
    targets = np.zeros((0, 3), dtype=np.int64)
    assert nl.ctc_loss(lp, targets, [], [], reduction="sum") == 0
    assert np.isnan(nl.ctc_loss(lp, targets, [], [], reduction="mean"))
    loss, grad = nl.ctc_loss(lp, targets, [], [], reduction="none", return_grad=True)
    assert loss.shape == (0,) and grad.shape == lp.shape
    # No frames at all: an empty target has loss 0, any other inf.
    loss, grad = nl.ctc_loss_from_logits(
        np.zeros((0, 2, 3)), [[1], [2]], 0, [0, 1], reduction="none", return_grad=True
    )
    np.testing.assert_array_equal(loss, [0.0, np.inf])
    assert grad.shape == (0, 2, 3)


def test_nan_propagates(rng):
    lp, targets, il, tl, _ = make_batch(rng)
    lp[3, 0, 0] = np.nan
    loss, grad = nl.ctc_loss(lp, targets, il, tl, reduction="none", return_grad=True)
    assert np.isnan(loss[0]) and np.isfinite(loss[1:]).all()
    assert np.isnan(grad[:, 0]).any() and np.isfinite(grad[:, 1:]).all()


def test_ctc_loss_class(rng):
    lp, targets, il, tl, _ = make_batch(rng, blank=1)
    module = nl.CTCLoss(blank=1, reduction="sum", zero_infinity=True)
    loss, grad = module(lp, targets, il, tl, return_grad=True)
    ref_loss, ref_grad = nl.ctc_loss(
        lp, targets, il, tl, blank=1, reduction="sum", zero_infinity=True, return_grad=True
    )
    assert loss == ref_loss and np.array_equal(grad, ref_grad)
    assert "CTCLoss(blank=1" in repr(module)


def test_deterministic_across_threads(rng, any_thread_count):
    lp, targets, il, tl, _ = make_batch(rng, T=200, N=24, C=30, S=40)
    work = 200 * (2 * 40 + 1 + 30) * 24
    assert work > 65536
    before = nl.get_num_threads()
    try:
        nl.set_num_threads(1)
        one = nl.ctc_loss(lp, targets, il, tl, return_grad=True)
        nl.set_num_threads(3)
        three = nl.ctc_loss(lp, targets, il, tl, return_grad=True)
    finally:
        nl.set_num_threads(before)
    assert one[0] == three[0] and np.array_equal(one[1], three[1])


# --- bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize("func", [nl.ctc_loss, nl.ctc_loss_from_logits])
def test_bad_input(rng, func):
    lp, targets, il, tl, _ = make_batch(rng, T=10, N=3, C=5, S=3, blank=0)
    T = lp.shape[0]
    bad = [
        (dict(input_lengths=[T, -1, T]), "input_lengths must be non-negative, got -1"),
        (dict(target_lengths=[1, -2, 1]), "target_lengths must be non-negative, got -2"),
        (dict(input_lengths=[T + 1, T, T]), f"at most T = {T}, got {T + 1}"),
        (dict(target_lengths=[4, 1, 1]), "at most the padded targets' length S = 3, got 4"),
        (
            dict(targets=np.array([[1, 2, 0], [1, 2, 3], [1, 1, 1]]), target_lengths=[3, 1, 1]),
            "label 0 of sample 0 is equal to blank",
        ),
        (
            dict(targets=np.array([[1, 2, 3], [5, 2, 3], [1, 1, 1]])),
            r"label 5 of sample 1 is outside \[0, C\) = \[0, 5\)",
        ),
        (dict(targets=np.array([[1, 2, 3], [1, 2, 3], [-1, 1, 1]])), "label -1 of sample 2"),
        (
            dict(targets=np.array([1, 2, 3]), target_lengths=[1, 1, 2]),
            "sum\\(target_lengths\\) = 4 entries, got 3",
        ),
        (dict(blank=5), r"blank must be in \[0, C\) = \[0, 5\), got 5"),
        (dict(blank=-1), "blank must be in"),
        (dict(input_lengths=[T, T]), r"input_lengths must be a scalar or shape \(3,\)"),
        (dict(targets=np.ones((2, 3), dtype=int)), r"shape \(N, S\) with N = 3"),
        (dict(targets=np.ones((3, 3, 1), dtype=int)), "padded"),
        (dict(reduction="batchmean"), "reduction must be one of"),
    ]
    base = dict(targets=targets, input_lengths=il, target_lengths=tl)
    for change, message in bad:
        args = {**base, **change}
        with pytest.raises(ValueError, match=message):
            func(
                lp,
                args.pop("targets"),
                args.pop("input_lengths"),
                args.pop("target_lengths"),
                **args,
                return_grad=True,
            )
    with pytest.raises(ValueError, match=r"\(T, N, C\) or unbatched \(T, C\)"):
        func(lp[0, 0], targets, il, tl)
    with pytest.raises(TypeError, match="targets must hold integers"):
        func(lp, targets.astype(float), il, tl)
    with pytest.raises(TypeError, match="input_lengths must hold integers"):
        func(lp, targets, il.astype(float), tl)
    with pytest.raises(TypeError):
        func(lp.astype(complex), targets, il, tl)


def test_kernel_reports_first_bad_label():
    labels = np.array([1, 2, 7, 0], dtype=np.int64)
    assert cpu._labels_ok(labels, 0, 4, 5, 0) == 2
    assert cpu._labels_ok(labels, 0, 2, 5, 0) == -1


def test_transition_fast_path_agrees_with_exact_path(rng):
    """The block-shifted transition (1 exp + 1 log per cell) against the per-cell shift.

    Spreads of 0.1 to 5000 nats along the row exercise the fast path, the exact
    fallback of blocks with cells far below the block's maximum, and -inf inputs.
    """
    size = cpu.PAD + 301
    skip = np.where(rng.random(size) < 0.5, 0.0, -np.inf)
    post = rng.standard_normal(size)
    scratch = np.empty(cpu._SHIFT_BLOCK + 2)
    for spread in [0.1, 10.0, 700.0, 5000.0]:
        src = -rng.exponential(spread, size)
        src[rng.random(size) < 0.1] = -np.inf
        src[: cpu.PAD] = -np.inf
        exact = np.full(size, np.nan)
        cpu._transition_exact(src, exact, skip, post, cpu.PAD, size)
        for precision in (np.float64(0), np.float32(0)):
            fast = np.full(size, np.nan)
            cpu._transition(src, fast, skip, post, cpu.PAD, size, scratch, precision)
            # float32 inputs: exp/log increments to ~1e-8, sums in float64.
            tol = {} if precision.dtype == np.float64 else dict(rtol=1e-8, atol=5e-8)
            assert_close(fast, exact, np.float64, err_msg=f"spread {spread}", **tol)


def test_grad_output_forms(rng):
    lp, targets, il, tl, _ = make_batch(rng)
    n = lp.shape[1]
    _, unit = nl.ctc_loss(lp, targets, il, tl, reduction="none", return_grad=True)
    _, scaled = nl.ctc_loss(
        lp, targets, il, tl, reduction="none", return_grad=True, grad_output=2.5
    )
    assert_close(scaled, 2.5 * unit, np.float64)
    g = np.arange(1.0, n + 1)
    _, per_sample = nl.ctc_loss(
        lp, targets, il, tl, reduction="none", return_grad=True, grad_output=g
    )
    assert_close(per_sample, unit * g[:, None], np.float64)
    _, summed = nl.ctc_loss(
        lp, targets, il, tl, reduction="sum", return_grad=True, grad_output=np.array(-0.5)
    )
    assert_close(summed, -0.5 * unit, np.float64)
    with pytest.raises(ValueError, match="grad_output"):
        nl.ctc_loss(
            lp, targets, il, tl, reduction="none", return_grad=True, grad_output=np.ones(n + 1)
        )
    with pytest.raises(ValueError, match="grad_output"):
        nl.ctc_loss(lp, targets, il, tl, reduction="mean", return_grad=True, grad_output=np.ones(2))


def test_concurrent_calls_from_python_threads(rng):
    from concurrent.futures import ThreadPoolExecutor

    lp, targets, il, tl, _ = make_batch(rng, T=60, N=8, C=10, S=12)
    expected = nl.ctc_loss(lp, targets, il, tl, return_grad=True)
    with ThreadPoolExecutor(4) as pool:
        results = list(
            pool.map(lambda _: nl.ctc_loss(lp, targets, il, tl, return_grad=True), range(8))
        )
    for loss, grad in results:
        assert loss == expected[0] and np.array_equal(grad, expected[1])


def test_a_batch_first_input_is_named_as_such(rng):
    """A (N, T, C) input, with its lengths: the error says that log_probs is (T, N, C)."""
    lp, targets, il, tl, _ = make_batch(rng, T=12, N=5, C=6, S=4)
    batch_first = np.ascontiguousarray(lp.transpose(1, 0, 2))  # (N, T, C)
    for func, pred in ((nl.ctc_loss, "log_probs"), (nl.ctc_loss_from_logits, "logits")):
        with pytest.raises(ValueError, match=rf"{pred} is \(T, N, C\), time first") as info:
            func(batch_first, targets, il, tl)
        assert "transpose(1, 0, 2)" in str(info.value)
    # scalar lengths: a length above the first axis but within the second points the way
    with pytest.raises(ValueError, match=r"at most T = 5, got 12.*\(T, N, C\), time first"):
        nl.ctc_loss(batch_first, targets[:1].repeat(12, axis=0), 12, 4)


def test_the_batch_first_hint_is_not_given_when_it_does_not_fit(rng):
    lp, targets, il, tl, _ = make_batch(rng, T=12, N=5, C=6, S=4)
    with pytest.raises(ValueError) as info:
        nl.ctc_loss(lp, targets, il[:3], tl)  # wrong length, not a transposed input
    assert "time first" not in str(info.value)
    with pytest.raises(ValueError) as info:
        nl.ctc_loss(lp, targets, np.full(5, 40), tl)  # too long for either reading
    assert "time first" not in str(info.value)
