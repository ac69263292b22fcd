"""Sphinx configuration of the numbaloss docs.

Build: ``python -m sphinx -W -b html docs docs/_build/html`` (``pip install -e ".[docs]"``).
The per-loss pages, their plots and the migration table are written at build time
by the local extension ``_ext/numbaloss_docs.py``.
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

exclude_patterns = ["_build"]
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
# Check our docstrings as they are rendered: every parameter documented, returns
# described, an example present, sections in order.  Extended summaries and
# "See Also" sections are not required.
numpydoc_validation_checks = {"all", "ES01", "SA01", "GL01", "GL02", "SS05"}
numpydoc_validation_exclude = {r"\.__init__$", r"\.__call__$", r"\.__repr__$"}
