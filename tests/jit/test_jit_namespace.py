"""``numbaloss.jit``: the losses at one element or one row, from users' own ``@njit`` code.

Each elementwise loss (every variant of its reference case) is called inside a
user's ``@njit`` loop over arrays and compared with the public function's
``reduction='none'`` values, gradients and Hessians, float32 and float64; the
softmax losses likewise over the rows of a matrix.  Also: calls from Python, the
namespace against the registry (names and signatures), NaN outside a loss's
domain, a user's ``cache=True`` function loaded from numba's cache in a fresh
process, and that importing the namespace compiles nothing.
"""

import inspect
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest
from numba import njit

import numbaloss as nl
import numbaloss.jit as nlj
from numbaloss._core import registry
from numbaloss.testing.elementwise import CASES, NAMES
from tests.conftest import assert_close

ROOT = pathlib.Path(nl.__file__).resolve().parent.parent
DTYPES = [np.float32, np.float64]
#: the public keywords that have no meaning for one element or one row
NOT_PER_ELEMENT = {"reduction"}


# --- the namespace against the registry -------------------------------------------------


def test_namespace_is_every_loss_with_a_hessian():
    assert nlj.__all__ == registry.names(with_hessian=True)
    for name in nlj.__all__:
        assert callable(getattr(nlj, name))


@pytest.mark.parametrize("name", registry.names(with_hessian=True))
def test_signature_is_the_public_one_without_reduction(name):
    public = inspect.signature(inspect.unwrap(getattr(nl, name))).parameters.values()
    expected = [
        (p.name, p.default)
        for p in public
        if p.kind is not p.KEYWORD_ONLY and p.name not in NOT_PER_ELEMENT
    ]
    if registry.entry(name).family != "elementwise":  # rows: the outputs too
        expected += [("grad_out", None), ("hess_out", None)]
    got = inspect.signature(getattr(nlj, name).py_func).parameters.values()
    assert [(p.name, p.default) for p in got] == expected


def test_import_compiles_nothing_and_import_numbaloss_does_not_import_it():
    child = (
        "import sys, numbaloss\n"
        "assert 'numbaloss.jit' not in sys.modules\n"
        "import numbaloss.jit as nlj\n"
        "compiled = [n for n in nlj.__all__ if getattr(nlj, n).signatures]\n"
        "assert not compiled, compiled\n"
        "print('ok')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", child], capture_output=True, text=True, cwd=ROOT, timeout=300
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


# --- elementwise: from a user's @njit loop -------------------------------------------------


def _user_loop(name, kinds):
    """A user's ``@njit`` function that loops over arrays calling ``numbaloss.jit.<name>``.

    It takes the loss's array arguments, then its options (``kinds`` maps each to
    ``"array"``, indexed per element, or ``"scalar"``, a number, a bool or None),
    and returns the loss, gradient(s) and second derivative(s)
    of every element.  Written out per loss, with the function as a global, as a
    user would (numba needs a fixed signature).
    """
    case = CASES[name]
    pair = len(case.preds) == 2
    options = list(kinds)
    lines = [
        f"def loop({', '.join([*case.arrays, *options])}, out):",
        f"    for i in range({case.arrays[0]}.size):",
    ]
    call_args = [f"{a}[i]" for a in case.arrays]
    call_args += [f"{o}={o}[i]" if kinds[o] == "array" else f"{o}={o}" for o in options]
    call = f"f({', '.join(call_args)})"
    if pair:
        lines += [
            f"        loss, (g0, g1), (h0, h1) = {call}",
            "        out[0, i], out[1, i], out[2, i] = loss, g0, g1",
            "        out[3, i], out[4, i] = h0, h1",
        ]
    else:
        lines.append(f"        out[0, i], out[1, i], out[2, i] = {call}")
    lines.append("    return out")
    namespace = {"f": getattr(nlj, name)}
    exec("\n".join(lines), namespace)
    return njit(namespace["loop"])


_LOOPS = {}


def _loop(name, options):
    kinds = {o: "array" if isinstance(v, np.ndarray) else "scalar" for o, v in options.items()}
    key = (name, tuple(kinds.items()))
    if key not in _LOOPS:
        _LOOPS[key] = _user_loop(name, kinds)
    return _LOOPS[key]


