"""The CUDA tests: collected only where a CUDA device, real or simulated, exists.

They run unchanged on a real GPU (``python -m pytest tests/cuda``) and, in CI, under
numba's CUDA simulator in a pytest run of their own, started with the simulator
switched on before numba is imported::

    NUMBA_ENABLE_CUDASIM=1 python -m pytest tests/cuda

(``.ci/run`` does that; the flag never reaches the CPU tests' run).  Elsewhere, e.g.
in a plain ``python -m pytest`` on a machine without a GPU, they are not collected,
and numba's CUDA module is not even imported.
"""

import os

import pytest


def _cuda_possible():
    if os.environ.get("NUMBA_ENABLE_CUDASIM", "0") not in ("", "0"):
        return True
    return os.path.exists("/dev/nvidiactl") or os.path.exists("/dev/nvidia0")


if not _cuda_possible():
    collect_ignore_glob = ["test_*.py"]


@pytest.fixture(scope="session")
def cuda():
    """``numba.cuda``; skips where no device (real or simulated) is usable."""
    from numba import cuda

    if not cuda.is_available():
        pytest.skip("no usable CUDA device")
    return cuda


@pytest.fixture(autouse=True, scope="session")
def small_launches():
    """Small blocks and grids, so that even small inputs span several blocks and
    each thread handles several elements (the grid-stride loop)."""
    from numbaloss._core import cuda_support

    before = cuda_support.get_launch_config()
    cuda_support.set_launch_config(threads=8, max_blocks=3)
    yield
    cuda_support.set_launch_config(*before)
