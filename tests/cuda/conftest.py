"""The CUDA tests: collected only where a CUDA device, real or simulated, exists.

They run unchanged on a real GPU (``python -m pytest tests/cuda``) and, in CI, under
numba's CUDA simulator in a pytest run of their own, started with the simulator
switched on before numba is imported::

    NUMBA_ENABLE_CUDASIM=1 python -m pytest tests/cuda

(``.ci/run`` does that; the flag never reaches the CPU tests' run).  Elsewhere, e.g.
in a plain ``python -m pytest`` on a machine without a GPU, they are not collected,
and numba's CUDA module is not even imported.
"""

import contextlib
import os
import threading

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


@pytest.fixture(autouse=True, scope="session")
def simulator_device_calls_are_thread_safe():
    """Make the simulator's device-function calls safe across its threads.

    numba's CUDA simulator runs the threads of a block as Python threads and, around
    every call of a device function, points the ``cuda`` global of the function's
    module at the kernel's fake CUDA module and back.  For a device function of
    another module (the shared ``cuda_support.block_sum``), one thread can switch it
    back while another is still inside, which fails with "module 'numba.cuda' has
    no attribute 'threadIdx'".  The switch is made reference-counted per module here;
    all threads of a launch share one fake module, so the first switch serves them all.
    A real GPU is untouched (nothing is patched there).
    """
    if os.environ.get("NUMBA_ENABLE_CUDASIM", "0") in ("", "0"):
        yield
        return
    from numba.cuda.simulator import kernel, kernelapi

    lock = threading.Lock()
    active = {}  # id(module globals) -> [count, saved globals]

    @contextlib.contextmanager
    def swapped_cuda_module(fn, fake_cuda_module):
        from numba import cuda

        globs = fn.__globals__
        key = id(globs)
        with lock:
            entry = active.get(key)
            if entry is None:
                saved = {k: v for k, v in globs.items() if v is cuda}
                globs.update(dict.fromkeys(saved, fake_cuda_module))
                entry = active[key] = [0, saved]
            entry[0] += 1
        try:
            yield
        finally:
            with lock:
                entry[0] -= 1
                if entry[0] == 0:
                    globs.update(entry[1])
                    del active[key]

    before = kernelapi.swapped_cuda_module, kernel.swapped_cuda_module
    kernelapi.swapped_cuda_module = kernel.swapped_cuda_module = swapped_cuda_module
    yield
    kernelapi.swapped_cuda_module, kernel.swapped_cuda_module = before
