"""The machine's memory-bandwidth floor: a parallel numba stream kernel.

``track_triad_gbs`` reports the GB/s of ``c = a + s * b`` over float32 arrays much
larger than the caches, on numbaloss's thread pool; loss timings can be read as a
fraction of the floor ``bytes moved / this bandwidth``.
"""

import time

import numpy as np
from numba import njit

from numbaloss._core import parallel


@njit(nogil=True, fastmath={"contract"}, error_model="numpy", cache=True)
def _triad(a, b, c, scalar, start, stop):
    for i in range(start, stop):
        c[i] = a[i] + scalar * b[i]


_SCALE = np.float32(1.5)


def triad(a, b, c, scalar=_SCALE):
    chunk = parallel.BLOCK
    nchunks = parallel.n_blocks(a.size, chunk)

    def kernel(start, stop):
        _triad(a, b, c, scalar, start * chunk, min(stop * chunk, a.size))

    parallel.run_ranges(kernel, nchunks, chunk)


def measure_bandwidth(n=20_000_000, repeat=7):
    """Best-of-``repeat`` triad bandwidth in GB/s (12 bytes per element moved)."""
    a = np.ones(n, np.float32)
    b = np.ones(n, np.float32)
    c = np.empty(n, np.float32)
    triad(a, b, c)
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        triad(a, b, c)
        best = min(best, time.perf_counter() - t0)
    return 12 * n / best / 1e9


class Bandwidth:
    params = [[20_000_000]]
    param_names = ["n"]
    unit = "GB/s"

    def setup(self, n):
        self.a = np.ones(n, np.float32)
        self.b = np.ones(n, np.float32)
        self.c = np.empty(n, np.float32)
        triad(self.a, self.b, self.c)

    def time_triad(self, n):
        triad(self.a, self.b, self.c)

    def track_triad_gbs(self, n):
        return measure_bandwidth(n, repeat=5)

    track_triad_gbs.unit = "GB/s"
