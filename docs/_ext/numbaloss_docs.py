"""Sphinx extension that writes the generated parts of the numbaloss docs.

At ``builder-inited`` it discovers the installed losses from
``numbaloss.functional.__all__`` and writes

* ``losses/<name>.rst``: one page per loss (the numpydoc docstring with formula,
  gradient, options and PyTorch differences, the ``torch.nn``-style class, a plot),
* ``losses/index.rst``: the losses grouped by family,
* ``_generated/plots/<name>.png``: the loss and its derivative along one input
  element, computed with numbaloss itself (matplotlib, Agg backend),
* ``_generated/migration_table.rst``: every function of the public contract with
  its ``torch.nn.functional`` counterpart, marked where this installation lacks it.

Nothing is hard-coded about which losses exist: a family merged later gets its
pages, plots and table rows at the next build.
"""

import inspect
import pathlib

import numpy as np

#: The public contract (API.md section 1): family, numbaloss function, torch.nn class,
#: the PyTorch counterpart and what differs.
CONTRACT = [
    ("elementwise", "l1_loss", "L1Loss", "torch.nn.functional.l1_loss", ""),
    ("elementwise", "mse_loss", "MSELoss", "torch.nn.functional.mse_loss", ""),
    (
        "elementwise",
        "smooth_l1_loss",
        "SmoothL1Loss",
        "torch.nn.functional.smooth_l1_loss",
        "``beta=0`` is exactly ``l1_loss``, with finite gradients.",
    ),
    ("elementwise", "huber_loss", "HuberLoss", "torch.nn.functional.huber_loss", ""),
    (
        "elementwise",
        "soft_margin_loss",
        "SoftMarginLoss",
        "torch.nn.functional.soft_margin_loss",
        "Computed as a softplus: finite where PyTorch overflows to inf in float32.",
    ),
    (
        "elementwise",
        "binary_cross_entropy",
        "BCELoss",
        "torch.nn.functional.binary_cross_entropy",
        "Gradient is the true derivative of the clamped loss (PyTorch's differs where a log is "
        "clamped at -100).",
    ),
    (
        "elementwise",
        "binary_cross_entropy_with_logits",
        "BCEWithLogitsLoss",
        "torch.nn.functional.binary_cross_entropy_with_logits",
        "",
    ),
    (
        "elementwise",
        "poisson_nll_loss",
        "PoissonNLLLoss",
        "torch.nn.functional.poisson_nll_loss",
        "",
    ),
    (
        "elementwise",
        "gaussian_nll_loss",
        "GaussianNLLLoss",
        "torch.nn.functional.gaussian_nll_loss",
        "Gradients for both ``input`` and ``var``.",
    ),
    (
        "elementwise",
        "kl_div",
        "KLDivLoss",
        "torch.nn.functional.kl_div",
        "``reduction='batchmean'`` as in PyTorch; no deprecation warning for ``'mean'``.",
    ),
    (
        "elementwise",
        "margin_ranking_loss",
        "MarginRankingLoss",
        "torch.nn.functional.margin_ranking_loss",
        "Gradients for ``input1`` and ``input2``.",
    ),
    (
        "elementwise",
        "hinge_embedding_loss",
        "HingeEmbeddingLoss",
        "torch.nn.functional.hinge_embedding_loss",
        "",
    ),
    (
        "softmax",
        "cross_entropy",
        "CrossEntropyLoss",
        "torch.nn.functional.cross_entropy",
        "Weighted ``'mean'`` divides by the summed weight of the non-ignored targets, as PyTorch.",
    ),
    ("softmax", "nll_loss", "NLLLoss", "torch.nn.functional.nll_loss", ""),
    ("margin", "multi_margin_loss", "MultiMarginLoss", "torch.nn.functional.multi_margin_loss", ""),
    (
        "margin",
        "multilabel_margin_loss",
        "MultiLabelMarginLoss",
        "torch.nn.functional.multilabel_margin_loss",
        "",
    ),
    (
        "margin",
        "multilabel_soft_margin_loss",
        "MultiLabelSoftMarginLoss",
        "torch.nn.functional.multilabel_soft_margin_loss",
        "",
    ),
    (
        "margin",
        "cosine_embedding_loss",
        "CosineEmbeddingLoss",
        "torch.nn.functional.cosine_embedding_loss",
        "Gradients for ``input1`` and ``input2``.",
    ),
    (
        "margin",
        "triplet_margin_loss",
        "TripletMarginLoss",
        "torch.nn.functional.triplet_margin_loss",
        "Gradients for ``anchor``, ``positive`` and ``negative``.",
    ),
    (
        "margin",
        "triplet_margin_with_distance_loss",
        "TripletMarginWithDistanceLoss",
        "torch.nn.functional.triplet_margin_with_distance_loss",
        "``distance_function`` must be usable from NumPy (see its page).",
    ),
    (
        "sequence",
        "ctc_loss",
        "CTCLoss",
        "torch.nn.functional.ctc_loss",
        "Gradient with respect to ``log_probs`` itself; PyTorch returns the gradient with respect "
        "to the logits under a log_softmax.",
    ),
    (
        "beyond PyTorch",
        "focal_loss",
        "FocalLoss",
        "(none)",
        "Softmax focal loss; ``gamma=0`` is exactly ``cross_entropy``.",
    ),
    (
        "beyond PyTorch",
        "sigmoid_focal_loss",
        "SigmoidFocalLoss",
        "torchvision.ops.sigmoid_focal_loss",
        "torchvision's semantics (``reduction='none'``).",
    ),
    (
        "beyond PyTorch",
        "zero_one_loss",
        "ZeroOneLoss",
        "(none)",
        "No gradient: ``return_grad=True`` raises ``ValueError``.",
    ),
    ("beyond PyTorch", "logsumexp", "", "torch.logsumexp", "SciPy's ``axis`` convention."),
    (
        "beyond PyTorch",
        "log_softmax",
        "",
        "torch.nn.functional.log_softmax",
        "SciPy's ``axis`` convention instead of ``dim``.",
    ),
    (
        "beyond PyTorch",
        "softmax",
        "",
        "torch.nn.functional.softmax",
        "SciPy's ``axis`` convention instead of ``dim``.",
    ),
]


