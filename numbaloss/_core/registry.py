"""The one table of numbaloss's public functions, and what is derived from it.

Each loss (and each stable primitive) is declared here once, in :data:`ENTRIES`:
its public name and family, the prediction arguments that get a gradient, whether
it returns the Hessian's diagonal (``return_hess``), its PyTorch counterpart, its ``torch.nn``-style class with the constructor options,
parameter samples for the offline PTX check, and its note for the migration
table.  Everything else that lists losses is derived from this table:

* each family's ``__all__`` and the top-level exports (:func:`export`);
* the ``torch.nn``-style classes of :mod:`numbaloss.modules`, and the stubs
  ``numbaloss/functional.pyi`` and ``numbaloss/modules.pyi`` that show them to IDEs
  and type checkers (:mod:`.stubs`; a test checks they are current);
* the common keywords in every function's docstring and the routing of device
  arrays to the CUDA version and of dask arrays to :mod:`.dask_support`
  (:func:`public`, the decorator of every wrapper; each family's ``plans.chunking``
  says how its calls split into chunks);
* the docs' contract and migration tables and per-loss pages
  (``docs/_ext/numbaloss_docs.py``), ``cuda_check``'s PTX signatures, the
  benchmark lists of :mod:`numbaloss._bench` and ``asv_bench``, and the test
  parametrization (each entry must have a reference case in
  ``numbaloss.testing.<family>``; a test names any that has none).

How to add a loss is in ``docs/adding_a_loss.rst``.
"""

import importlib
from dataclasses import dataclass

from .devices import on_device

#: Where a loss is listed in the docs when it is not a PyTorch loss.
BEYOND_PYTORCH = "beyond PyTorch"
#: Where the regression objectives of the gradient-boosting libraries are listed.
REGRESSION_OBJECTIVES = "regression objectives (beyond PyTorch)"


@dataclass(frozen=True)
class Entry:
    """One public function of numbaloss."""

    #: public name: ``numbaloss.<name>`` and ``numbaloss.functional.<name>``
    name: str
    #: the family subpackage that implements it (``numbaloss.<family>.losses``)
    family: str
    #: arguments that get a gradient, in argument order (empty: no gradient)
    predictions: tuple = ("input",)
    #: whether ``return_hess=True`` returns the diagonal of the Hessian (see
    #: docs/adding_a_loss.rst); where False it raises ``TypeError`` naming the loss
    hessian: bool = False
    #: PyTorch's (or torchvision's) counterpart, or None
    torch: str = None
    #: ``torch.nn``-style class name, or None (the stable primitives have none)
    cls: str = None
    #: the class's constructor options in ``torch.nn``'s order: ``(name, default)``
    #: pairs; a ``"*"`` makes the rest keyword-only
    options: tuple = ()
    #: keyword-only array arguments that the class's call takes besides the positional
    #: arrays (``linear_cross_entropy``'s ``linear_bias``)
    call_keywords: tuple = ()
    #: heading of its group in the docs (default: its family)
    group: str = None
    #: what differs from PyTorch, for the migration table
    note: str = ""
    #: parameter samples for the offline PTX check: ``(class name, *arguments)`` of
    #: the family's point classes, one per code path (see the family's ``cuda.py``)
    ptx: tuple = ()
    #: what ``loss`` is in the Returns section of the docstring
    returns: str = (
        "``reduction='none'``: an array of PyTorch's unreduced shape; otherwise a "
        "scalar of the result dtype (NumPy's ``result_type`` of the floating inputs)."
    )

    #: short name the command line also accepts (``demo --loss``, ``bench``); None:
    #: the name without its ``_loss`` suffix (``mse`` for ``mse_loss``)
    short: str = None

    @property
    def short_name(self):
        return self.short or self.name.removesuffix("_loss")

    @property
    def heading(self):
        return self.group or self.family

    @property
    def function(self):
        """The public function (imports its family)."""
        return getattr(importlib.import_module(f"numbaloss.{self.family}"), self.name)


_R = ("reduction", "mean")
_ELEMENTWISE_LOSS = "``reduction='none'``: an array of the input's shape; otherwise a scalar of the result dtype (NumPy's ``result_type`` of the floating inputs)."
_ROW_LOSS = "``reduction='none'``: one value per row, of PyTorch's unreduced shape; otherwise a scalar of the result dtype."


