"""Progress of long commands (synth, bitstream, report, sweep): done, running, failed, cached.

On a terminal a live bar (tqdm) with the counts and the time left; when stderr is not a
terminal, or under ``CI=true``, one line per finished item instead, so logs stay readable.
Everything goes to stderr: stdout keeps the commands' results.
"""

import os
import sys
import time

__all__ = ["Progress", "live"]

STATES = ("done", "running", "failed", "cached")


def live(stream=None):
    """Whether a live bar fits ``stream`` (default stderr): a terminal, outside CI."""
    stream = stream or sys.stderr
    return stream.isatty() and os.environ.get("CI", "").lower() != "true"


class Progress:
    """Counts of ``total`` items of one command; ``start(name)`` when one begins,
    ``finish(name, state)`` when it ends (state: done, failed or cached). A context manager."""

    def __init__(self, label, total, stream=None, bar=None):
        self.label, self.total = label, total
        self.stream = stream or sys.stderr
        self.counts = dict.fromkeys(STATES, 0)
        self.began = time.monotonic()
        self._bar = None
        if live(self.stream) if bar is None else bar:
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=label, file=self.stream, unit="item",
                             dynamic_ncols=True, leave=True)
            self._bar.set_postfix_str(self._counts())

    def _counts(self):
        return " ".join(f"{state} {self.counts[state]}" for state in STATES)

    def start(self, name=None):
        self.counts["running"] += 1
        if self._bar is not None:
            self._bar.set_postfix_str(self._counts())

    def running(self, count):
        """Set how many items are running now (an engine that knows only its capacity)."""
        self.counts["running"] = count
        if self._bar is not None:
            self._bar.set_postfix_str(self._counts())

    def finish(self, name, state="done", seconds=None):
        if state not in STATES or state == "running":
            raise ValueError(f"state must be one of 'done', 'failed', 'cached', not {state!r}")
        self.counts["running"] = max(0, self.counts["running"] - 1)
        self.counts[state] += 1
        finished = sum(self.counts[s] for s in ("done", "failed", "cached"))
        if self._bar is not None:
            self._bar.update(1)
            self._bar.set_postfix_str(self._counts())
        else:
            took = f" in {seconds:.1f} s" if seconds is not None else ""
            print(f"{self.label} [{finished}/{self.total}] {name}: {state}{took}",
                  file=self.stream, flush=True)

    def close(self):
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
