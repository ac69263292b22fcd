"""The command line: ``numbaloss demo``, ``bench`` and ``compile`` (``python -m numbaloss``)."""

import argparse
import io
import os
import pathlib
import subprocess
import sys

import pytest

import numbaloss
from numbaloss import _bench, _demo, cuda_check
from numbaloss.__main__ import _parser, bench, main
from numbaloss._core import registry

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _run(*args, env=None, check=True):
    """``python -m numbaloss *args`` in a fresh process; the completed process."""
    full = dict(os.environ, **(env or {}))
    return subprocess.run(
        [sys.executable, "-m", "numbaloss", *args],
        capture_output=True,
        text=True,
        check=check,
        env=full,
        cwd=ROOT,
    )


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
    assert "after 2 epochs" in out
    assert "on 3,200 generated samples (800 more held out for the test accuracy)" in out


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


def test_demo_says_one_epoch_and_what_is_held_out():
    out = io.StringIO()
    _demo.train_mlp("mse", epochs=1, samples=10, out=out)
    text = out.getvalue()
    assert "after 1 epoch in" in text and "1 epochs" not in text
    assert "on 8 generated samples (2 more held out for the test accuracy)" in text


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--samples", "1"], "samples must be at least 10"),
        (["--samples", "9"], "samples must be at least 10"),
        (["--epochs", "0"], "epochs must be at least 1"),
        (["--epochs", "-1"], "epochs must be at least 1"),
        (["--epochs", "1.5"], "not a whole number"),
    ],
)
def test_demo_refuses_sizes_that_cannot_train(argv, message, capsys):
    with pytest.raises(SystemExit) as info:
        main(["demo", *argv])
    assert info.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    ("kwargs", "message"), [({"samples": 1}, "--samples"), ({"epochs": 0}, "--epochs")]
)
def test_demo_function_refuses_sizes_that_cannot_train(kwargs, message):
    """``--samples 1`` was a ZeroDivisionError, ``--epochs -1`` printed "after -1 epochs"."""
    err = io.StringIO()
    assert _demo.demo(loss="mse", err=err, **kwargs) == 2
    assert message in err.getvalue()


def test_demo_says_when_it_compiles_and_that_the_result_is_cached(tmp_path):
    """With an empty cache the demo says it compiles; the next run loads the kernels."""
    env = {"NUMBA_CACHE_DIR": str(tmp_path)}
    args = ("demo", "--loss", "l1", "--epochs", "1", "--samples", "100")
    first = _run(*args, env=env).stdout
    assert "compiling numbaloss.l1_loss's CPU kernels" in first
    assert "cached on disk by numba: the next run loads them" in first
    assert first.index("compiling") < first.index("epoch  1/1")
    assert list(tmp_path.rglob("*.nbi")), "nothing was written to the cache"
    second = _run(*args, env=env).stdout
    assert "compiling" not in second
    assert second.strip().splitlines()[-1].startswith("done: test accuracy")


def test_the_demo_losses_are_in_the_registry():
    for spec in _demo.DEMO_LOSSES:
        assert registry.entry(spec.function).short_name == spec.short
        assert _demo.resolve_loss(spec.short) == (spec.short, spec)
        assert _demo.resolve_loss(spec.function) == (spec.short, spec)


def test_short_names_are_unique_and_resolve():
    shorts = [e.short_name for e in registry.ENTRIES]
    assert len(shorts) == len(set(shorts))
    for e in registry.ENTRIES:
        assert registry.lookup(e.short_name) is e
        assert registry.lookup(e.name) is e
    assert registry.lookup("mse").name == "mse_loss"
    assert registry.lookup("bce_with_logits").name == "binary_cross_entropy_with_logits"
    assert registry.lookup("no_such_loss") is None


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


def test_bench_takes_the_demos_short_names():
    """``bench mse`` was refused while ``demo --loss mse`` was accepted."""
    for spec in _demo.DEMO_LOSSES:
        parsed = _parser().parse_args(["bench", spec.short])
        assert parsed.losses == [spec.short]
    out, err = io.StringIO(), io.StringIO()
    args = _parser().parse_args(
        ["bench", "mse", "bce_with_logits", "--sizes", "1000", "--repeat", "1"]
    )
    assert bench(args, out=out, err=err) == 0, err.getvalue()
    table = out.getvalue()
    assert "mse_loss" in table and "binary_cross_entropy_with_logits" in table


@pytest.mark.parametrize("repeat", ["0", "-1"])
def test_bench_refuses_no_runs(repeat, capsys):
    """``--repeat 0`` printed "median of 0 runs"."""
    with pytest.raises(SystemExit) as info:
        main(["bench", "l1", "--repeat", repeat])
    assert info.value.code == 2
    assert "repeat must be at least 1" in capsys.readouterr().err