def _elementwise(name, cls, options, hessian=True, **kw):
    return Entry(
        name,
        "elementwise",
        torch=f"torch.nn.functional.{name}",
        cls=cls,
        options=options,
        returns=_ELEMENTWISE_LOSS,
        hessian=hessian,
        **kw,
    )


def _objective(name, cls, options, **kw):
    """A regression objective of the boosting libraries (elementwise, no PyTorch twin)."""
    return Entry(
        name,
        "elementwise",
        cls=cls,
        options=options,
        group=REGRESSION_OBJECTIVES,
        returns=_ELEMENTWISE_LOSS,
        hessian=True,
        **kw,
    )


def _margin(name, cls, options, **kw):
    return Entry(
        name,
        "margin",
        torch=f"torch.nn.functional.{name}",
        cls=cls,
        options=options,
        returns=_ROW_LOSS,
        **kw,
    )


#: Every public function, in the order of ``numbaloss.functional.__all__``.
ENTRIES = (
    _elementwise("l1_loss", "L1Loss", (_R,), ptx=(("L1",),)),
    _elementwise("mse_loss", "MSELoss", (_R,), ptx=(("MSE",),)),
    _elementwise(
        "smooth_l1_loss",
        "SmoothL1Loss",
        (_R, ("beta", 1.0)),
        note="``beta=0`` is exactly ``l1_loss``, with finite gradients.",
        ptx=(("SmoothL1", 1.0),),
    ),
    _elementwise("huber_loss", "HuberLoss", (_R, ("delta", 1.0)), ptx=(("Huber", 1.0),)),
    _elementwise(
        "soft_margin_loss",
        "SoftMarginLoss",
        (_R,),
        note="Computed as a softplus: finite where PyTorch overflows to inf in float32.",
        ptx=(("SoftMargin",),),
    ),
    _elementwise(
        "binary_cross_entropy",
        "BCELoss",
        (("weight", None), _R),
        note="Gradient is the true derivative of the clamped loss (PyTorch's differs where a "
        "log is clamped at -100).",
        ptx=(("BCE",),),
        short="bce",
    ),
    _elementwise(
        "binary_cross_entropy_with_logits",
        "BCEWithLogitsLoss",
        (("weight", None), _R, ("pos_weight", None)),
        ptx=(("BCEWithLogits",),),
        short="bce_with_logits",
    ),
    _elementwise(
        "poisson_nll_loss",
        "PoissonNLLLoss",
        (("log_input", True), ("full", False), ("eps", 1e-8), _R),
        ptx=(("PoissonNLL", True, True, 1e-8), ("PoissonNLL", False, False, 1e-8)),
    ),
    _elementwise(
        "gaussian_nll_loss",
        "GaussianNLLLoss",
        ("*", ("full", False), ("eps", 1e-6), _R),
        predictions=("input", "var"),
        note="Gradients for both ``input`` and ``var``.",
        ptx=(("GaussianNLL", True, 1e-6),),
    ),
    _elementwise(
        "kl_div",
        "KLDivLoss",
        (_R, ("log_target", False)),
        note="``reduction='batchmean'`` as in PyTorch; no deprecation warning for ``'mean'``.",
        ptx=(("KLDiv", False), ("KLDiv", True)),
    ),
    _elementwise(
        "margin_ranking_loss",
        "MarginRankingLoss",
        (("margin", 0.0), _R),
        predictions=("input1", "input2"),
        note="Gradients for ``input1`` and ``input2``.",
        ptx=(("MarginRanking", 0.0),),
    ),
    _elementwise(
        "hinge_embedding_loss",
        "HingeEmbeddingLoss",
        (("margin", 1.0), _R),
        ptx=(("HingeEmbedding", 1.0),),
    ),
    Entry(
        "sigmoid_focal_loss",
        "elementwise",
        predictions=("inputs",),
        torch="torchvision.ops.sigmoid_focal_loss",
        cls="SigmoidFocalLoss",
        options=(("alpha", 0.25), ("gamma", 2.0), ("reduction", "none")),
        group=BEYOND_PYTORCH,
        hessian=True,
        note="torchvision's semantics (``reduction='none'``).",
        ptx=(("SigmoidFocal", 0.25, 1.5), ("SigmoidFocalSquare", 0.25)),
        returns=_ELEMENTWISE_LOSS,
    ),
    _objective(
        "pseudo_huber_loss",
        "PseudoHuberLoss",
        (("delta", 1.0), _R),
        note="XGBoost's ``reg:pseudohubererror``; SciPy's ``pseudo_huber``.",
        ptx=(("PseudoHuber", 1.0),),
    ),
    _objective(
        "quantile_loss",
        "QuantileLoss",
        (("quantile", 0.5), _R),
        note="Pinball loss: XGBoost's ``reg:quantileerror``, LightGBM's ``quantile``, "
        "scikit-learn's ``mean_pinball_loss``.",
        ptx=(("Quantile", 0.5),),
    ),
    _objective(
        "expectile_loss",
        "ExpectileLoss",
        (("expectile", 0.5), _R),
        note="XGBoost's ``reg:expectileerror`` (its metric's value).",
        ptx=(("Expectile", 0.5),),
    ),
    _objective(
        "log_cosh_loss",
        "LogCoshLoss",
        (_R,),
        note="Keras's ``LogCosh``, optax's ``log_cosh``; stable for any residual.",
        ptx=(("LogCosh",),),
    ),
    _objective(
        "tweedie_loss",
        "TweedieLoss",
        (("power", 1.5), ("log_input", True), ("full", False), _R),
        note="XGBoost's ``reg:tweedie``; with ``full=True`` twice the loss is scikit-learn's "
        "``mean_tweedie_deviance``.",
        ptx=(
            ("Tweedie", 1.5, True, False),
            ("Tweedie", 1.5, False, True),
            ("TweediePoisson", True, True),
            ("TweediePoisson", False, False),
        ),
    ),
    _objective(
        "gamma_loss",
        "GammaLoss",
        (("log_input", True), ("full", False), _R),
        note="XGBoost's ``reg:gamma``; with ``full=True`` twice the loss is scikit-learn's "
        "``mean_gamma_deviance``.",
        ptx=(("Gamma", True, False), ("Gamma", False, True)),
    ),
    _objective(
        "squared_log_error_loss",
        "SquaredLogErrorLoss",
        (_R,),
        note="XGBoost's ``reg:squaredlogerror``; scikit-learn's ``mean_squared_log_error``.",
        ptx=(("SquaredLogError",),),
    ),
    Entry(
        "ctc_loss",
        "ctc",
        predictions=("log_probs",),
        torch="torch.nn.functional.ctc_loss",
        cls="CTCLoss",
        options=(("blank", 0), _R, ("zero_infinity", False)),
        group="sequence",
        note="Gradient with respect to ``log_probs`` itself; PyTorch returns the gradient "
        "with respect to the logits under a log_softmax.",
        returns="Of the result dtype (that of the prediction; float64 for integer input).",
    ),
    Entry(
        "ctc_loss_from_logits",
        "ctc",
        predictions=("logits",),
        group="sequence",
        note="``ctc_loss`` of ``log_softmax(logits, axis=-1)``, with the gradient with "
        "respect to the logits (PyTorch's ``ctc_loss`` gradient).",
        returns="Of the result dtype (that of the prediction; float64 for integer input).",
    ),
    Entry(
        "cross_entropy",
        "softmax",
        hessian=True,
        torch="torch.nn.functional.cross_entropy",
        cls="CrossEntropyLoss",
        options=(("weight", None), ("ignore_index", -100), _R, ("label_smoothing", 0.0)),
        note="Weighted ``'mean'`` divides by the summed weight of the non-ignored targets, "
        "as PyTorch.",
        ptx=(("CrossEntropy", -100, 0.0), ("CrossEntropy", -100, 0.1)),
    ),
    Entry(
        "linear_cross_entropy",
        "softmax",
        predictions=("input", "linear_weight", "linear_bias"),
        torch="torch.nn.functional.linear_cross_entropy",
        cls="LinearCrossEntropyLoss",
        options=(
            "*",
            ("weight", None),
            _R,
            ("ignore_index", None),
            ("label_smoothing", 0.0),
            ("chunk_size", None),
        ),
        call_keywords=("linear_bias",),
        note="Always chunked (``chunk_size`` instead of PyTorch's ``options``), also with "
        "class probabilities, label smoothing and K-dimensional weights.  The class holds "
        "the options only; the weight and bias are arguments of the call.",
        returns="``reduction='none'``: one value per row (and position), of PyTorch's "
        "unreduced shape; otherwise a scalar of the result dtype.",
    ),
    Entry(
        "focal_loss",
        "softmax",
        hessian=True,
        cls="FocalLoss",
        options=(("gamma", 2.0), ("weight", None), ("ignore_index", -100), _R),
        group=BEYOND_PYTORCH,
        note="Softmax focal loss; ``gamma=0`` is exactly ``cross_entropy``.",
        ptx=(("Focal", -100, 0.0, 2.0),),
    ),
    Entry(
        "log_softmax",
        "softmax",
        predictions=(),
        torch="torch.nn.functional.log_softmax",
        group=BEYOND_PYTORCH,
        note="SciPy's ``axis`` convention instead of ``dim``.",
    ),
    Entry(
        "logsumexp",
        "softmax",
        predictions=(),
        torch="torch.logsumexp",
        group=BEYOND_PYTORCH,
        note="SciPy's ``axis`` convention.",
    ),
    Entry(
        "nll_loss",
        "softmax",
        hessian=True,
        torch="torch.nn.functional.nll_loss",
        cls="NLLLoss",
        options=(("weight", None), ("ignore_index", -100), _R),
    ),
    Entry(
        "softmax",
        "softmax",
        predictions=(),
        torch="torch.nn.functional.softmax",
        group=BEYOND_PYTORCH,
        note="SciPy's ``axis`` convention instead of ``dim``.",
    ),
    Entry(
        "zero_one_loss",
        "softmax",
        predictions=(),
        cls="ZeroOneLoss",
        options=(_R,),
        group=BEYOND_PYTORCH,
        note="No gradient: ``return_grad=True`` raises ``ValueError``.",
    ),
    _margin(
        "cosine_embedding_loss",
        "CosineEmbeddingLoss",
        (("margin", 0.0), _R),
        predictions=("input1", "input2"),
        note="Gradients for ``input1`` and ``input2``.",
    ),
    _margin(
        "multi_margin_loss", "MultiMarginLoss", (("p", 1), ("margin", 1.0), ("weight", None), _R)
    ),
    _margin("multilabel_margin_loss", "MultiLabelMarginLoss", (_R,)),
    _margin("multilabel_soft_margin_loss", "MultiLabelSoftMarginLoss", (("weight", None), _R)),
    _margin(
        "triplet_margin_loss",
        "TripletMarginLoss",
        (("margin", 1.0), ("p", 2.0), ("eps", 1e-6), ("swap", False), _R),
        predictions=("anchor", "positive", "negative"),
        note="Gradients for ``anchor``, ``positive`` and ``negative``.",
    ),
    _margin(
        "triplet_margin_with_distance_loss",
        "TripletMarginWithDistanceLoss",
        (
            "*",
            ("distance_function", None),
            ("margin", 1.0),
            ("swap", False),
            _R,
            ("distance_grad", None),
        ),
        predictions=("anchor", "positive", "negative"),
        note="``distance_function`` must be usable from NumPy (see its page).",
    ),
)

