"""Arguments every loss shares: flags must be bools, ragged lists are named."""

import inspect

import numpy as np
import pytest

import numbaloss as nl
from numbaloss import _bench
from numbaloss._core import registry

NAMES = registry.names()


def _flags(name):
    """The flags of ``name``: its parameters with a bool default (``return_grad``, ...)."""
    params = inspect.signature(getattr(nl, name)).parameters.values()
    return [p.name for p in params if isinstance(p.default, bool)]


FLAG_CASES = [(name, flag) for name in NAMES for flag in _flags(name)]


def test_the_flags_are_found():
    flags = {flag for _, flag in FLAG_CASES}
    assert {"return_grad", "log_input", "full", "log_target", "swap", "zero_infinity"} <= flags
    assert "keepdims" in flags  # logsumexp's


@pytest.mark.parametrize("value", ["yes", 1, 0, None, 1.0, np.int64(1), [True]])
@pytest.mark.parametrize(("name", "flag"), FLAG_CASES)
def test_a_flag_that_is_not_a_bool_is_a_type_error_naming_it(name, flag, value):
    load = _bench.workload(name, 16, np.float64)
    options = {k: v for k, v in load.options.items() if k != flag}
    with pytest.raises(TypeError, match=f"^{flag} must be a bool"):
        load.func(*load.arrays, **options, **{flag: value})


def _flat(result):
    if isinstance(result, (tuple, list)):
        return [a for r in result for a in _flat(r)]
    return [np.asarray(result)]


@pytest.mark.parametrize("value", [False, True])
@pytest.mark.parametrize(("name", "flag"), FLAG_CASES)
def test_numpy_bools_are_flags(name, flag, value):
    if flag == "return_grad" and value and not registry.entry(name).predictions:
        return  # zero_one_loss and the primitives: no gradient to ask for
    load = _bench.workload(name, 16, np.float64)
    options = {k: v for k, v in load.options.items() if k != flag}
    if flag == "return_hess" and value:
        options["return_grad"] = True  # a Hessian comes only with the gradient
    got = load.func(*load.arrays, **options, **{flag: np.bool_(value)})
    want = load.func(*load.arrays, **options, **{flag: value})
    for a, b in zip(_flat(got), _flat(want), strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_positional_flag_is_checked():
    x, y = np.ones(3), np.ones(3)
    with pytest.raises(TypeError, match="^log_input must be a bool"):
        nl.poisson_nll_loss(x, y, "yes")
    with pytest.raises(TypeError, match="^full must be a bool"):
        nl.poisson_nll_loss(x, y, True, 1)


def test_return_grad_yes_was_accepted_before():
    """The case of the report: ``return_grad="yes"`` returned ``(loss, grad)``."""
    with pytest.raises(TypeError, match="return_grad must be a bool.*str 'yes'"):
        nl.mse_loss([1.0, 2.0], [0.0, 0.0], return_grad="yes")


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: nl.mse_loss([[1.0, 2.0], [3.0]], [[0.0, 0.0], [0.0, 0.0]]), "input"),
        (lambda: nl.mse_loss([[1.0, 2.0], [3.0, 4.0]], [[0.0], [0.0, 0.0]]), "target"),
        (lambda: nl.cross_entropy([[1.0, 2.0], [3.0]], [0, 1]), "input"),
        (lambda: nl.multi_margin_loss([[1.0, 2.0], [3.0]], [0, 1]), "input"),
        (lambda: nl.softmax([[1.0, 2.0], [3.0]]), "x"),
        (lambda: nl.ctc_loss(np.zeros((4, 1, 3)), [[1, 2], [1]], [4], [2]), "targets"),
        (lambda: nl.mse_loss([1.0], [0.0], grad_output=[[1.0], []]), "grad_output"),
    ],
)
def test_a_ragged_list_is_named(call, name):
    with pytest.raises(ValueError, match=f"^{name} is a ragged nested sequence") as info:
        call()
    assert "inhomogeneous" not in str(info.value)