def test_bench_times_numpy_as_often_as_it_says(monkeypatch):
    """The NumPy column ran ``repeat // 2`` times while the header said ``repeat``."""
    counts = []
    real = _bench.median_time

    def counting(func, repeat=5, warmup=1):
        counts.append(repeat)
        return real(func, repeat, warmup)

    monkeypatch.setattr(_bench, "median_time", counting)
    _bench.compare(["l1_loss"], [1000], repeat=4, torch=False)
    assert counts == [4, 4]  # numbaloss, NumPy


def test_bench_without_pytorch_says_it_is_not_installed(monkeypatch):
    monkeypatch.setattr(_bench, "torch_installed", lambda: False)
    out = io.StringIO()
    args = _parser().parse_args(["bench", "l1", "--sizes", "1000", "--repeat", "1"])
    assert bench(args, out=out, err=io.StringIO()) == 0
    text = out.getvalue()
    assert "PyTorch is not installed" in text
    assert "no such function in PyTorch" not in text
    assert "median of 1 timed run of each library" in text


def test_bench_refuses_more_threads_than_cpus():
    from numbaloss._core import parallel

    err = io.StringIO()
    args = _parser().parse_args(["bench", "l1", "--threads", str(parallel.available_cpus() + 1)])
    assert bench(args, out=io.StringIO(), err=err) == 2
    assert "--threads" in err.getvalue() and "CPUs" in err.getvalue()


def _subparsers(parser):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action.choices
    return {}


def test_every_option_shows_its_default_and_choices():
    parser = _parser()
    assert parser.format_usage().startswith("usage: numbaloss ")  # the console script
    assert "python -m numbaloss" in parser.format_help()
    for name, sub in _subparsers(parser).items():
        text = " ".join(sub.format_help().split())  # argparse wraps lines
        for action in sub._actions:
            if action.help == argparse.SUPPRESS or "-h" in action.option_strings:
                continue
            assert action.help, f"{name} {action.dest} has no help"
            if action.option_strings or action.nargs == "*":
                shown = sub.formatter_class("x")._get_help_string(action)
                if action.default is None or action.default == []:
                    assert "(default: " in shown, f"{name} {action.dest}: say the default"
                else:
                    assert f"(default: {action.default})" in text, f"{name} {action.dest}"
            if action.choices:
                for choice in action.choices:
                    assert choice in text, f"{name} {action.dest}: {choice}"
    demo_help = " ".join(_subparsers(parser)["demo"].format_help().split())
    for short in _demo.choices():
        assert short in demo_help  # --loss lists its choices
    assert "(default: cross_entropy)" in demo_help
    compile_help = " ".join(_subparsers(parser)["compile"].format_help().split())
    for family in registry.FAMILIES:
        assert family in compile_help


def test_cuda_check_help_keeps_the_examples_line_breaks(capsys):
    with pytest.raises(SystemExit) as info:
        cuda_check.main(["--help"])
    assert info.value.code == 0
    lines = capsys.readouterr().out.splitlines()
    for example in (
        "python -m numbaloss.cuda_check --bench-only --size 100000000",
        "python -m numbaloss.cuda_check --ptx --cc 9.0  # no GPU needed: compile every kernel to PTX",
    ):
        assert any(line.strip() == example for line in lines), example
    text = " ".join(lines)
    assert "(default: 100000000)" in text and "(default: 9.0)" in text


def test_the_console_script_is_named_in_pyproject_and_the_readme():
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'numbaloss = "numbaloss.__main__:main"' in pyproject
    readme = (ROOT / "README.md").read_text()
    assert "numbaloss demo" in readme.replace("python -m numbaloss demo", "")


def test_compile_fills_the_cache_and_says_what_it_compiled(tmp_path):
    env = {"NUMBA_CACHE_DIR": str(tmp_path)}
    first = _run("compile", "l1", env=env)
    assert "elementwise: 1 function (l1_loss), 8 calls" in first.stdout
    assert "kernel specialisations compiled in" in first.stdout
    assert f"numba cached them in {tmp_path}" in first.stdout
    assert "compiling l1_loss float64 [" + "#" * 30 + "]" in first.stderr  # the bar, full
    assert list(tmp_path.rglob("*.nbi"))
    second = _run("compile", "l1_loss", env=env)
    assert "nothing to compile: all was in numba's on-disk cache" in second.stdout
    assert "0 kernel specialisations compiled" in second.stdout


def test_compile_takes_families_and_refuses_unknown_names(capsys):
    assert main(["compile", "no_such_family"]) == 2
    err = capsys.readouterr().err
    assert "no_such_family" in err and "families: " + ", ".join(registry.FAMILIES) in err
    from numbaloss import _compiling

    for name in registry.names("softmax"):
        forms = _compiling.calls(name)
        assert {d for d, _, _ in forms} == set(_compiling.DTYPES)
        assert any(g for _, _, g in forms) == bool(registry.entry(name).predictions)
