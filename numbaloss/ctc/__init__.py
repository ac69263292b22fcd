"""Sequence losses: Connectionist Temporal Classification."""

from .losses import ctc_loss, ctc_loss_from_logits

__all__ = ["ctc_loss", "ctc_loss_from_logits"]