def _elementwise_inputs(name, variant_index, dtype, n=41):
    case = CASES[name]
    rng = np.random.default_rng(1234 + variant_index)
    arrays = [np.ascontiguousarray(a) for a in case.make(rng, (n,), dtype)]
    variant = {**case.options, **case.variants[variant_index]}
    options = {k: (v(rng, (n,), dtype) if callable(v) else v) for k, v in variant.items()}
    return arrays, options


def _all_options(name, options):
    """``options`` with every other option at its default (``None`` for no weight), in
    signature order: the variants of a loss then share one compiled user loop."""
    params = inspect.signature(getattr(nlj, name).py_func).parameters.values()
    return {p.name: options.get(p.name, p.default) for p in params if p.default is not p.empty}


def _public(name, arrays, options):
    loss, grad, hess = getattr(nl, name)(
        *arrays, **options, reduction="none", return_grad=True, return_hess=True
    )
    as_tuple = lambda g: g if isinstance(g, tuple) else (g,)  # noqa: E731
    return [loss, *as_tuple(grad), *as_tuple(hess)]


ELEMENTWISE_VARIANTS = [
    pytest.param(name, i, id=f"{name}-{i}")
    for name in NAMES
    for i in range(len(CASES[name].variants))
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,variant", ELEMENTWISE_VARIANTS)
def test_elementwise_from_a_users_njit_loop(name, variant, dtype):
    arrays, options = _elementwise_inputs(name, variant, dtype)
    expected = _public(name, arrays, options)
    options = _all_options(name, options)
    loop = _loop(name, options)
    out = np.empty((len(expected), arrays[0].size), expected[0].dtype)
    got = loop(*arrays, *options.values(), out)
    assert got.shape[0] == len(expected)
    for k, (g, e) in enumerate(zip(got, expected)):
        assert e.dtype == np.dtype(dtype)
        assert_close(g, e, dtype, scale=4, err_msg=f"{name} output {k}")


@pytest.mark.parametrize("name", NAMES)
def test_elementwise_from_python(name):
    arrays, options = _elementwise_inputs(name, 0, np.float64, n=3)
    expected = _public(name, arrays, options)
    f = getattr(nlj, name)
    for i in range(3):
        kw = {k: (v[i] if isinstance(v, np.ndarray) else v) for k, v in options.items()}
        result = f(*(a[i] for a in arrays), **kw)
        flat = [result[0], *np.ravel(result[1]), *np.ravel(result[2])]
        assert_close(flat, [e[i] for e in expected], np.float64)


def test_elementwise_result_dtype_follows_the_floating_arguments():
    @njit
    def user(x, y, w):
        return nlj.huber_loss(x, y, 0.5), nlj.huber_loss(x, y, 0.5, w)

    (l32, g32, h32), (l64, g64, h64) = user(np.float32(0.25), np.float32(2.0), 3.0)
    got = user.nopython_signatures[0].return_type
    assert [str(t) for t in got[0]] == ["float32"] * 3  # float32 operands, float64 delta
    assert [str(t) for t in got[1]] == ["float64"] * 3  # a float64 weight
    assert (l32, g32, h32) == (np.float32(0.5 * (1.75 - 0.25)), np.float32(-0.5), 0.0)
    assert (l64, g64, h64) == (3 * l32, 3 * g32, 0.0)


def test_elementwise_outside_the_domain_is_nan():
    assert np.isnan(nlj.binary_cross_entropy(1.5, 1.0)).all()
    assert np.isnan(np.ravel(nlj.gaussian_nll_loss(0.0, 1.0, -1.0)[1])).all()
    assert np.isnan(nlj.gamma_loss(0.0, -1.0)).all()  # gamma needs target > 0
    assert not np.isnan(nlj.gamma_loss(0.0, 1.0)).any()


# --- softmax rows ------------------------------------------------------------------------


@njit
def _rows_loop(f, x, target, grads, hesses):
    out = np.empty(x.shape[0], x.dtype)
    for r in range(x.shape[0]):
        out[r] = f(x[r], target[r], grad_out=grads[r], hess_out=hesses[r])
    return out


@njit
def _cross_entropy_rows(x, target, weight, ignore_index, label_smoothing, grads, hesses):
    """A user's loop over rows, with the options given by keyword."""
    out = np.empty(x.shape[0], x.dtype)
    for r in range(x.shape[0]):
        out[r] = nlj.cross_entropy(
            x[r],
            target[r],
            weight=weight,
            ignore_index=ignore_index,
            label_smoothing=label_smoothing,
            grad_out=grads[r],
            hess_out=hesses[r],
        )
    return out


@njit
def _focal_rows(x, target, gamma, weight, grads, hesses):
    out = np.empty(x.shape[0], x.dtype)
    for r in range(x.shape[0]):
        out[r] = nlj.focal_loss(x[r], target[r], gamma, weight, -100, grads[r], hesses[r])
    return out


@njit
def _nll_rows(x, target, weight, grads, hesses):
    out = np.empty(x.shape[0], x.dtype)
    for r in range(x.shape[0]):
        out[r] = nlj.nll_loss(x[r], target[r], weight, grad_out=grads[r], hess_out=hesses[r])
    return out


@njit
def _value_only_rows(x, target, weight):
    out = np.empty(x.shape[0], x.dtype)
    for r in range(x.shape[0]):
        out[r] = nlj.cross_entropy(x[r], target[r], weight) + nlj.focal_loss(
            x[r], target[r], 1.5, weight
        )
    return out


def _rows(dtype, n_classes, seed=5):
    rng = np.random.default_rng(seed)
    x = (rng.normal(size=(9, n_classes)) * 3).astype(dtype)
    t = rng.integers(0, n_classes, 9)
    t[3] = -100  # ignored
    w = rng.uniform(0.3, 2.0, n_classes).astype(dtype)
    return x, t, w


def _compare_rows(dtype, got, grads, hesses, expected):
    loss, grad, hess = expected
    assert_close(got, loss, dtype, scale=4)
    assert_close(grads, grad, dtype, scale=4)
    assert_close(hesses, hess, dtype, scale=4)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_classes", [5, 40])
@pytest.mark.parametrize(
    "options",
    [{}, {"weight": True, "label_smoothing": 0.1}, {"ignore_index": 2}, {"probabilities": True}],
    ids=["plain", "weighted-smoothed", "ignore-2", "probabilities"],
)
def test_cross_entropy_rows(dtype, n_classes, options):
    x, t, w = _rows(dtype, n_classes)
    weight = w if options.get("weight") else None
    smoothing = options.get("label_smoothing", 0.0)
    ignore_index = options.get("ignore_index", -100)
    t[3] = ignore_index
    if options.get("probabilities"):
        rng = np.random.default_rng(9)
        t = rng.dirichlet(np.ones(n_classes), x.shape[0]).astype(dtype)
        weight, smoothing = w, 0.2
    expected = nl.cross_entropy(
        x,
        t,
        weight=weight,
        ignore_index=ignore_index,
        label_smoothing=smoothing,
        reduction="none",
        return_grad=True,
        return_hess=True,
    )
    grads, hesses = np.full_like(x, np.nan), np.full_like(x, np.nan)
    got = _cross_entropy_rows(x, t, weight, ignore_index, smoothing, grads, hesses)
    _compare_rows(dtype, got, grads, hesses, expected)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0])
