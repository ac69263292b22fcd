"""Property tests of the CTC loss against the NumPy reference: lengths, repeats, blanks."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import numbaloss as nl
from numbaloss.testing.ctc import ctc_batch, log_softmax, through_log_softmax
from tests.conftest import assert_close


@st.composite
def ctc_problems(draw):
    """A small batch: log_probs (some extreme, some -inf), padded targets with repeats."""
    n_classes = draw(st.integers(2, 5))
    n_frames = draw(st.integers(0, 9))
    n_samples = draw(st.integers(1, 3))
    blank = draw(st.integers(0, n_classes - 1))
    others = [c for c in range(n_classes) if c != blank]
    width = draw(st.integers(0, 5))
    # Few distinct labels, so that repeats (adjacent or not) are common.
    labels = draw(
        st.lists(
            st.lists(st.sampled_from(others[:2]), min_size=width, max_size=width),
            min_size=n_samples,
            max_size=n_samples,
        )
    )
    targets = np.array(labels, dtype=np.int64).reshape(n_samples, width)
    target_lengths = np.array([draw(st.integers(0, width)) for _ in range(n_samples)])
    input_lengths = np.array([draw(st.integers(0, n_frames)) for _ in range(n_samples)])
    scale = draw(st.sampled_from([1.0, 30.0, 400.0]))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    logits = rng.standard_normal((n_frames, n_samples, n_classes)) * scale
    log_probs = log_softmax(logits) if n_classes else logits
    if draw(st.booleans()):
        log_probs[rng.random(log_probs.shape) < 0.15] = -np.inf
    return log_probs, targets, input_lengths, target_lengths, blank, logits


def _labels(targets, target_lengths):
    return [targets[n, :k] for n, k in enumerate(target_lengths)]


def _check_against_reference(loss, grad, ref_loss, ref_grad, input_lengths):
    finite = np.isfinite(ref_loss)
    np.testing.assert_array_equal(np.isinf(loss), ~finite)
    assert_close(loss[finite], ref_loss[finite], np.float64, scale=100)
    assert_close(grad[:, finite], ref_grad[:, finite], np.float64, scale=100, atol=1e-12)
    for n in np.flatnonzero(~finite):
        assert np.isnan(grad[: input_lengths[n], n]).all()
        assert (grad[input_lengths[n] :, n] == 0).all()


@settings(max_examples=25, deadline=None)
@given(ctc_problems())
def test_ctc_loss_matches_reference(problem):
    log_probs, targets, il, tl, blank, _ = problem
    ref_loss, ref_grad = ctc_batch(log_probs, _labels(targets, tl), il, blank)
    loss, grad = nl.ctc_loss(
        log_probs, targets, il, tl, blank=blank, reduction="none", return_grad=True
    )
    _check_against_reference(loss, grad, ref_loss, ref_grad, il)
    zeroed, zgrad = nl.ctc_loss(
        log_probs,
        targets,
        il,
        tl,
        blank=blank,
        reduction="none",
        zero_infinity=True,
        return_grad=True,
    )
    np.testing.assert_array_equal(zeroed, np.where(np.isfinite(ref_loss), loss, 0.0))
    assert not np.isnan(zgrad).any()


@settings(max_examples=25, deadline=None)
@given(ctc_problems())
def test_from_logits_matches_reference(problem):
    _, targets, il, tl, blank, logits = problem
    log_probs = log_softmax(logits)
    ref_loss, ref_grad = ctc_batch(log_probs, _labels(targets, tl), il, blank)
    pushed = through_log_softmax(ref_grad, log_probs)
    for n, length in enumerate(il):
        pushed[length:, n] = 0.0
    loss, grad = nl.ctc_loss_from_logits(
        logits, targets, il, tl, blank=blank, reduction="none", return_grad=True
    )
    _check_against_reference(loss, grad, ref_loss, pushed, il)
