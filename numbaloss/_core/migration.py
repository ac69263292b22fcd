"""The migration table of the docs (``docs/migration.rst``), generated from the registry.

Every function of :data:`numbaloss._core.registry.ENTRIES` gets a row: its PyTorch
counterpart, its ``torch.nn``-style class, its group and what differs.  The table
is committed as ``docs/migration_table.rst`` so that it can be read in the
repository, not only in the built docs; ``python -m numbaloss._core.stubs``
rewrites it with the other generated files, the docs build rewrites it too, and
``tests/core/test_registry.py`` fails while the committed file is out of date.
"""

from . import registry

#: Where the table lives, relative to the root of a source checkout.
PATH = "docs/migration_table.rst"


def migration_table():
    """The reStructuredText of the table (a ``list-table``), one row per function."""
    rows = []
    for e in registry.ENTRIES:
        torch_name = f"``{e.torch}``" if e.torch else "(none)"
        cls_text = f":class:`numbaloss.{e.cls}`" if e.cls else ""
        rows.append((torch_name, f":func:`numbaloss.{e.name}`", cls_text, e.heading, e.note))
    header = ("PyTorch", "numbaloss", "class", "family", "notes")
    lines = [
        ".. Generated from numbaloss._core.registry by ``python -m numbaloss._core.stubs``;",
        "   do not edit (a test checks that it is current).",
        "",
        ".. list-table::",
        "   :header-rows: 1",
        "   :widths: 24 24 18 12 22",
        "",
    ]
    for row in (header, *rows):
        lines.append(f"   * - {row[0]}")
        lines += [f"     - {cell}" if cell else "     -" for cell in row[1:]]
    return "\n".join(lines) + "\n"
