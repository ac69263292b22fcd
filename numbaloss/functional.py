"""The functional API, as in ``torch.nn.functional`` (also at the top level).

Its names are the registry's (:mod:`numbaloss._core.registry`), in the registry's
order; ``functional.pyi`` spells them out for IDEs and type checkers.
"""

from ._core import registry

__all__ = registry.names()

globals().update({_entry.name: _entry.function for _entry in registry.ENTRIES})
