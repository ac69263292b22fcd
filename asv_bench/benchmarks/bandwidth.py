"""The machine's memory-bandwidth floor: a parallel numba stream kernel.

``track_triad_gbs`` reports the GB/s of ``c = a + s * b`` over float32 arrays much
larger than the caches, on numbaloss's thread pool; loss timings can be read as a
fraction of the floor ``bytes moved / this bandwidth``.
"""

import numpy as np

from numbaloss._bench import measure_bandwidth, triad


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
