"""Emission: Verilog and manifest of an entry, written as pairs, compared for ``--check``.

Writing a folder (:func:`write_files`)
--------------------------------------

A block's Verilog and its manifest (which holds the Verilog's SHA-256) are a pair. Two renames
cannot be atomic together, so a folder is written in three steps:

1. Every changed file goes to a temporary file beside its target, named ``.<name>.<random>`` +
   :data:`TEMP_SUFFIX`, which is flushed and fsynced. An interruption here (Ctrl-C, an error)
   removes the temporary files; a ``kill -9`` leaves them, and the next run removes them. The
   folder is unchanged either way.
2. A journal, :data:`JOURNAL`, names every pending rename and removal; it is itself written to a
   temporary file, fsynced and renamed into place, and the folder is fsynced. From this moment
   the write is decided.
3. The renames and removals run (Ctrl-C is held until they are done), the folder is fsynced and
   the journal removed.

So a manifest and its Verilog never disagree except while a journal is present: a ``kill -9``
during step 3 leaves the journal and a folder where some pairs are new and some old, possibly
one pair half-renamed. The next ``build`` or ``build --check`` of that folder (the recovery step,
:func:`recover`) rolls the journal forward, completing the write, before it does anything
else. A reader that cannot wait for that should treat a folder holding :data:`JOURNAL` as being
written.

Builds into one folder serialise on an ``flock`` of the folder itself (:func:`build_folder`),
so no lock file is left behind. Files get mode ``0o666`` less the umask, as ``open`` would give.
"""

import contextlib
import gc
import hashlib
import json
import os
import signal
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path

from amaranth.back import verilog
from amaranth.hdl import Shape, UnusedElaboratable
from amaranth.lib.wiring import In

from . import __version__
from .axis import AxisTop, payload_shape, stream_members
from .streams import SCHEMA_VERSION, describe_streams, evaluate

__all__ = ["build_top", "render", "manifest", "write_files", "write_atomic", "stale_files",
           "leftover_files", "emitted_files", "build_folder", "recover", "fsync_dir", "TEMP_SUFFIX",
           "JOURNAL"]


def build_top(entry):
    """The AXI4-Stream top of ``entry``, with its core."""
    return AxisTop(entry.family.core(entry.params))


def render(entry):
    """``{file name: bytes}`` of the Verilog and manifest of ``entry``; nothing is written."""
    top = build_top(entry)
    # emit_src=False: no source paths in the output, so it is the same on every machine.
    text = verilog.convert(top, name=entry.name, emit_src=False).encode()
    manifest = _manifest(entry, top, hashlib.sha256(text).hexdigest())
    return {f"{entry.name}.v": text,
            f"{entry.name}.json": (json.dumps(manifest, indent=2) + "\n").encode()}


def manifest(entry, sha256):
    """The manifest dict of ``entry`` for a Verilog file with digest ``sha256``, without
    converting the Verilog (the streams and ports come from the signatures alone)."""
    # The top is built for its signature only, never elaborated: that is not the mistake
    # Amaranth's UnusedElaboratable warns of, so it is silenced here and nowhere else.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnusedElaboratable)
        top = build_top(entry)
        described = _manifest(entry, top, sha256)
        del top
        gc.collect()        # the top's reference cycles: warn (ignored) inside this block
    return described


def _manifest(entry, top, sha256):
    core = top.core
    spec = core.block_spec
    ports = [{"name": name, "direction": "input" if member.flow == In else "output",
              "width": Shape.cast(member.shape).width}
             for name, member in top.signature.members.items()]
    members = stream_members(core.signature)
    described = describe_streams(
        spec, {name: payload_shape(sig) for name, (_flow, sig) in members.items()},
        {name: top.prefix_of(name) for name in members},
        {name: "input" if flow == In else "output" for name, (flow, _sig) in members.items()})
    latency = described["latency"]
    return {
        "schema_version": SCHEMA_VERSION,
        "module": entry.name,
        "family": entry.params.family,
        "generator": f"mlhw-generators {__version__}",
        "params": entry.params.to_dict(),
        "clock": {"port": "aclk", "edge": "rising"},
        "reset": {"port": "aresetn", "active": "low", "synchronous": True},
        "ports": ports,
        "job": described["job"],
        "streams": described["streams"],
        **({"function": described["function"]} if "function" in described else {}),
        "latency": latency,
        "latency_cycles": _largest_latency(described["job"], latency),
        "initiation_interval": spec.initiation_interval,
        "initiation_meaning": spec.initiation_meaning,
        "rules": list(spec.rules),
        "verilog": {"file": f"{entry.name}.v", "sha256": sha256},
    }


