"""``import numbaloss`` compiles nothing and imports no CUDA, plotting, benchmark or
boosting-library code."""

import subprocess
import sys

CHILD = """
import sys
import numba
from numba.core.registry import CPUDispatcher
import numbaloss

compiled = []
for name, module in list(sys.modules.items()):
    if name.startswith("numbaloss") and module is not None:
        for attr, obj in vars(module).items():
            if isinstance(obj, CPUDispatcher) and obj.signatures:
                compiled.append(f"{name}.{attr}")
assert not compiled, f"compiled at import: {compiled}"
unwanted = [m for m in sys.modules if m.startswith(("numba.cuda", "matplotlib", "torch",
            "numbaloss._bench", "numbaloss._demo", "numbaloss.testing", "xgboost", "lightgbm"))]
assert not unwanted, f"imported by import numbaloss: {unwanted}"
print("ok")
"""


def test_import_compiles_nothing_and_stays_on_the_cpu():
    out = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