#: The entries by name.
BY_NAME = {entry.name: entry for entry in ENTRIES}
#: The families, in the order of :data:`ENTRIES`.
FAMILIES = tuple(dict.fromkeys(entry.family for entry in ENTRIES))


def entry(name):
    """The entry of ``name``; ``KeyError`` naming it when it is not declared."""
    try:
        return BY_NAME[name]
    except KeyError:
        raise KeyError(f"{name!r} is not declared in numbaloss._core.registry.ENTRIES") from None


def lookup(name):
    """The entry whose name or short name (:attr:`Entry.short_name`) is ``name``, or None."""
    if name in BY_NAME:
        return BY_NAME[name]
    for e in ENTRIES:
        if e.short_name == name:
            return e
    return None


def classes():
    """The ``torch.nn``-style class names, in table order."""
    return [e.cls for e in ENTRIES if e.cls]


def names(family=None, *, with_class=False, with_gradient=False, with_hessian=None):
    """Public names in table order, of one family or all; optionally only those with a
    ``torch.nn``-style class or a gradient, or (``with_hessian`` True / False) only
    those with / without a Hessian's diagonal."""
    return [
        e.name
        for e in ENTRIES
        if (family is None or e.family == family)
        and (not with_class or e.cls)
        and (not with_gradient or e.predictions)
        and (with_hessian is None or e.hessian == with_hessian)
    ]


