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
        return type(self)._function(
            *arrays,
            **self.options,
            return_grad=return_grad,
            grad_output=grad_output,
            grad_out=grad_out,
        )

    def __repr__(self):
        opts = ", ".join(f"{k}={v!r}" for k, v in self.options.items())
        return f"{type(self).__name__}({opts})"


def _class_doc(name, function_name, signature):
    """The numpydoc docstring of a loss class: its options, each with its default."""
    lines = [
        f"Class form of :func:`numbaloss.{function_name}`.",
        "",
        f"``{name}{signature}`` stores the options; calling the instance with the",
        f"arrays returns ``{function_name}(*arrays, **options)``, and accepts",
        "``return_grad``, ``grad_output`` and ``grad_out`` as the function does.",
        "",
    ]
    if signature.parameters:
        lines += ["Parameters", "----------"]
        for param in signature.parameters.values():
            default = param.default
            kind = "optional" if default is None else f"{type(default).__name__}, optional"
            lines += [
                f"{param.name} : {kind}",
                f"    Default ``{default!r}``; see :func:`numbaloss.{function_name}`.",
            ]
        lines.append("")
    lines += [
        "Examples",
        "--------",
        ">>> import numbaloss as nl",
        f">>> nl.{name}()",
        f"{name}({', '.join(f'{p.name}={p.default!r}' for p in signature.parameters.values())})",
    ]
    return "\n".join(lines) + "\n"


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
    doc = _class_doc(name, function.__name__, signature)
    cls = type(
        name,
        (Loss,),
        {
            "_function": staticmethod(function),
            "_signature": signature,
            "__doc__": doc,
            "__module__": __name__,
        },
    )

    # Each class gets its own __init__ carrying its signature (setting it on the
    # shared Loss.__init__ would give every class the last class's options).
    def __init__(self, *args, **kwargs):
        Loss.__init__(self, *args, **kwargs)

    self_param = inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)
    __init__.__signature__ = signature.replace(parameters=[self_param, *params])
    __init__.__qualname__ = f"{name}.__init__"
    __init__.__doc__ = f"Store the options of :func:`numbaloss.{function.__name__}`."
    cls.__init__ = __init__
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
    (
        "BCEWithLogitsLoss",
        F.binary_cross_entropy_with_logits,
        [("weight", None), _R, ("pos_weight", None)],
    ),
    (
        "PoissonNLLLoss",
        F.poisson_nll_loss,
        [("log_input", True), ("full", False), ("eps", 1e-8), _R],
    ),
    ("GaussianNLLLoss", F.gaussian_nll_loss, ["*", ("full", False), ("eps", 1e-6), _R]),
    ("KLDivLoss", F.kl_div, [_R, ("log_target", False)]),
    ("MarginRankingLoss", F.margin_ranking_loss, [("margin", 0.0), _R]),
    ("HingeEmbeddingLoss", F.hinge_embedding_loss, [("margin", 1.0), _R]),
    (
        "CrossEntropyLoss",
        F.cross_entropy,
        [("weight", None), ("ignore_index", -100), _R, ("label_smoothing", 0.0)],
    ),
    ("NLLLoss", F.nll_loss, [("weight", None), ("ignore_index", -100), _R]),
    ("FocalLoss", F.focal_loss, [("gamma", 2.0), ("weight", None), ("ignore_index", -100), _R]),
    (
        "SigmoidFocalLoss",
        F.sigmoid_focal_loss,
        [("alpha", 0.25), ("gamma", 2.0), ("reduction", "none")],
    ),
    ("ZeroOneLoss", F.zero_one_loss, [_R]),
    ("CTCLoss", F.ctc_loss, [("blank", 0), _R, ("zero_infinity", False)]),
    ("MultiMarginLoss", F.multi_margin_loss, [("p", 1), ("margin", 1.0), ("weight", None), _R]),
    ("MultiLabelMarginLoss", F.multilabel_margin_loss, [_R]),
    ("MultiLabelSoftMarginLoss", F.multilabel_soft_margin_loss, [("weight", None), _R]),
    ("CosineEmbeddingLoss", F.cosine_embedding_loss, [("margin", 0.0), _R]),
    (
        "TripletMarginLoss",
        F.triplet_margin_loss,
        [("margin", 1.0), ("p", 2.0), ("eps", 1e-6), ("swap", False), _R],
    ),
    (
        "TripletMarginWithDistanceLoss",
        F.triplet_margin_with_distance_loss,
        [
            "*",
            ("distance_function", None),
            ("margin", 1.0),
            ("swap", False),
            _R,
            ("distance_grad", None),
        ],
    ),
]:
    loss_class(_name, _func, _opts)
