"""Sphinx extension that writes the generated parts of the numbaloss docs.

At ``builder-inited`` it reads the registry of public functions
(:mod:`numbaloss._core.registry`) and writes

* ``losses/<name>.rst``: one page per loss (the numpydoc docstring with formula,
  gradient, options and PyTorch differences, the ``torch.nn``-style class, a plot),
* ``losses/index.rst``: the losses grouped by family,
* ``_generated/plots/<name>.png``: the loss, its derivative and (for the losses with
  a Hessian's diagonal) its second derivative along one input element, computed
  with numbaloss itself (matplotlib, Agg backend),
* ``_generated/jit_functions.rst``: the functions of :mod:`numbaloss.jit` with their
  signatures (included by ``jit.rst``),
* ``migration_table.rst``: every function with its PyTorch counterpart, its class
  and what differs (:mod:`numbaloss._core.migration`; committed, so it is only
  rewritten when the registry changed).

Nothing here lists losses: a loss declared in the registry gets its page, plot and
table row at the next build.  Of these, only the migration table is committed.
"""

import inspect
import pathlib

import numpy as np


def _entry(name):
    from numbaloss._core import registry

    return registry.entry(name)


def _write(path, text):
    """Write only when the text changed, so Sphinx does not rebuild what did not."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def _title(text, char="="):
    return f"{text}\n{char * len(text)}\n"


# --- plots ---------------------------------------------------------------------------


def _curve(name):
    """``(x, loss, derivative, second derivative, label)`` along one element of the
    first prediction (the second derivative all NaN for a loss without one).

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
    hessians = np.full(xs.shape, np.nan)
    hessian = _entry(name).hessian
    for k, value in enumerate(xs):
        arrays[swept].flat[element] = value
        try:
            if load.preds and hessian:
                loss, grad, hess = load.func(*arrays, **options, return_grad=True, return_hess=True)
                grad = grad[0] if isinstance(grad, tuple) else grad
                hess = hess[0] if isinstance(hess, tuple) else hess
                grads[k] = np.asarray(grad).flat[element]
                hessians[k] = np.asarray(hess).flat[element]
            elif load.preds:
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
    return xs, values, grads, hessians, label


def _plot(name, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curve = _curve(name)
    if curve is None:
        return False
    xs, values, grads, hessians, label = curve
    finite = np.isfinite(values)
    with_hess = bool(np.isfinite(hessians).any())
    fig, axes = plt.subplots(
        1, 3 if with_hess else 2, figsize=(10.5 if with_hess else 7.5, 2.8), layout="constrained"
    )
    axes[0].plot(xs[finite], values[finite], color="C0")
    axes[0].set_title(f"{name}")
    axes[0].set_ylabel("loss")
    if np.isfinite(grads).any():
        axes[1].plot(xs[finite], grads[finite], color="C1")
        axes[1].set_title("derivative")
    else:
        axes[1].text(0.5, 0.5, "no gradient", ha="center", va="center", transform=axes[1].transAxes)
        axes[1].set_title("derivative")
    if with_hess:
        axes[2].plot(xs[finite], hessians[finite], color="C2")
        axes[2].set_title("second derivative")
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
    cls = _entry(name).cls
    text = [_title(name), ".. currentmodule:: numbaloss\n", f".. autofunction:: {name}\n"]
    if has_plot:
        text += [
            _title("Plot", "-"),
            f".. figure:: /_generated/plots/{name}.png\n"
            f"   :alt: {name} and its derivatives\n\n"
            "   The loss (``reduction='sum'`` where the function reduces) and its derivative\n"
            "   as one element of the first prediction varies (for class-index losses, the\n"
            "   score of the first sample's target class), the other inputs fixed at\n"
            "   random valid values; computed with numbaloss in float64 when the docs were\n"
            "   built (the derivative is numbaloss's ``return_grad`` where the function has\n"
            "   one, else a finite difference of the curve"
            + (
                "; the second derivative is the Hessian's diagonal of ``return_hess``"
                if _entry(name).hessian
                else ""
            )
            + ").\n",
        ]
    if cls is not None:
        text += [_title("Class form", "-"), f".. autoclass:: {cls}\n"]
    return "\n".join(text)


def _index_page(names):
    groups = {}
    for name in names:
        groups.setdefault(_entry(name).heading, []).append(name)
    text = [
        _title("Losses"),
        "One page per function of ``numbaloss`` (and ``numbaloss.functional``), generated\n"
        "when the docs are built from the installed package: the docstring (formula,\n"
        "gradient, options, differences from PyTorch, an example), the class named as in\n"
        "``torch.nn``, and a plot of the loss and its gradient.  Every function takes the\n"
        "common keywords described in :doc:`/conventions`.\n",
    ]
    for family, members in groups.items():
        text.append(_title(family[:1].upper() + family[1:], "-"))
        text.append(".. toctree::\n   :maxdepth: 1\n\n" + "".join(f"   {m}\n" for m in members))
    return "\n".join(text)


def _jit_table():
    """The functions of :mod:`numbaloss.jit`, with their signatures and returns."""
    import numbaloss.jit as nlj

    rows = []
    for name in nlj.__all__:
        e = _entry(name)
        sig = inspect.signature(getattr(nlj, name).py_func)
        if e.family == "elementwise":
            if len(e.predictions) > 1:
                returns = "``(loss, (grad_{0}, grad_{1}), (hess_{0}, hess_{1}))``".format(
                    *e.predictions
                )
            else:
                returns = "``(loss, grad, hess)``"
        else:
            returns = "the row's loss; writes ``grad_out``, ``hess_out``"
        rows.append((f"``{name}{sig}``", returns, f":func:`numbaloss.{name}`"))
    text = [
        ".. list-table::\n   :header-rows: 1\n   :widths: 55 30 15\n\n"
        "   * - function of ``numbaloss.jit``\n     - returns\n     - the loss\n"
    ]
    for row in rows:
        text.append("   * - " + "\n     - ".join(row) + "\n")
    return "".join(text)


def generate(app):
    import numbaloss

    src = pathlib.Path(app.srcdir)
    plots = src / "_generated" / "plots"
    plots.mkdir(parents=True, exist_ok=True)
    from numbaloss._core import registry

    installed = registry.names()
    for name in installed:
        png = plots / f"{name}.png"
        source = pathlib.Path(inspect.getsourcefile(inspect.unwrap(getattr(numbaloss, name))))
        # (also redrawn when this extension, which draws it, changed)
        newest = max(source.stat().st_mtime, pathlib.Path(__file__).stat().st_mtime)
        if not png.exists() or png.stat().st_mtime < newest:
            has_plot = _plot(name, png)
        else:
            has_plot = True
        _write(src / "losses" / f"{name}.rst", _loss_page(name, has_plot))
    _write(src / "losses" / "index.rst", _index_page(installed))
    _write(src / "_generated" / "jit_functions.rst", _jit_table())
    # Committed (readable in the repository); rewritten here only when the registry
    # changed, which tests/core/test_registry.py reports as out of date.
    from numbaloss._core import migration

    _write(src / pathlib.PurePath(migration.PATH).name, migration.migration_table())


def setup(app):
    app.connect("builder-inited", generate)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
