"""zero_one_loss: scores or labels against class indices."""

import numpy as np
import pytest

import numbaloss as nl


def test_zero_one_from_scores_and_labels():
    scores = np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7], [0.5, 0.5]], dtype=np.float32)
    target = np.array([1, 1, 1, 0])
    loss = nl.zero_one_loss(scores, target)
    assert loss.dtype == np.float32 and loss == np.float32(0.25)
    assert nl.zero_one_loss(scores, target, reduction="sum") == 1
    np.testing.assert_array_equal(nl.zero_one_loss(scores, target, reduction="none"), [0, 1, 0, 0])
    labels = np.array([1, 0, 1, 1])
    assert nl.zero_one_loss(labels, target) == 0.5
    assert nl.ZeroOneLoss(reduction="sum")(labels, target) == 2
    assert np.isnan(nl.zero_one_loss(np.zeros((0, 3)), np.zeros(0, int)))
    assert nl.zero_one_loss(np.zeros((0, 3)), np.zeros(0, int), reduction="sum") == 0


def test_zero_one_bad_inputs():
    with pytest.raises(ValueError, match="no gradient"):
        nl.zero_one_loss([[0.0, 1.0]], [1], return_grad=True)
    with pytest.raises(ValueError, match="target must have shape"):
        nl.zero_one_loss([[0.0, 1.0]], [1, 0])
    with pytest.raises(ValueError, match="scores"):
        nl.zero_one_loss(np.zeros((2, 2, 2)), [1, 0])
    with pytest.raises(ValueError, match="reduction"):
        nl.zero_one_loss([1, 0], [1, 0], reduction="mean_of")
