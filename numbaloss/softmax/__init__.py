"""The softmax family: losses over a class axis, and the stable softmax primitives."""

from .losses import (
    cross_entropy,
    focal_loss,
    log_softmax,
    logsumexp,
    nll_loss,
    softmax,
    zero_one_loss,
)

__all__ = [
    "cross_entropy",
    "focal_loss",
    "log_softmax",
    "logsumexp",
    "nll_loss",
    "softmax",
    "zero_one_loss",
]
