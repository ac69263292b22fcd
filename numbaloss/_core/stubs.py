"""The files generated from the registry and committed: the ``.pyi`` stubs and the docs' table.

:mod:`numbaloss.functional` and :mod:`numbaloss.modules` build their names from the
registry at import, which static analysis cannot follow; the stubs written here
spell them out for IDEs and type checkers (the classes with their options as
attributes).  In a source checkout the migration table of the docs
(:mod:`.migration`, ``docs/migration_table.rst``) is written too.  Regenerate them
after changing the registry::

    python -m numbaloss._core.stubs

(``tests/core/test_registry.py`` fails while they are out of date.)
"""

import inspect

from . import registry


def _stub_function(name, func):
    return f"def {name}{inspect.signature(func)}: ...\n"


def _annotation(default):
    """The type an option's attribute is declared with: its default's, ``Any`` for None."""
    return "Any" if default is None else type(default).__name__


def stubs():
    """``{path relative to the package: text}`` of the generated ``.pyi`` stubs."""
    import numbaloss

    header = (
        '"""Generated from numbaloss._core.registry by ``python -m numbaloss._core.stubs``;'
        ' do not edit."""\n\n'
    )
    funcs = [header]
    funcs.append(f"__all__ = {registry.names()!r}\n\n")
    for name in registry.names():
        funcs.append(_stub_function(name, getattr(numbaloss, name)))
    classes = [header, "from typing import Any\n\n"]
    classes.append(
        "class Loss:\n"
        "    def __call__(self, *arrays: Any, return_grad: bool = False, grad_output: Any = None,"
        " grad_out: Any = None, return_hess: bool = False, hess_out: Any = None) -> Any: ...\n\n"
    )
    classes.append(f"__all__ = {registry.classes()!r}\n\n")
    for e in registry.ENTRIES:
        if not e.cls:
            continue
        cls = getattr(numbaloss, e.cls)
        init = inspect.signature(cls.__init__)
        # The options are the instance's attributes (set one to change the next call).
        attributes = "".join(
            f"    {name}: {_annotation(param.default)}\n"
            for name, param in init.parameters.items()
            if name != "self"
        )
        body = f"    def __init__{init}: ...\n"
        if e.call_keywords:
            extra = "".join(f", {k}: Any = None" for k in e.call_keywords)
            body += (
                f"    def __call__(self, *arrays: Any{extra}, return_grad: bool = False,"
                " grad_output: Any = None, grad_out: Any = None) -> Any: ...\n"
            )
        classes.append(f"class {e.cls}(Loss):\n{attributes}{body}\n")
    return {"functional.pyi": "".join(funcs), "modules.pyi": "".join(classes).rstrip() + "\n"}


def write_stubs():
    """Write the stubs of :func:`stubs` next to the package's modules, and the docs'
    migration table where the package sits in a source checkout; returns the paths."""
    import pathlib

    from . import migration

    root = pathlib.Path(__file__).resolve().parent.parent
    files = {root / rel: text for rel, text in stubs().items()}
    docs = root.parent / "docs"
    if (docs / "conf.py").is_file():
        files[root.parent / migration.PATH] = migration.migration_table()
    written = []
    for path, text in files.items():
        path.write_text(text)
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write_stubs():
        print(f"wrote {path}")
