"""Generated from numbaloss._core.registry by ``python -m numbaloss._core.stubs``; do not edit."""

from typing import Any

class Loss:
    def __call__(self, *arrays: Any, return_grad: bool = False, grad_output: Any = None, grad_out: Any = None, return_hess: bool = False, hess_out: Any = None) -> Any: ...

__all__ = ['L1Loss', 'MSELoss', 'SmoothL1Loss', 'HuberLoss', 'SoftMarginLoss', 'BCELoss', 'BCEWithLogitsLoss', 'PoissonNLLLoss', 'GaussianNLLLoss', 'KLDivLoss', 'MarginRankingLoss', 'HingeEmbeddingLoss', 'SigmoidFocalLoss', 'PseudoHuberLoss', 'QuantileLoss', 'ExpectileLoss', 'LogCoshLoss', 'TweedieLoss', 'GammaLoss', 'SquaredLogErrorLoss', 'CTCLoss', 'CrossEntropyLoss', 'LinearCrossEntropyLoss', 'FocalLoss', 'NLLLoss', 'ZeroOneLoss', 'CosineEmbeddingLoss', 'MultiMarginLoss', 'MultiLabelMarginLoss', 'MultiLabelSoftMarginLoss', 'TripletMarginLoss', 'TripletMarginWithDistanceLoss']

class L1Loss(Loss):
    reduction: str
    def __init__(self, reduction='mean'): ...

class MSELoss(Loss):
    reduction: str
    def __init__(self, reduction='mean'): ...

class SmoothL1Loss(Loss):
    reduction: str
    beta: float
    def __init__(self, reduction='mean', beta=1.0): ...

class HuberLoss(Loss):
    reduction: str
    delta: float
    def __init__(self, reduction='mean', delta=1.0): ...

class SoftMarginLoss(Loss):
    reduction: str
    def __init__(self, reduction='mean'): ...

class BCELoss(Loss):
    weight: Any
    reduction: str
    def __init__(self, weight=None, reduction='mean'): ...

class BCEWithLogitsLoss(Loss):
    weight: Any
    reduction: str
    pos_weight: Any
    def __init__(self, weight=None, reduction='mean', pos_weight=None): ...

class PoissonNLLLoss(Loss):
    log_input: bool
    full: bool
    eps: float
    reduction: str
    def __init__(self, log_input=True, full=False, eps=1e-08, reduction='mean'): ...

class GaussianNLLLoss(Loss):
    full: bool
    eps: float
    reduction: str
    def __init__(self, *, full=False, eps=1e-06, reduction='mean'): ...

class KLDivLoss(Loss):
    reduction: str
    log_target: bool
    def __init__(self, reduction='mean', log_target=False): ...

class MarginRankingLoss(Loss):
    margin: float
    reduction: str
    def __init__(self, margin=0.0, reduction='mean'): ...

class HingeEmbeddingLoss(Loss):
    margin: float
    reduction: str
    def __init__(self, margin=1.0, reduction='mean'): ...

class SigmoidFocalLoss(Loss):
    alpha: float
    gamma: float
    reduction: str
    def __init__(self, alpha=0.25, gamma=2.0, reduction='none'): ...

class PseudoHuberLoss(Loss):
    delta: float
    reduction: str
    def __init__(self, delta=1.0, reduction='mean'): ...

class QuantileLoss(Loss):
    quantile: float
    reduction: str
    def __init__(self, quantile=0.5, reduction='mean'): ...

class ExpectileLoss(Loss):
    expectile: float
    reduction: str
    def __init__(self, expectile=0.5, reduction='mean'): ...

class LogCoshLoss(Loss):
    reduction: str
    def __init__(self, reduction='mean'): ...

class TweedieLoss(Loss):
    power: float
    log_input: bool
    full: bool
    reduction: str
    def __init__(self, power=1.5, log_input=True, full=False, reduction='mean'): ...

class GammaLoss(Loss):
    log_input: bool
    full: bool
    reduction: str
    def __init__(self, log_input=True, full=False, reduction='mean'): ...

class SquaredLogErrorLoss(Loss):
    reduction: str
    def __init__(self, reduction='mean'): ...

class CTCLoss(Loss):
    blank: int
    reduction: str
    zero_infinity: bool
    def __init__(self, blank=0, reduction='mean', zero_infinity=False): ...

class CrossEntropyLoss(Loss):
    weight: Any
    ignore_index: int
    reduction: str
    label_smoothing: float
    def __init__(self, weight=None, ignore_index=-100, reduction='mean', label_smoothing=0.0): ...

class LinearCrossEntropyLoss(Loss):
    weight: Any
    reduction: str
    ignore_index: Any
    label_smoothing: float
    chunk_size: Any
    def __init__(self, *, weight=None, reduction='mean', ignore_index=None, label_smoothing=0.0, chunk_size=None): ...
    def __call__(self, *arrays: Any, linear_bias: Any = None, return_grad: bool = False, grad_output: Any = None, grad_out: Any = None) -> Any: ...

class FocalLoss(Loss):
    gamma: float
    weight: Any
    ignore_index: int
    reduction: str
    def __init__(self, gamma=2.0, weight=None, ignore_index=-100, reduction='mean'): ...

class NLLLoss(Loss):
    weight: Any
    ignore_index: int
    reduction: str
    def __init__(self, weight=None, ignore_index=-100, reduction='mean'): ...

class ZeroOneLoss(Loss):
    reduction: str
    def __init__(self, reduction='mean'): ...

class CosineEmbeddingLoss(Loss):
    margin: float
    reduction: str
    def __init__(self, margin=0.0, reduction='mean'): ...

class MultiMarginLoss(Loss):
    p: int
    margin: float
    weight: Any
    reduction: str
    def __init__(self, p=1, margin=1.0, weight=None, reduction='mean'): ...

class MultiLabelMarginLoss(Loss):
    reduction: str
    def __init__(self, reduction='mean'): ...

class MultiLabelSoftMarginLoss(Loss):
    weight: Any
    reduction: str
    def __init__(self, weight=None, reduction='mean'): ...

class TripletMarginLoss(Loss):
    margin: float
    p: float
    eps: float
    swap: bool
    reduction: str
    def __init__(self, margin=1.0, p=2.0, eps=1e-06, swap=False, reduction='mean'): ...

class TripletMarginWithDistanceLoss(Loss):
    distance_function: Any
    margin: float
    swap: bool
    reduction: str
    distance_grad: Any
    def __init__(self, *, distance_function=None, margin=1.0, swap=False, reduction='mean', distance_grad=None): ...
