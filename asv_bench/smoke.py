"""Run every asv benchmark once at its smallest parameters, so none rots.

CI runs this (asv itself would build environments, which CI does not need to
time).  Exits non-zero if any setup or benchmark method raises, except for asv's
documented skip (``NotImplementedError`` in setup).
"""

import importlib
import inspect
import itertools
import pathlib
import subprocess
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

PREFIXES = ("time_", "peakmem_", "track_", "mem_", "timeraw_")


def smallest(params):
    return [min(p, key=lambda v: (isinstance(v, (int, float)) and v, str(v))) for p in params]


def run_raw(code, execute=True):
    """Run a ``timeraw_`` benchmark's code (statement, setup) once in a fresh interpreter.

    With ``execute=False`` (benchmarks marked ``smoke_run = False``, such as cold
    compiles) the code is only compiled, to catch syntax errors.
    """
    stmt, setup = (code, "") if isinstance(code, str) else code
    source = f"{setup}\n{stmt}"
    if execute:
        subprocess.run([sys.executable, "-c", source], check=True)
    else:
        compile(source, "<timeraw>", "exec")


def main():
    failures = 0
    count = 0
    for path in sorted((HERE / "benchmarks").glob("*.py")):
        if path.name.startswith("_") or path.stem == "common":
            continue
        module = importlib.import_module(f"benchmarks.{path.stem}")
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != module.__name__:
                continue
            methods = [m for m in dir(cls) if m.startswith(PREFIXES)]
            if not methods:
                continue
            params = getattr(cls, "params", [])
            if params and not isinstance(params[0], list):
                params = [params]
            combos = [tuple(smallest(params))] if params else [()]
            for combo in itertools.islice(combos, 1):
                bench = cls()
                try:
                    if hasattr(bench, "setup"):
                        bench.setup(*combo)
                except NotImplementedError as exc:
                    print(f"skip  {module.__name__}.{cls.__name__}{combo}: {exc}")
                    continue
                for name in methods:
                    t0 = time.perf_counter()
                    try:
                        result = getattr(bench, name)(*combo)
                        if name.startswith("timeraw_"):
                            run_raw(result, execute=getattr(cls, "smoke_run", True))
                        count += 1
                        print(
                            f"ok    {module.__name__}.{cls.__name__}.{name}{combo} "
                            f"{time.perf_counter() - t0:.3f}s"
                        )
                    except Exception as exc:  # report all, fail at the end
                        failures += 1
                        print(f"FAIL  {module.__name__}.{cls.__name__}.{name}{combo}: {exc!r}")
    print(f"{count} passed, {failures} failed")
    return 1 if failures or not count else 0


if __name__ == "__main__":
    sys.exit(main())