def test_focal_rows(dtype, gamma):
    x, t, w = _rows(dtype, 7)
    expected = nl.focal_loss(
        x, t, gamma=gamma, weight=w, reduction="none", return_grad=True, return_hess=True
    )
    grads, hesses = np.full_like(x, np.nan), np.full_like(x, np.nan)
    got = _focal_rows(x, t, gamma, w, grads, hesses)
    _compare_rows(dtype, got, grads, hesses, expected)


@pytest.mark.parametrize("dtype", DTYPES)
def test_nll_rows(dtype):
    x, t, w = _rows(dtype, 6)
    logp = np.log(nl.softmax(x, axis=1))
    expected = nl.nll_loss(logp, t, weight=w, reduction="none", return_grad=True, return_hess=True)
    grads, hesses = np.full_like(x, np.nan), np.full_like(x, np.nan)
    got = _nll_rows(logp, t, w, grads, hesses)
    _compare_rows(dtype, got, grads, hesses, expected)


def test_rows_with_the_function_as_an_argument_and_values_only():
    x, t, w = _rows(np.float64, 6)
    grads, hesses = np.empty_like(x), np.empty_like(x)
    got = _rows_loop(nlj.cross_entropy, x, t, grads, hesses)
    _compare_rows(
        np.float64,
        got,
        grads,
        hesses,
        nl.cross_entropy(x, t, reduction="none", return_grad=True, return_hess=True),
    )
    both = nl.cross_entropy(x, t, w, reduction="none") + nl.focal_loss(
        x, t, 1.5, w, reduction="none"
    )
    assert_close(_value_only_rows(x, t, w), both, np.float64)


