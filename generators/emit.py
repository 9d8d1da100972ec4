"""Emission: Verilog and manifest of an entry, written atomically, compared for ``--check``."""

import gc
import hashlib
import json
import os
import tempfile
import warnings
from pathlib import Path

from amaranth.back import verilog
from amaranth.hdl import Shape, UnusedElaboratable
from amaranth.lib.wiring import In

from . import __version__
from .axis import AxisTop, payload_shape, stream_members
from .streams import SCHEMA_VERSION, describe_streams, evaluate

__all__ = ["build_top", "render", "manifest", "write_files", "write_atomic", "stale_files"]


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


def write_files(files, out_dir):
    """Write each file atomically: a temporary file beside it, then a rename.

    A failure leaves every file either as it was or complete, never half-written.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, content in sorted(files.items()):
        write_atomic(out_dir / name, content)


def write_atomic(target, content):
    """Replace ``target`` by ``content`` (bytes) in one rename; unchanged files are not touched."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists() and target.read_bytes() == content:
        return
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
        os.replace(tmp, target)
    except BaseException:
        os.unlink(tmp)
        raise


def stale_files(files, out_dir, complete):
    """Names under ``out_dir`` that differ from ``files``: changed, missing, or (when
    ``complete``, i.e. the whole catalog was rendered) left over from removed entries."""
    out_dir = Path(out_dir)
    stale = [name for name, content in sorted(files.items())
             if not (out_dir / name).is_file() or (out_dir / name).read_bytes() != content]
    if complete and out_dir.is_dir():
        stale += sorted(p.name for p in out_dir.iterdir()
                        if p.suffix in (".v", ".json") and p.name not in files)
    return stale