# --- the wrappers' decorator ------------------------------------------------------------

_GRAD_DOC = """\
return_grad : bool, optional
    Also return the gradient of ``sum(grad_output * loss)`` with respect to
    {preds}, from the same fused pass.
grad_output : scalar or array_like, optional
    Upstream gradient, broadcastable to the loss's shape; ``None`` means 1.
grad_out : ndarray{s}, optional
    Preallocated array{s} (shape and result dtype of {preds}) to write the
    gradient into; may be the prediction itself, for an in-place update.
{hess_params}
Returns
-------
loss : ndarray or NumPy scalar
    {returns}
grad : ndarray{s}
    Only with ``return_grad=True``: ``(loss, grad)`` is returned.{hess_returns}"""

_HESS_PARAMS = """\
return_hess : bool, optional
    With ``return_grad=True``, also return the diagonal of the Hessian of
    ``sum(grad_output * loss)`` with respect to {preds}{own}, from the
    same fused pass; 0 at the kinks of piecewise losses.
hess_out : ndarray{s}, optional
    Preallocated array{s} for the Hessian's diagonal, as ``grad_out``
    (they must not overlap each other).
"""

_HESS_RETURNS = """
hess : ndarray{s}
    Only with ``return_hess=True``: ``(loss, grad, hess)`` is returned."""


