"""Loss classes named as in ``torch.nn``: built with the options, called with the arrays.

Each class stores its options (validated when called) and forwards to the
functional form, with the same ``return_grad``, ``grad_output`` and ``grad_out``
keywords::

    >>> import numbaloss as nl
    >>> loss_fn = nl.SmoothL1Loss(beta=0.5)
    >>> loss, grad = loss_fn([0.0, 2.0], [0.1, 0.0], return_grad=True)

Families register their classes with :func:`loss_class`, from one table.
"""

import inspect

from . import functional as F

__all__ = []


class Loss:
    """Base class: options in the constructor, arrays in the call."""

    _function = None
    _options = ()

    def __init__(self, *args, **kwargs):
        bound = self._signature.bind(*args, **kwargs)
        bound.apply_defaults()
        self.options = dict(bound.arguments)
        for key, value in self.options.items():
            setattr(self, key, value)

    def __call__(self, *arrays, return_grad=False, grad_output=None, grad_out=None):
        return type(self)._function(*arrays, **self.options, return_grad=return_grad,
                                    grad_output=grad_output, grad_out=grad_out)

    def __repr__(self):
        opts = ", ".join(f"{k}={v!r}" for k, v in self.options.items())
        return f"{type(self).__name__}({opts})"


def loss_class(name, function, options):
    """Make the ``torch.nn``-style class ``name`` for ``function``.

    ``options`` lists ``(parameter, default)`` in ``torch.nn``'s constructor order
    (without ``size_average``/``reduce``); a leading ``"*"`` entry makes the rest
    keyword-only, as in ``GaussianNLLLoss``.
    """
    params = []
    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    for entry in options:
        if entry == "*":
            kind = inspect.Parameter.KEYWORD_ONLY
            continue
        pname, default = entry
        params.append(inspect.Parameter(pname, kind, default=default))
    signature = inspect.Signature(params)
    doc = (
        f"Class form of :func:`numbaloss.{function.__name__}`.\n\n"
        f"``{name}{signature}`` stores the options; calling the instance with the arrays\n"
        f"returns ``{function.__name__}(*arrays, **options)``, and accepts ``return_grad``,\n"
        "``grad_output`` and ``grad_out`` as the function does.\n"
    )

    def __init__(self, *args, **kwargs):
        Loss.__init__(self, *args, **kwargs)

    # Each class needs its own __init__ to carry its own signature (with ``self``, as
    # torch.nn's), so that inspect.signature of the class and of its __init__ are right.
    self_param = inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)
    __init__.__signature__ = signature.replace(parameters=[self_param, *params])
    __init__.__qualname__ = f"{name}.__init__"
    cls = type(name, (Loss,), {
        "_function": staticmethod(function),
        "_signature": signature,
        "__init__": __init__,
        "__doc__": doc,
        "__module__": __name__,
    })
    globals()[name] = cls
    __all__.append(name)
    return cls


_R = ("reduction", "mean")

for _name, _func, _opts in [
    ("L1Loss", F.l1_loss, [_R]),
    ("MSELoss", F.mse_loss, [_R]),
    ("SmoothL1Loss", F.smooth_l1_loss, [_R, ("beta", 1.0)]),
    ("HuberLoss", F.huber_loss, [_R, ("delta", 1.0)]),
    ("SoftMarginLoss", F.soft_margin_loss, [_R]),
    ("BCELoss", F.binary_cross_entropy, [("weight", None), _R]),
    ("BCEWithLogitsLoss", F.binary_cross_entropy_with_logits,
     [("weight", None), _R, ("pos_weight", None)]),
    ("PoissonNLLLoss", F.poisson_nll_loss,
     [("log_input", True), ("full", False), ("eps", 1e-8), _R]),
    ("GaussianNLLLoss", F.gaussian_nll_loss, ["*", ("full", False), ("eps", 1e-6), _R]),
    ("KLDivLoss", F.kl_div, [_R, ("log_target", False)]),
    ("MarginRankingLoss", F.margin_ranking_loss, [("margin", 0.0), _R]),
    ("HingeEmbeddingLoss", F.hinge_embedding_loss, [("margin", 1.0), _R]),
    ("MultiMarginLoss", F.multi_margin_loss, [("p", 1), ("margin", 1.0), ("weight", None), _R]),
    ("MultiLabelMarginLoss", F.multilabel_margin_loss, [_R]),
    ("MultiLabelSoftMarginLoss", F.multilabel_soft_margin_loss, [("weight", None), _R]),
    ("CosineEmbeddingLoss", F.cosine_embedding_loss, [("margin", 0.0), _R]),
    ("TripletMarginLoss", F.triplet_margin_loss,
     [("margin", 1.0), ("p", 2.0), ("eps", 1e-6), ("swap", False), _R]),
    ("TripletMarginWithDistanceLoss", F.triplet_margin_with_distance_loss,
     ["*", ("distance_function", None), ("margin", 1.0), ("swap", False), _R,
      ("distance_grad", None)]),
]:
    loss_class(_name, _func, _opts)
