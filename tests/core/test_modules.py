"""The ``torch.nn``-style classes: their attributes are the options of the next call."""

import inspect

import numpy as np
import pytest

import numbaloss as nl
from numbaloss import _bench
from numbaloss._core import registry

CLASSES = [e for e in registry.ENTRIES if e.cls]


def _flat(result):
    if isinstance(result, (tuple, list)):
        return [a for r in result for a in _flat(r)]
    return [np.asarray(result)]


def test_setting_reduction_changes_the_next_call_and_the_repr():
    """The case of the report: the call read a copy of the options taken at construction."""
    x = np.array([[2.0, 0.0, 1.0], [0.5, 1.5, -1.0]])
    t = np.array([0, 2])
    ce = nl.CrossEntropyLoss()
    assert ce(x, t) == nl.cross_entropy(x, t)
    ce.reduction = "sum"
    assert ce(x, t) == nl.cross_entropy(x, t, reduction="sum")
    assert "reduction='sum'" in repr(ce)
    ce.label_smoothing = 0.1
    loss, grad = ce(x, t, return_grad=True)
    want, want_grad = nl.cross_entropy(x, t, reduction="sum", label_smoothing=0.1, return_grad=True)
    assert loss == want
    np.testing.assert_array_equal(grad, want_grad)
    assert repr(ce) == (
        "CrossEntropyLoss(weight=None, ignore_index=-100, reduction='sum', label_smoothing=0.1)"
    )


def test_an_invalid_attribute_raises_the_functions_error_at_the_call():
    x, t = np.zeros((2, 3)), np.array([0, 1])
    ce = nl.CrossEntropyLoss()
    ce.reduction = "total"  # setting is allowed, as in torch.nn
    with pytest.raises(ValueError) as from_class:
        ce(x, t)
    with pytest.raises(ValueError) as from_function:
        nl.cross_entropy(x, t, reduction="total")
    assert str(from_class.value) == str(from_function.value)
    ctc = nl.CTCLoss()
    ctc.zero_infinity = "yes"
    with pytest.raises(TypeError, match="zero_infinity must be a bool"):
        ctc(np.zeros((4, 1, 3)), [[1]], [4], [1])


@pytest.mark.parametrize("entry", CLASSES, ids=[e.cls for e in CLASSES])
def test_every_class_reads_its_attributes_at_each_call(entry):
    cls = getattr(nl, entry.cls)
    load = _bench.workload(entry.name, 16, np.float64)
    params = inspect.signature(cls).parameters
    # the options of the workload, given to the constructor, and changed afterwards
    options = {k: v for k, v in load.options.items() if k in params}
    module = cls(**options)
    for name, value in options.items():
        assert getattr(module, name) == value
    for reduction in ("sum", "none"):
        if "reduction" not in params:
            continue
        module.reduction = reduction
        got = module(*load.arrays, return_grad=bool(entry.predictions))
        want = load.func(
            *load.arrays,
            **{**options, "reduction": reduction},
            **({"return_grad": True} if entry.predictions else {}),
        )
        for a, b in zip(_flat(got), _flat(want), strict=True):
            np.testing.assert_array_equal(a, b)
        assert f"reduction={reduction!r}" in repr(module)


def test_the_options_are_attributes_in_the_repr_in_constructor_order():
    loss_fn = nl.SmoothL1Loss(beta=0.5)
    loss_fn.beta = 0.25
    assert repr(loss_fn) == "SmoothL1Loss(reduction='mean', beta=0.25)"
    x, y = np.array([0.0, 2.0]), np.array([0.1, 0.0])
    assert loss_fn(x, y) == nl.smooth_l1_loss(x, y, beta=0.25)