def grad_doc(e):
    """The common keywords' part of ``e``'s docstring (Parameters and Returns)."""
    preds = ", ".join(f"``{p}``" for p in e.predictions)
    many = len(e.predictions) > 1
    import textwrap

    s = " or tuple" if many else ""
    returns = "\n    ".join(textwrap.wrap(e.returns, 76))
    own = " (each prediction's own block)" if many else ""
    hess_params = _HESS_PARAMS.format(preds=preds, s=s, own=own) if e.hessian else ""
    hess_returns = _HESS_RETURNS.format(s=s) if e.hessian else ""
    return _GRAD_DOC.format(
        preds=preds, s=s, returns=returns, hess_params=hess_params, hess_returns=hess_returns
    )


def _fill_doc(doc, text):
    """Put ``text`` where the line ``{grad_doc}`` stands, at that line's indentation."""
    lines = doc.split("\n")
    for i, line in enumerate(lines):
        if line.strip() == "{grad_doc}":
            indent = line[: len(line) - len(line.lstrip())]
            block = [indent + t if t else "" for t in text.split("\n")]
            rest = lines[i + 1 :]
            gap = [""] if rest and rest[0].strip() else []
            return "\n".join(lines[:i] + block + gap + rest)
    return doc


def public(func):
    """Declare the wrapper ``func`` as the CPU implementation of its registry entry.

    Fills the ``{grad_doc}`` line of its docstring with the common keywords (the
    one docstring template of the package) and routes calls with device arrays to
    the family's CUDA version, and calls with dask arrays to
    :func:`~numbaloss._core.dask_support.call`
    (:func:`~numbaloss._core.devices.on_device`), which also checks the output
    keywords (``return_hess`` of a loss without a Hessian is a ``TypeError`` naming
    it).
    """
    e = entry(func.__name__)
    if func.__doc__ and "{grad_doc}" in func.__doc__:
        func.__doc__ = _fill_doc(func.__doc__, grad_doc(e))
    return on_device(e.family, hessian=e.hessian)(func)


def export(family, module, namespace):
    """Put ``family``'s public functions from ``module`` into ``namespace``; returns their names."""
    exported = names(family)
    for name in exported:
        if not hasattr(module, name):
            raise AttributeError(
                f"{module.__name__} does not define {name!r}, declared in the registry"
            )
        namespace[name] = getattr(module, name)
    return exported