def _family(name):
    import numbaloss

    return inspect.unwrap(getattr(numbaloss, name)).__module__.split(".")[1]


def _class_of(name):
    """The ``torch.nn``-style class whose function is ``numbaloss.<name>``, or None."""
    import numbaloss

    func = getattr(numbaloss, name)
    for cls_name in numbaloss.modules.__all__:
        cls = getattr(numbaloss.modules, cls_name)
        if getattr(cls, "_function", None) is func:
            return cls_name
    return None


def _write(path, text):
    """Write only when the text changed, so Sphinx does not rebuild what did not."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def _title(text, char="="):
    return f"{text}\n{char * len(text)}\n"


# --- plots ---------------------------------------------------------------------------


def _curve(name):
    """``(x, loss, derivative, label)`` along one element of the first prediction.

    The element is the first one, or for class-index losses the first row's score
    of its target class (so that the curve shows the loss falling as it grows).
    """
    from numbaloss import _bench

    if name not in _bench.available():
        return None
    load = _bench.workload(name, 1, np.float64, seed=7)  # one row / element
    arrays = [np.array(a, copy=True) for a in load.arrays]
    swept = load.preds[0] if load.preds else 0
    params = list(inspect.signature(load.func).parameters)
    options = dict(load.options)
    if "reduction" in params:
        options["reduction"] = "sum"
    element = 0
    pred = arrays[swept]
    if (
        len(arrays) > 1
        and pred.ndim == 2
        and arrays[1].ndim == 1
        and arrays[1].dtype.kind in "iu"
        and len(arrays[1]) == len(pred)
    ):
        element = int(arrays[1][0])  # class-index losses: sweep the target class's score
    centre = float(pred.flat[element])
    xs = np.linspace(centre - 6.0, centre + 6.0, 241)
    values = np.full(xs.shape, np.nan)
    grads = np.full(xs.shape, np.nan)
    for k, value in enumerate(xs):
        arrays[swept].flat[element] = value
        try:
            if load.preds:
                loss, grad = load.func(*arrays, **options, return_grad=True)
                grad = grad[0] if isinstance(grad, tuple) else grad
                grads[k] = np.asarray(grad).flat[element]
            else:
                loss = load.func(*arrays, **options)
        except ValueError:  # outside the loss's domain (e.g. BCE input outside [0, 1])
            continue
        values[k] = float(np.sum(loss))
    if not load.preds and name != "zero_one_loss":
        finite = np.isfinite(values)
        if finite.sum() > 2:
            grads[finite] = np.gradient(values[finite], xs[finite])
    argname = params[swept]
    index = np.unravel_index(element, pred.shape) if pred.ndim else ()
    label = f"{argname}[{', '.join(map(str, index))}]" if pred.ndim else argname
    return xs, values, grads, label


def _plot(name, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curve = _curve(name)
    if curve is None:
        return False
    xs, values, grads, label = curve
    finite = np.isfinite(values)
    fig, axes = plt.subplots(1, 2, figsize=(7.5, 2.8), layout="constrained")
    axes[0].plot(xs[finite], values[finite], color="C0")
    axes[0].set_title(f"{name}")
    axes[0].set_ylabel("loss")
    if np.isfinite(grads).any():
        axes[1].plot(xs[finite], grads[finite], color="C1")
        axes[1].set_title("derivative")
    else:
        axes[1].text(0.5, 0.5, "no gradient", ha="center", va="center", transform=axes[1].transAxes)
        axes[1].set_title("derivative")
    for ax in axes:
        ax.set_xlabel(label)
        ax.grid(alpha=0.3)
        if finite.any():
            ax.set_xlim(xs[finite][0], xs[finite][-1])
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return True


# --- pages ---------------------------------------------------------------------------


def _loss_page(name, has_plot):
    cls = _class_of(name)
    text = [_title(name), ".. currentmodule:: numbaloss\n", f".. autofunction:: {name}\n"]
    if has_plot:
        text += [
            _title("Plot", "-"),
            f".. figure:: /_generated/plots/{name}.png\n"
            f"   :alt: {name} and its derivative\n\n"
            "   The loss (``reduction='sum'`` where the function reduces) and its derivative\n"
            "   as one element of the first prediction varies (for class-index losses, the\n"
            "   score of the first sample's target class), the other inputs fixed at\n"
            "   random valid values; computed with numbaloss in float64 when the docs were\n"
            "   built (the derivative is numbaloss's ``return_grad`` where the function has\n"
            "   one, else a finite difference of the curve).\n",
        ]
    if cls is not None:
        text += [_title("Class form", "-"), f".. autoclass:: {cls}\n"]
    return "\n".join(text)


def _index_page(names):
    groups = {}
    for name in names:
        groups.setdefault(_family(name), []).append(name)
    text = [
        _title("Losses"),
        "One page per function of ``numbaloss`` (and ``numbaloss.functional``), generated\n"
        "when the docs are built from the installed package: the docstring (formula,\n"
        "gradient, options, differences from PyTorch, an example), the class named as in\n"
        "``torch.nn``, and a plot of the loss and its gradient.  Every function takes the\n"
        "common keywords described in :doc:`/conventions`.\n",
    ]
    for family, members in groups.items():
        text.append(_title(f"The {family} family", "-"))
        text.append(".. toctree::\n   :maxdepth: 1\n\n" + "".join(f"   {m}\n" for m in members))
    return "\n".join(text)


def _migration_table(installed):
    import numbaloss

    rows = []
    listed = set()
    for family, name, cls, torch_name, note in CONTRACT:
        listed.add(name)
        if name in installed:
            ours = f":func:`numbaloss.{name}`"
            cls_text = (
                f":class:`numbaloss.{cls}`"
                if cls and hasattr(numbaloss, cls)
                else (f"``{cls}``" if cls else "")
            )
            status = "yes"
        else:
            ours = f"``numbaloss.{name}``"
            cls_text = f"``{cls}``" if cls else ""
            status = f"not in this installation (numbaloss {numbaloss.__version__})"
        rows.append((f"``{torch_name}``", ours, cls_text, family, status, note))
    for name in installed:
        if name not in listed:
            rows.append(
                (
                    "(none)",
                    f":func:`numbaloss.{name}`",
                    "",
                    _family(name),
                    "yes",
                    "numbaloss extension.",
                )
            )
    header = ("PyTorch", "numbaloss", "class", "family", "available", "notes")
    lines = [".. list-table::", "   :header-rows: 1", "   :widths: 22 22 16 10 10 20", ""]
    for row in (header, *rows):
        lines.append(f"   * - {row[0]}")
        lines += [f"     - {cell}" for cell in row[1:]]
    return "\n".join(lines) + "\n"


def generate(app):
    import numbaloss

    src = pathlib.Path(app.srcdir)
    plots = src / "_generated" / "plots"
    plots.mkdir(parents=True, exist_ok=True)
    installed = [n for n in numbaloss.functional.__all__ if callable(getattr(numbaloss, n))]
    for name in installed:
        png = plots / f"{name}.png"
        source = pathlib.Path(inspect.getsourcefile(inspect.unwrap(getattr(numbaloss, name))))
        if not png.exists() or png.stat().st_mtime < source.stat().st_mtime:
            has_plot = _plot(name, png)
        else:
            has_plot = True
        _write(src / "losses" / f"{name}.rst", _loss_page(name, has_plot))
    _write(src / "losses" / "index.rst", _index_page(installed))
    _write(src / "_generated" / "migration_table.rst", _migration_table(installed))


def setup(app):
    app.connect("builder-inited", generate)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
