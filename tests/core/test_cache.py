"""numba's on-disk cache of numbaloss kernels: concurrent compiles and upgrades.

Each test runs fresh interpreters with their own ``NUMBA_CACHE_DIR`` (a
temporary directory), so nothing here depends on or disturbs the user's cache.
"""

import os
import pathlib
import shutil
import subprocess
import sys

import numpy as np

import numbaloss

ROOT = pathlib.Path(numbaloss.__file__).resolve().parent.parent

# One small, fixed problem; the child prints the loss and gradient exactly.
CHILD = """
import numpy as np, numbaloss as nl
x = np.linspace(-2.0, 3.0, 7)
t = np.linspace(1.0, -1.0, 7)
loss, grad = nl.l1_loss(x, t, return_grad=True)
print(repr(float(loss)), grad.tobytes().hex())
"""


def _expected():
    x = np.linspace(-2.0, 3.0, 7)
    t = np.linspace(1.0, -1.0, 7)
    return float(np.abs(x - t).mean()), np.sign(x - t) / 7


def _env(cache_dir, pythonpath=ROOT):
    env = dict(os.environ)
    env["NUMBA_CACHE_DIR"] = str(cache_dir)
    env["PYTHONPATH"] = str(pythonpath)
    return env


def _parse(stdout):
    value, hexgrad = stdout.split()
    return float(value), np.frombuffer(bytes.fromhex(hexgrad), np.float64)


def test_processes_compiling_at_once_share_a_correct_cache(tmp_path):
    cache = tmp_path / "cache"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD],
            env=_env(cache),
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    outputs = [p.communicate(timeout=300) for p in procs]
    for proc, (_out, err) in zip(procs, outputs):
        assert proc.returncode == 0, err
    value, grad = _expected()
    results = [_parse(out) for out, _ in outputs]
    # a later process is served from what the three wrote
    late = subprocess.run(
        [sys.executable, "-c", CHILD],
        env=_env(cache),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    results.append(_parse(late.stdout))
    for got_value, got_grad in results:
        assert got_value == value
        np.testing.assert_array_equal(got_grad, grad)
    assert list(cache.rglob("*.nbi")), "the kernels were not cached on disk"


def _edit_and_rerun(tmp_path, module, old, new):
    """Run the child on a copy of the package, edit ``module`` as an upgrade would, run again.

    Returns the parsed outputs of the two runs, which share one cache directory.
    """
    package = tmp_path / "pkg"
    shutil.copytree(
        ROOT / "numbaloss", package / "numbaloss", ignore=shutil.ignore_patterns("__pycache__")
    )
    env = _env(tmp_path / "cache", package)
    runs = [
        subprocess.run(
            [sys.executable, "-c", CHILD],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=True,
        )
    ]
    path = package / "numbaloss" / module
    source = path.read_text()
    assert source.count(old) == 1
    path.write_text(source.replace(old, new))
    stat = path.stat()
    os.utime(path, (stat.st_atime, stat.st_mtime + 10))  # as an upgrade leaves it
    runs.append(
        subprocess.run(
            [sys.executable, "-c", CHILD],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=True,
        )
    )
    return [_parse(run.stdout) for run in runs]


def test_editing_a_kernel_source_invalidates_its_cache(tmp_path):
    """numba keys the cache index on the source file's mtime and size: an upgrade recompiles."""
    (first, _), (second, second_grad) = _edit_and_rerun(
        tmp_path,
        "elementwise/cpu.py",
        # the kernel's own lines (the point functions live in elementwise/points.py)
        "loss_rows[j] = loss\n                g = at(gout, i)\n",
        "loss_rows[j] = 2 * loss\n                g = 2 * at(gout, i)\n",
    )
    value, grad = _expected()
    assert first == value
    assert second == 2 * value
    np.testing.assert_array_equal(second_grad, 2 * grad)


def test_editing_an_inlined_helper_module_invalidates_the_kernels(tmp_path):
    """Kernels inline helpers from other modules; the cache key covers the whole package."""
    (first, _), (second, _) = _edit_and_rerun(
        tmp_path,
        "_core/traits.py",
        "return lambda x, i: x[i]\n",
        "return lambda x, i: x[i] + x[i]\n",
    )
    value, _ = _expected()
    assert first == value
    assert second == 2 * value  # every operand read twice over
