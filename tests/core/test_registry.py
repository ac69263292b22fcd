"""The registry of public functions, and the public API it derives, pinned."""

import importlib
import inspect
import json
import pathlib

import pytest

import numbaloss as nl
from numbaloss._core import registry, stubs
from tests.core.public_api import PATH, public_dir

PINNED = json.loads(PATH.read_text())
NAMES = registry.names()


def test_public_names_are_pinned():
    """``dir(numbaloss)``'s public names: adding or removing one is a decision, made here
    (``python -m tests.core.public_api`` writes the new snapshot)."""
    assert public_dir() == sorted(PINNED["dir"])
    assert sorted(nl.functional.__all__) == sorted(PINNED["functional"])
    assert sorted(nl.modules.__all__) == sorted(PINNED["classes"])


@pytest.mark.parametrize("name", PINNED["other"])
def test_other_signatures_are_pinned(name):
    assert str(inspect.signature(getattr(nl, name))) == PINNED["other"][name]


@pytest.mark.parametrize("name", PINNED["signatures"])
def test_function_signatures_are_pinned(name):
    assert str(inspect.signature(getattr(nl, name))) == PINNED["signatures"][name]
    assert getattr(nl.functional, name) is getattr(nl, name)


@pytest.mark.parametrize("name", PINNED["class_signatures"])
def test_class_signatures_are_pinned(name):
    assert str(inspect.signature(getattr(nl, name))) == PINNED["class_signatures"][name]


def test_the_registry_lists_every_public_function_once():
    assert len(NAMES) == len(set(NAMES))
    assert sorted(NAMES) == sorted(nl.functional.__all__)
    assert sorted(registry.classes()) == sorted(nl.modules.__all__)
    for family in registry.FAMILIES:
        module = importlib.import_module(f"numbaloss.{family}")
        assert module.__all__ == registry.names(family)


@pytest.mark.parametrize("name", NAMES)
def test_entry_matches_its_function(name):
    entry = registry.entry(name)
    func = getattr(nl, name)
    params = inspect.signature(func).parameters
    for pred in entry.predictions:
        assert pred in params, f"{name}: prediction {pred!r} is not an argument"
    assert inspect.unwrap(func).__module__ == f"numbaloss.{entry.family}.losses"
    assert "{grad_doc}" not in func.__doc__
    if entry.predictions:
        assert "return_grad : bool" in func.__doc__
    if entry.cls:
        cls = getattr(nl, entry.cls)
        assert cls._function is func
        assert [p for p in inspect.signature(cls).parameters] == [
            o[0] for o in entry.options if o != "*"
        ]


@pytest.mark.parametrize("name", NAMES)
def test_every_function_has_a_reference_case(name):
    """Each registry entry has a NumPy reference in ``numbaloss.testing.<family>``."""
    entry = registry.entry(name)
    testing = importlib.import_module(f"numbaloss.testing.{entry.family}")
    assert name in testing.REFERENCES, (
        f"{name} has no reference case in numbaloss.testing.{entry.family}.REFERENCES"
    )


def test_unknown_names_are_named():
    with pytest.raises(KeyError, match="'no_such_loss' is not declared"):
        registry.entry("no_such_loss")


@pytest.mark.parametrize("path", sorted(stubs.stubs()))
def test_stubs_are_current(path):
    """The checked-in ``.pyi`` stubs match the registry; regenerate them with
    ``python -m numbaloss._core.stubs``."""
    text = (pathlib.Path(nl.__file__).parent / path).read_text()
    assert text == stubs.stubs()[path]


def test_migration_table_is_current():
    """The committed ``docs/migration_table.rst`` matches the registry; regenerate it with
    ``python -m numbaloss._core.stubs`` (the docs build also rewrites it)."""
    from numbaloss._core import migration

    path = pathlib.Path(__file__).resolve().parents[2] / migration.PATH
    assert path.is_file(), f"{migration.PATH} is missing; run python -m numbaloss._core.stubs"
    assert path.read_text() == migration.migration_table()
    for name in NAMES:
        assert f":func:`numbaloss.{name}`" in path.read_text()


def test_migration_rst_includes_the_committed_table():
    docs = pathlib.Path(__file__).resolve().parents[2] / "docs"
    assert ".. include:: migration_table.rst" in (docs / "migration.rst").read_text()


def test_class_stubs_declare_the_options_as_attributes():
    text = stubs.stubs()["modules.pyi"]
    block = text[text.index("class CrossEntropyLoss(Loss):") :].split("\n\n")[0]
    for line in (
        "    weight: Any",
        "    ignore_index: int",
        "    reduction: str",
        "    label_smoothing: float",
    ):
        assert line in block
