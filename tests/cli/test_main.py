"""The command line: ``python -m numbaloss demo`` and ``python -m numbaloss bench``."""

import io
import subprocess
import sys

import numbaloss
from numbaloss import _bench, _demo
from numbaloss.__main__ import _parser, bench


def test_demo_trains_and_prints_a_final_line(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "numbaloss", "demo", "--epochs", "2", "--samples", "4000"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    final = out.strip().splitlines()[-1]
    assert final.startswith("done: test accuracy")
    accuracy = float(final.split()[3].rstrip("%")) / 100
    assert accuracy > 0.6  # well above chance (25% or 50%)
    assert "epoch  2/2 [" in out
    if not hasattr(numbaloss, "cross_entropy"):
        assert "falling back to logistic regression" in out


def test_demo_with_another_loss():
    out = io.StringIO()
    accuracy = _demo.train_mlp("mse", epochs=2, samples=4000, out=out)
    assert accuracy > 0.5
    assert "numbaloss.mse_loss" in out.getvalue()


def test_demo_rejects_an_unknown_loss():
    err = io.StringIO()
    assert _demo.demo(loss="no_such_loss", err=err) == 2
    assert "unknown --loss 'no_such_loss'" in err.getvalue()
    assert "mse" in err.getvalue()  # lists what is available


def test_demo_on_cuda_says_why_when_it_cannot():
    problem = _demo.cuda_problem("mse_loss")
    if problem is None:
        return  # a GPU and the CUDA path exist here; nothing to explain
    err = io.StringIO()
    assert _demo.demo(loss="mse", device="cuda", err=err) == 2
    assert "--device cuda" in err.getvalue() and problem in err.getvalue()


def test_every_installed_loss_has_a_benchmark_workload():
    assert set(_bench.available()) == set(numbaloss.functional.__all__)
    for name in _bench.available():
        load = _bench.workload(name, 64)
        load.run_numbaloss()


def test_bench_prints_a_table():
    out, err = io.StringIO(), io.StringIO()
    args = _parser().parse_args(["bench", "l1_loss", "--sizes", "1000", "--repeat", "1"])
    assert bench(args, out=out, err=err) == 0
    table = out.getvalue()
    assert "l1_loss" in table and "numbaloss (ms)" in table and "PyTorch" in table


def test_bench_rejects_an_unknown_loss():
    err = io.StringIO()
    args = _parser().parse_args(["bench", "no_such_loss"])
    assert bench(args, out=io.StringIO(), err=err) == 2
    assert "no_such_loss" in err.getvalue()
