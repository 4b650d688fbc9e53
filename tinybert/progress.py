"""A one-line progress bar on stderr (drawn only when stderr is a terminal)."""
import sys
import time

WIDTH = 30
EVERY = 0.1   # seconds between redraws


class Progress:
    """``update(done)`` redraws ``[####....] done/total  rate/s  ETA``; ``finish()`` ends
    the line. stream: where to draw (stderr); enabled: None to draw only on a terminal."""

    def __init__(self, total, what, stream=None, enabled=None):
        self.total = total
        self.what = what
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.start = time.perf_counter()
        self.drawn = 0.0

    def update(self, done):
        now = time.perf_counter()
        if not self.enabled or (now - self.drawn < EVERY and done < self.total):
            return
        self.drawn = now
        filled = WIDTH * done // max(1, self.total)
        elapsed = now - self.start
        rate = done / elapsed if elapsed > 0 else 0.0
        eta = f"ETA {(self.total - done) / rate:.0f} s" if rate > 0 else ""
        self.stream.write(f"\r{self.what} [{'#' * filled}{'.' * (WIDTH - filled)}] "
                          f"{done}/{self.total}  {rate:.1f}/s  {eta}   ")
        self.stream.flush()

    def finish(self):
        if self.enabled:
            self.update(self.total)
            self.stream.write("\n")
            self.stream.flush()