def _largest_latency(job, latency):
    """``latency.cycles`` at the largest job: every variable at its largest value (an
    unbounded one at its smallest), for tables that show one number."""
    env = {}
    for var in job["variables"]:
        env[var["name"]] = (max(var["choices"]) if "choices" in var
                            else var["min"] if var["max"] is None else var["max"])
    for derived in job["derived"]:
        env[derived["name"]] = evaluate(derived["expr"], env)
    return evaluate(latency["cycles"], env)


#: Every temporary file this module writes ends so (and starts with a dot).
TEMP_SUFFIX = ".mlhw-tmp"
#: The pending renames and removals of an interrupted :func:`write_files` (see the module doc).
JOURNAL = ".mlhw-journal.json"
#: Test hook: seconds to sleep before each step of the write phase, to widen the moments a
#: kill can hit. Read here only.
SLOW_WRITE_ENV = "MLHW_SLOW_WRITE"


def write_files(files, out_dir, remove=()):
    """Write ``files`` (``{name: bytes}``) into ``out_dir`` and remove the names in ``remove``,
    all or nothing even across a ``kill -9`` (module doc); unchanged files are not touched.

    Returns the names written. Run it inside :func:`build_folder` when other processes may write
    the same folder.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    recover(out_dir, remove_temps=False)
    changed = [name for name, content in sorted(files.items())
               if not _same_content(out_dir / name, content)]
    remove = sorted(name for name in remove if (out_dir / name).exists())
    if not changed and not remove:
        return []
    temps = []
    try:
        for name in changed:
            _slow_step()
            _write_temp(out_dir / name, files[name], temps)
        journal = {"replace": [[temp.name, name] for temp, name in zip(temps, changed)],
                   "remove": remove}
        _slow_step()
        _write_temp(out_dir / JOURNAL, (json.dumps(journal, indent=1) + "\n").encode(), temps)
        with _interrupts_held():
            os.replace(temps[-1], out_dir / JOURNAL)
            temps = []          # decided: the journal owns them now
            fsync_dir(out_dir)
            _roll_forward(out_dir, journal)
    except BaseException:
        for temp in temps:
            temp.unlink(missing_ok=True)
        raise
    return changed


def write_atomic(target, content):
    """Replace ``target`` by ``content`` (bytes) in one rename, fsynced; an unchanged file is not
    touched. Returns whether it wrote."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    if _same_content(target, content):
        return False
    temps = []
    try:
        _write_temp(target, content, temps)
        with _interrupts_held():
            os.replace(temps[0], target)
            temps = []
            fsync_dir(target.parent)
    except BaseException:
        for temp in temps:
            temp.unlink(missing_ok=True)
        raise
    return True


def recover(out_dir, remove_temps=True):
    """Finish an interrupted :func:`write_files` in ``out_dir``: roll its journal forward, then
    (with ``remove_temps``; only safe while holding :func:`build_folder`) remove temporary files
    that no journal names. Returns whether a journal was rolled forward."""
    out_dir = Path(out_dir)
    journal_path = out_dir / JOURNAL
    rolled = False
    if journal_path.is_file():
        try:
            journal = json.loads(journal_path.read_bytes())
        except ValueError:
            journal = None      # cut short before its rename, which cannot be: not ours
        if isinstance(journal, dict):
            with _interrupts_held():
                _roll_forward(out_dir, journal)
            rolled = True
    if remove_temps:
        for path in out_dir.iterdir():
            if path.name.startswith(".") and path.name.endswith(TEMP_SUFFIX):
                path.unlink(missing_ok=True)
    return rolled


