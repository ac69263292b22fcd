"""Import and compile times, each measured in a fresh interpreter (asv ``timeraw_``).

* ``timeraw_import_numbaloss``: ``import numbaloss`` after ``import numba`` (the
  contract: at most 0.15 s).
* ``ColdCompile.timeraw_first_calls``: the first value+gradient call of every loss
  of a family with an empty numba cache (``NUMBA_CACHE_DIR`` is a new directory):
  the cold compile time of the family.
* ``CachedFirstCall.timeraw_first_calls``: the same calls served from numba's
  on-disk cache (the default location), which a warm-up process in ``setup`` filled.

The calls are float32 value+gradient on small arrays (one compiled
specialisation per loss).

The families are discovered from the installed numbaloss (``numbaloss._bench``).
"""

import subprocess
import sys

from numbaloss import _bench

FAMILIES = sorted(_bench.families())

_CALLS = """
import numpy as np
from numbaloss import _bench
loads = [_bench.workload(name, 256, np.float32) for name in {names!r}]
"""


def _calls(family):
    names = _bench.families()[family]
    return _CALLS.format(names=names), "for load in loads:\n    load.run_numbaloss()"


class Import:
    def timeraw_import_numbaloss(self):
        return "import numbaloss", "import numba"


class ColdCompile:
    params = [FAMILIES]
    param_names = ["family"]
    timeout = 600
    #: asv_bench/smoke.py only checks that the code compiles (a cold run takes a minute)
    smoke_run = False

    def timeraw_first_calls(self, family):
        setup, stmt = _calls(family)
        fresh_cache = "import os, tempfile\nos.environ['NUMBA_CACHE_DIR'] = tempfile.mkdtemp()\n"
        return stmt, fresh_cache + setup


class CachedFirstCall:
    params = [FAMILIES]
    param_names = ["family"]
    timeout = 600

    def setup(self, family):
        setup, stmt = _calls(family)
        subprocess.run([sys.executable, "-c", setup + stmt], check=True)  # warm the cache

    def timeraw_first_calls(self, family):
        setup, stmt = _calls(family)
        return stmt, setup
