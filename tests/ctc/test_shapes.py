"""The shapes PyTorch 2.13 documents for ``CTCLoss`` (its "Shape" section), each
against PyTorch; and undocumented ones, which both refuse.

``ctc_loss`` returns the gradient with respect to ``log_probs`` itself (PyTorch's is
the one with respect to the logits under a log_softmax, a difference listed in
``docs/migration.rst``), so the gradients are compared through
``ctc_loss_from_logits`` against PyTorch's autograd through ``log_softmax``; the
values of both functions against PyTorch's.
"""

import numpy as np
import pytest

import numbaloss as nl
from numbaloss.testing.ctc import log_softmax
from tests.conftest import assert_close, compare_with_torch

REDUCTIONS = ["none", "mean", "sum"]
T, N, C, S = 9, 3, 5, 3


def _case(rng, form):
    """``(logits, targets, input_lengths, target_lengths)`` of one documented form."""
    unbatched = form.startswith("unbatched")
    n = 1 if unbatched else N
    logits = rng.standard_normal((T, C) if unbatched else (T, n, C)) * 2
    tl = rng.integers(1, S + 1, n)
    il = rng.integers(2 * S + 1, T + 1, n)
    padded = rng.integers(1, C, (n, S))
    if form in ("padded", "tuples"):
        targets = padded
    elif form == "concatenated":
        targets = np.concatenate([padded[k, : tl[k]] for k in range(n)])
    elif form == "unbatched":  # (T, C), targets (target_length,), lengths ()
        targets, il, tl = padded[0, : tl[0]], il.reshape(()), tl.reshape(())
    elif form in ("unbatched_1", "unbatched_tuples"):  # lengths (1,)
        targets = padded[0, : tl[0]]
    if form.endswith("tuples"):
        il, tl = tuple(int(v) for v in il), tuple(int(v) for v in tl)
    return logits, targets, il, tl


#: Log_probs (T, N, C) or (T, C); targets (N, S) or (sum(target_lengths)) (a 1-D
#: target of an unbatched input is the latter); the lengths a tuple or a tensor of
#: size (N) or () (the latter for (T, C), which PyTorch also takes with (1,)).
CTC_FORMS = ["padded", "concatenated", "tuples", "unbatched", "unbatched_1", "unbatched_tuples"]


def _tensor_or_same(torch, v):
    return torch.tensor(v) if isinstance(v, np.ndarray) else v


@pytest.mark.parametrize("form", CTC_FORMS)
def test_documented_forms(torch, rng, form):
    logits, targets, il, tl = _case(rng, form)
    F = torch.nn.functional

    def torch_from_logits(x, *args, **kwargs):
        return F.ctc_loss(x.log_softmax(-1), *args, **kwargs)

    for reduction in REDUCTIONS:
        compare_with_torch(
            torch,
            nl.ctc_loss_from_logits,
            torch_from_logits,
            [logits, targets, il, tl],
            (0,),
            reduction=reduction,
            rng=rng,
        )
        lp = log_softmax(logits)
        want = F.ctc_loss(
            torch.tensor(lp), *(_tensor_or_same(torch, v) for v in (targets, il, tl)),
            reduction=reduction,
        )  # fmt: skip
        got = nl.ctc_loss(lp, targets, il, tl, reduction=reduction)
        assert np.shape(got) == tuple(want.shape)
        assert_close(got, want.numpy(), np.float64)


#: Undocumented shapes: numbaloss raises ``ValueError`` naming the argument.
CTC_REFUSED = [
    ("log_probs", lambda lp, tg, il, tl: (lp[None], tg, il, tl)),
    ("log_probs", lambda lp, tg, il, tl: (lp[0, 0], tg, il, tl)),
    ("targets", lambda lp, tg, il, tl: (lp, tg[:-1], il, tl)),
    ("targets", lambda lp, tg, il, tl: (lp, tg[None], il, tl)),
    ("input_lengths", lambda lp, tg, il, tl: (lp, tg, il[:-1], tl)),
    ("target_lengths", lambda lp, tg, il, tl: (lp, tg, il, np.append(tl, 1))),
]


@pytest.mark.parametrize(("name", "change"), CTC_REFUSED)
def test_refused(torch, rng, name, change):
    logits, targets, il, tl = _case(rng, "padded")
    args = change(log_softmax(logits), targets, il, tl)
    with pytest.raises(ValueError, match=name):
        nl.ctc_loss(*args)
    with pytest.raises((RuntimeError, ValueError, IndexError)):
        torch.nn.functional.ctc_loss(*(torch.tensor(a) for a in args))


def test_lengths_beyond_the_documented_forms(torch, rng):
    """Lengths of shape (N, 1): PyTorch takes them (undocumented), numbaloss refuses.
    A 0-d length with a batch: PyTorch refuses, numbaloss gives every sample that
    length (docs/migration.rst)."""
    logits, targets, il, tl = _case(rng, "padded")
    lp = log_softmax(logits)
    F = torch.nn.functional
    with pytest.raises(ValueError, match="input_lengths"):
        nl.ctc_loss(lp, targets, il[:, None], tl)
    got = F.ctc_loss(
        torch.tensor(lp), torch.tensor(targets), torch.tensor(il[:, None]), torch.tensor(tl),
        reduction="none",
    )  # fmt: skip
    assert tuple(got.shape) == (N,)
    with pytest.raises(RuntimeError, match="input_lengths must be of size batch_size"):
        F.ctc_loss(torch.tensor(lp), torch.tensor(targets), torch.tensor(T), torch.tensor(tl))
    same = nl.ctc_loss(lp, targets, np.array(T), tl, reduction="none")
    assert_close(same, nl.ctc_loss(lp, targets, np.full(N, T), tl, reduction="none"), np.float64)
