"""A one-line text progress bar for the command line (no dependency)."""

import sys


class ProgressBar:
    """Redraw ``label [#####.....] k/total`` on one terminal line.

    ``update()`` advances by one step; ``close(suffix)`` completes the bar and ends
    the line with ``suffix``.  Redraws only when the bar's length changes, so a
    long loop does not flood a log file.
    """

    def __init__(self, total, label="", width=30, out=None):
        self.total = max(int(total), 1)
        self.label = label
        self.width = width
        self.out = sys.stdout if out is None else out
        self.done = 0
        self._shown = -1
        #: on a terminal the bar moves; in a log file only the finished bar is written
        self.live = bool(getattr(self.out, "isatty", lambda: False)())
        if self.live:
            self._draw()

    def _draw(self):
        if not self.live and self.done < self.total:
            return
        filled = self.done * self.width // self.total
        if filled == self._shown:
            return
        self._shown = filled
        bar = "#" * filled + "." * (self.width - filled)
        print(f"\r{self.label} [{bar}]", end="", file=self.out, flush=True)

    def update(self, steps=1, label=None):
        self.done = min(self.done + steps, self.total)
        if label is not None and label != self.label:
            self.label = label
            self._shown = -1
        self._draw()

    def close(self, suffix=""):
        self.done = self.total
        self._draw()
        print(f"  {suffix}" if suffix else "", file=self.out, flush=True)
