"""Loss classes named as in ``torch.nn``: built with the options, called with the arrays.

Each class keeps its options as attributes, as ``torch.nn`` does: they are the
state of the instance, so setting one (``loss_fn.reduction = "sum"``) changes the
next call and the ``repr``.  The options are validated by the function at each
call, so an invalid value raises the same error as the function would.  Calling
the instance forwards to the functional form, with the same ``return_grad``,
``grad_output``, ``grad_out``, ``return_hess`` and ``hess_out`` keywords::

    >>> import numbaloss as nl
    >>> loss_fn = nl.SmoothL1Loss(beta=0.5)
    >>> loss, grad = loss_fn([0.0, 2.0], [0.1, 0.0], return_grad=True)
    >>> loss_fn.reduction = "sum"
    >>> loss_fn
    SmoothL1Loss(reduction='sum', beta=0.5)

The classes are made by :func:`loss_class` from the registry
(:mod:`numbaloss._core.registry`), which gives each its name and options.
"""

import inspect

from . import functional as F
from ._core import registry

__all__ = []


class Loss:
    """Base class: options in the constructor (kept as attributes), arrays in the call."""

    _function = None
    #: the names of the options, in the constructor's order
    _option_names = ()
    #: keyword-only array arguments of the call (the registry's ``call_keywords``)
    _call_keywords = ()

    def __init__(self, *args, **kwargs):
        bound = self._signature.bind(*args, **kwargs)
        bound.apply_defaults()
        for key, value in bound.arguments.items():
            setattr(self, key, value)

    def _current_options(self):
        """The options as they are now (the attributes), in the constructor's order."""
        return {name: getattr(self, name) for name in self._option_names}

    def __call__(
        self,
        *arrays,
        return_grad=False,
        grad_output=None,
        grad_out=None,
        return_hess=False,
        hess_out=None,
        **keywords,
    ):
        for key in keywords:
            if key not in self._call_keywords:
                raise TypeError(
                    f"{type(self).__name__}() got an unexpected keyword argument {key!r}"
                )
        return type(self)._function(
            *arrays,
            **keywords,
            **self._current_options(),
            return_grad=return_grad,
            grad_output=grad_output,
            grad_out=grad_out,
            return_hess=return_hess,
            hess_out=hess_out,
        )

    def __repr__(self):
        opts = ", ".join(f"{k}={v!r}" for k, v in self._current_options().items())
        return f"{type(self).__name__}({opts})"


def _class_doc(name, function_name, signature, call_keywords=()):
    """The numpydoc docstring of a loss class: its options, each with its default."""
    also = "".join(f"``{k}``, " for k in call_keywords)
    lines = [
        f"Class form of :func:`numbaloss.{function_name}`.",
        "",
        f"``{name}{signature}`` keeps the options as attributes of the same names;",
        "calling the instance with the arrays returns",
        f"``{function_name}(*arrays, **options)`` with the attributes' current values",
        "(set one to change the next call; the function validates them), and accepts",
        f"{also}``return_grad``, ``grad_output``, ``grad_out``, ``return_hess`` and",
        "``hess_out`` as the function does.",
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


def loss_class(name, function, options, call_keywords=()):
    """Make the ``torch.nn``-style class ``name`` for ``function``.

    ``options`` lists ``(parameter, default)`` in ``torch.nn``'s constructor order
    (without ``size_average``/``reduce``); a leading ``"*"`` entry makes the rest
    keyword-only, as in ``GaussianNLLLoss``.  ``call_keywords`` names keyword-only
    arrays that the call takes besides the positional ones (``linear_bias``).
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
    doc = _class_doc(name, function.__name__, signature, call_keywords)
    cls = type(
        name,
        (Loss,),
        {
            "_function": staticmethod(function),
            "_signature": signature,
            "_option_names": tuple(signature.parameters),
            "_call_keywords": tuple(call_keywords),
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


for _entry in registry.ENTRIES:
    if _entry.cls:
        loss_class(_entry.cls, getattr(F, _entry.name), _entry.options, _entry.call_keywords)
