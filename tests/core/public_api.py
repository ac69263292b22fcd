"""The snapshot of numbaloss's public API that ``test_registry.py`` pins.

Adding, removing or changing a public name or signature is a decision: make it, then
write the new snapshot with ``python -m tests.core.public_api`` (from the repository
root) and commit ``tests/core/public_api.json`` with the change, where review sees it.
"""

import inspect
import json
import pathlib
import subprocess
import sys

PATH = pathlib.Path(__file__).parent / "public_api.json"


def public_dir():
    """``dir(numbaloss)``'s public names, read in a fresh interpreter (other tests import
    submodules such as ``numbaloss.testing``, which then show up as attributes)."""
    code = "import numbaloss; print(' '.join(n for n in dir(numbaloss) if n[0] != '_'))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return sorted(out.stdout.split())


def snapshot():
    import numbaloss as nl

    functional = sorted(nl.functional.__all__)
    classes = sorted(nl.modules.__all__)
    names = public_dir()
    listed = set(functional) | set(classes)
    other = [n for n in names if n not in listed and callable(getattr(nl, n))]
    other = [n for n in other if not inspect.ismodule(getattr(nl, n))]
    import numbaloss.jit as nlj

    return {
        "class_signatures": {c: str(inspect.signature(getattr(nl, c))) for c in classes},
        "classes": classes,
        "dir": names,
        "functional": functional,
        # numbaloss.jit: its compiled functions' signatures
        "jit": {n: str(inspect.signature(getattr(nlj, n).py_func)) for n in nlj.__all__},
        "other": {n: str(inspect.signature(getattr(nl, n))) for n in sorted(other)},
        "signatures": {f: str(inspect.signature(getattr(nl, f))) for f in functional},
    }


if __name__ == "__main__":
    PATH.write_text(json.dumps(snapshot(), indent=1, sort_keys=True) + "\n")
    print(f"wrote {PATH}")
