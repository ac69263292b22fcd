"""Sphinx configuration of the numbaloss docs.

Build: ``python -m sphinx -W -b html docs docs/_build/html`` (``pip install -e ".[docs]"``).
The per-loss pages and their plots are written at build time by the local extension
``_ext/numbaloss_docs.py``; the migration table (``migration_table.rst``, generated
from the registry) is committed, and the extension rewrites it if it is stale.
"""

import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))
sys.path.insert(0, str(HERE.parent))  # document this checkout

import numbaloss  # noqa: E402

project = "numbaloss"
author = "the numbaloss developers"
copyright = "2026, the numbaloss developers"
release = numbaloss.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.mathjax",
    "numpydoc",
    "numbaloss_docs",
]

# migration_table.rst is included by migration.rst, not a page of its own.
exclude_patterns = ["_build", "migration_table.rst"]
templates_path = []
html_static_path = []
html_theme = "pydata_sphinx_theme"
html_title = f"numbaloss {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
}

autodoc_default_options = {"members": False}
numpydoc_show_class_members = False
numpydoc_xref_param_type = False
# Check our docstrings as they are rendered (warnings are errors in CI): a summary,
# every parameter documented and no unknown one, a Returns section, an example,
# known sections in numpydoc's order.  (Docstring markup errors fail the build too.)
numpydoc_validation_checks = {
    "SS01", "PR01", "PR02", "PR03", "PR10", "RT01", "EX01", "GL06", "GL07",
}
numpydoc_validation_exclude = {r"\.__init__$", r"\.__call__$", r"\.__repr__$"}