def test_rows_from_python_in_place_and_errors():
    x, t, w = _rows(np.float64, 6)
    loss, grad, hess = nl.cross_entropy(
        x, t, w, label_smoothing=0.1, reduction="none", return_grad=True, return_hess=True
    )
    for r in range(x.shape[0]):
        row = x[r].copy()
        h = np.empty_like(row)
        # the gradient written over the logits themselves
        value = nlj.cross_entropy(row, t[r], w, -100, 0.1, row, h)
        assert_close(value, loss[r], np.float64)
        assert_close(row, grad[r], np.float64)
        assert_close(h, hess[r], np.float64)
    for name, kw in [("cross_entropy", {"label_smoothing": 0.1}), ("focal_loss", {})]:
        loss, grad, hess = getattr(nl, name)(
            x, t, weight=w, **kw, reduction="none", return_grad=True, return_hess=True
        )
        f = getattr(nlj, name)
        for r in range(x.shape[0]):
            g = np.empty_like(x[r])
            assert_close(f(x[r], t[r], weight=w, **kw, grad_out=g), loss[r], np.float64)
            assert_close(g, grad[r], np.float64)
            row = x[r].copy()  # the Hessian alone, written over the logits
            assert_close(f(row, t[r], weight=w, **kw, hess_out=row), loss[r], np.float64)
            assert_close(row, hess[r], np.float64)
    with pytest.raises(IndexError, match="out of bounds"):
        nlj.cross_entropy(x[0], 6)
    with pytest.raises(IndexError, match="out of bounds"):
        nlj.nll_loss(x[0], -1)
    with pytest.raises(ValueError, match="grad_out"):
        nlj.focal_loss(x[0], 1, grad_out=np.empty(5))


# --- a user's cached function ------------------------------------------------------------

USER_MODULE = """
import numpy as np
from numba import njit
import numbaloss.jit as nlj


@njit(cache=True)
def objective(pred, y, x, t):
    grad = np.empty_like(pred)
    hess = np.empty_like(pred)
    total = 0.0
    for i in range(pred.size):
        value, grad[i], hess[i] = nlj.pseudo_huber_loss(pred[i], y[i], 2.0)
        total += value
    g = np.empty(x.shape[1])
    for r in range(x.shape[0]):
        total += nlj.focal_loss(x[r], t[r], 2.0, grad_out=g)
    return total, grad, hess
"""

USER_CHILD = """
import numpy as np, user_objective as u
pred = np.linspace(-3.0, 3.0, 9)
x = np.arange(12.0).reshape(3, 4) / 5
total, grad, hess = u.objective(pred, np.zeros(9), x, np.array([0, 3, 1]))
hits = sum(u.objective.stats.cache_hits.values())
print(hits, repr(total), grad.tobytes().hex(), hess.tobytes().hex())
"""


def test_a_users_cached_function_is_loaded_from_the_cache(tmp_path):
    (tmp_path / "user_objective.py").write_text(USER_MODULE)
    env = dict(os.environ)
    env["NUMBA_CACHE_DIR"] = str(tmp_path / "cache")
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), str(ROOT)])
    runs = []
    for _ in range(2):
        out = subprocess.run(
            [sys.executable, "-c", USER_CHILD],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=600,
        )
        assert out.returncode == 0, out.stderr
        runs.append(out.stdout.split())
    assert runs[0][0] == "0" and runs[1][0] == "1"  # compiled, then loaded
    assert runs[0][1:] == runs[1][1:]
    pred = np.linspace(-3.0, 3.0, 9)
    _, grad, hess = nl.pseudo_huber_loss(
        pred, np.zeros(9), 2.0, reduction="none", return_grad=True, return_hess=True
    )
    assert_close(np.frombuffer(bytes.fromhex(runs[1][2]), np.float64), grad, np.float64)
    assert_close(np.frombuffer(bytes.fromhex(runs[1][3]), np.float64), hess, np.float64)
    x = np.arange(12.0).reshape(3, 4) / 5
    expected = nl.pseudo_huber_loss(pred, np.zeros(9), 2.0, reduction="sum") + nl.focal_loss(
        x, np.array([0, 3, 1]), 2.0, reduction="sum"
    )
    assert_close(float(runs[1][1]), expected, np.float64)
