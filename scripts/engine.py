"""The distributed engine of sweeps and reports: Ray tasks, one per item, with progress.

``Engine()`` starts a local Ray cluster on this machine's cores (``workers`` of them, default
all); ``Engine(address=...)`` (or ``RAY_ADDRESS``) joins an existing cluster instead; with
``inline=True`` the items run one after another in this process (no Ray: for runs too small to
pay Ray's start-up). No scheduler of our own: Ray places the tasks, retries a task whose worker
died (``retries`` times) and cancels the rest on Ctrl-C. What a task stores (synthesis results)
is written atomically by the task itself (:func:`fpga.ooc.synthesize_cached`), so an
interruption leaves the cache whole and the next run redoes only what was missing.

A task function returns ``(result, state)``, state ``"done"`` or ``"cached"``; an exception in
it (or a worker that died more often than it may) makes the item ``"failed"`` with its error.
"""

import logging
import os
import time
from pathlib import Path

from fpga.progress import Progress

__all__ = ["Engine", "Failure", "REPO_ROOT"]

REPO_ROOT = Path(__file__).resolve().parent.parent


class Failure(dict):
    """The result of an item that failed: ``{"error": message}``."""


def _timed(function, item):
    began = time.monotonic()
    result, state = function(item)
    return result, state, time.monotonic() - began, _node()


def _node():
    """The Ray node running this task (None outside Ray)."""
    try:
        import ray

        return ray.get_runtime_context().get_node_id() if ray.is_initialized() else None
    except ImportError:
        return None


class Engine:
    """Runs ``function(item)`` for many items on Ray (see the module's docstring)."""

    def __init__(self, workers=None, address=None, retries=2, inline=False):
        if workers is not None and (not isinstance(workers, int) or workers < 1):
            raise ValueError(f"workers must be a positive integer, not {workers!r}")
        self.workers, self.retries, self.inline = workers, retries, inline
        self.address = address or os.environ.get("RAY_ADDRESS") or None
        self._started = False
        self.item_seconds = []          # the time each finished item took inside its task
        self.item_nodes = []            # and the Ray node that ran it

    def __enter__(self):
        if self.inline:
            return self
        import ray

        # The workers import this checkout's packages (a shared file system: local cluster,
        # or the simulated one of ray.cluster_utils); a remote cluster needs them installed.
        runtime_env = {"env_vars": {"PYTHONPATH": os.pathsep.join(
            filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))}}
        if self.address is None:
            # "local": a new cluster of our own, never one some other process started.
            ray.init(address="local", num_cpus=self.workers or os.cpu_count(),
                     include_dashboard=False, log_to_driver=False, configure_logging=True,
                     logging_level=logging.ERROR, runtime_env=runtime_env)
        else:
            ray.init(address=self.address, log_to_driver=False, configure_logging=True,
                     logging_level=logging.ERROR, runtime_env=runtime_env)
        self._started = True
        return self

    def __exit__(self, *exc):
        if self._started:
            import ray

            ray.shutdown()
            self._started = False
        return False

    @property
    def capacity(self):
        """How many tasks run at once: the cluster's CPUs (1 inline)."""
        if self.inline:
            return 1
        import ray

        return max(1, int(ray.cluster_resources().get("CPU", 1)))

    def map(self, function, items, names, label):
        """``[result]`` of ``function(item)`` per item, in order, with a progress line per
        finished item (:class:`fpga.progress.Progress` named ``label``)."""
        items, names = list(items), list(names)
        results = [None] * len(items)
        with Progress(label, len(items)) as progress:
            if self.inline:
                for index, item in enumerate(items):
                    progress.start(names[index])
                    results[index] = self._finish(progress, names[index],
                                                  lambda: _timed(function, item))
                return results
            import ray

            task = ray.remote(_timed).options(max_retries=self.retries, num_cpus=1)
            pending = {task.remote(function, item): index for index, item in enumerate(items)}
            capacity = self.capacity
            progress.running(min(capacity, len(pending)))
            try:
                while pending:
                    ready, _ = ray.wait(list(pending), num_returns=1, timeout=1.0)
                    for ref in ready:
                        index = pending.pop(ref)
                        results[index] = self._finish(progress, names[index],
                                                      lambda: ray.get(ref))
                    progress.running(min(capacity, len(pending)))
            except KeyboardInterrupt:
                for ref in pending:
                    ray.cancel(ref, force=True)
                raise
        return results

    def _finish(self, progress, name, get):
        try:
            result, state, seconds, node = get()
        except KeyboardInterrupt:
            raise
        except Exception as error:      # the task's own error, or its worker died too often
            message = str(error).strip().splitlines()
            progress.finish(name, "failed")
            return Failure(error=_error_line(message))
        self.item_seconds.append(seconds)
        self.item_nodes.append(node)
        progress.finish(name, state, seconds)
        return result


def _error_line(lines):
    """The informative line of a Ray error (its last non-empty line names the exception)."""
    for line in reversed(lines):
        if line.strip():
            return line.strip()
    return "failed"