@contextlib.contextmanager
def build_folder(out_dir, shared=False):
    """Hold the folder ``out_dir`` (which must exist) for a build: an ``flock`` of the folder
    itself, exclusive (or ``shared``, for a reader), then :func:`recover` of an interrupted write.

    Prints one line to stderr when it has to wait for another build. A ``shared`` hold of a
    folder this process cannot write skips the recovery (a reader then sees what is there).
    """
    import fcntl

    out_dir = Path(out_dir)
    fd = os.open(out_dir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"waiting for another build of {out_dir}", file=sys.stderr, flush=True)
            fcntl.flock(fd, mode)
        if not shared or os.access(out_dir, os.W_OK):
            if shared and (out_dir / JOURNAL).exists():
                # Rolling forward writes: upgrade to an exclusive hold for it.
                fcntl.flock(fd, fcntl.LOCK_EX)
            recover(out_dir, remove_temps=not shared)
        yield out_dir
    finally:
        os.close(fd)        # closing the descriptor releases the lock


def emitted_files(out_dir):
    """Names in ``out_dir`` that this tool wrote: every manifest (a JSON object with our
    ``schema_version`` and ``generator``) and the Verilog file it names. Anything else is the
    user's and is never reported stale nor removed."""
    out_dir = Path(out_dir)
    ours = set()
    if not out_dir.is_dir():
        return ours
    for path in sorted(out_dir.glob("*.json")):
        if not path.is_file():
            continue
        try:
            described = json.loads(path.read_bytes())
        except (UnicodeDecodeError, ValueError):
            continue
        if not (isinstance(described, dict) and described.get("schema_version") == SCHEMA_VERSION
                and str(described.get("generator", "")).startswith("mlhw-generators ")):
            continue
        ours.add(path.name)
        verilog_file = described.get("verilog", {})
        name = verilog_file.get("file") if isinstance(verilog_file, dict) else None
        if isinstance(name, str) and name == Path(name).name and name.endswith(".v"):
            ours.add(name)
    return ours


def leftover_files(files, out_dir):
    """Files this tool wrote into ``out_dir`` (:func:`emitted_files`) that ``files`` no longer
    holds: the outputs of removed entries."""
    return sorted(emitted_files(out_dir) - set(files))


def stale_files(files, out_dir, complete):
    """Names under ``out_dir`` that differ from ``files``: changed, missing, or (when
    ``complete``, i.e. the whole catalog was rendered) left over from removed entries. The
    user's own files in the folder do not count."""
    out_dir = Path(out_dir)
    stale = [name for name, content in sorted(files.items())
             if not _same_content(out_dir / name, content)]
    if complete:
        stale += leftover_files(files, out_dir)
    return stale


def _same_content(path, content):
    return path.is_file() and path.stat().st_size == len(content) and path.read_bytes() == content


def _roll_forward(out_dir, journal):
    """The renames and removals of ``journal`` (each done at most once, so a second roll after
    an interrupted first is harmless), then the journal's own removal."""
    for temp_name, name in journal.get("replace", []):
        _slow_step()
        temp = out_dir / temp_name
        if temp.exists():
            os.replace(temp, out_dir / name)
    for name in journal.get("remove", []):
        _slow_step()
        (out_dir / name).unlink(missing_ok=True)
    fsync_dir(out_dir)
    (out_dir / JOURNAL).unlink(missing_ok=True)
    fsync_dir(out_dir)


def _write_temp(target, content, created):
    """A complete, fsynced temporary copy of ``content`` beside ``target``, appended to
    ``created`` as soon as it exists (so an interruption at any point leaves none behind), with
    the mode a plain ``open`` would give (mkstemp's is 0600)."""
    with _interrupts_held():
        try:
            fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=TEMP_SUFFIX,
                                        dir=target.parent)
        except OSError as error:    # name the folder, not the temporary file's random name
            raise type(error)(error.errno, error.strerror, str(target.parent)) from None
        created.append(Path(temp))
    with os.fdopen(fd, "wb") as handle:
        os.fchmod(handle.fileno(), 0o666 & ~_umask())
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())


def _umask():
    # The only way to read the umask is to set it; it is put back at once.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def fsync_dir(folder):
    """Make the renames in ``folder`` durable (a rename is only on disk once its folder is)."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _slow_step():
    delay = os.environ.get(SLOW_WRITE_ENV)
    if delay:
        time.sleep(float(delay))


@contextlib.contextmanager
def _interrupts_held():
    """Hold Ctrl-C (SIGINT) until the block ends, then raise it: renames are never cut short
    by it. Only the main thread receives signals; elsewhere this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(frame))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if caught:
            if callable(previous):
                previous(signal.SIGINT, caught[0])
            elif previous != signal.SIG_IGN:
                raise KeyboardInterrupt
