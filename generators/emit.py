"""Emission: Verilog and manifest of an entry, written atomically, compared for ``--check``."""

import hashlib
import json
import os
import tempfile
from pathlib import Path

from amaranth.back import verilog
from amaranth.hdl import Shape
from amaranth.lib.wiring import In

from . import __version__
from .axis import AxisTop, payload_shape, stream_members

__all__ = ["build_top", "render", "write_files", "write_atomic", "stale_files"]


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


def _manifest(entry, top, sha256):
    core = top.core
    ports = [{"name": name, "direction": "input" if member.flow == In else "output",
              "width": Shape.cast(member.shape).width}
             for name, member in top.signature.members.items()]
    return {
        "module": entry.name,
        "family": entry.params.family,
        "generator": f"mlhw-generators {__version__}",
        "params": entry.params.to_dict(),
        "clock": {"port": "aclk", "edge": "rising"},
        "reset": {"port": "aresetn", "active": "low", "synchronous": True},
        "ports": ports,
        "streams": _streams(entry, top),
        **({"tuser": "s_axis_tuser bit k masks lane k: its output is 0 and it does not count"}
           if _has_mask(core) else {}),
        "latency_cycles": core.latency,
        "latency_meaning": getattr(core, "latency_meaning", entry.family.latency),
        "initiation_interval": getattr(core, "initiation_interval", 1),
        "verilog": {"file": f"{entry.name}.v", "sha256": sha256},
    }


def _has_mask(core):
    i = stream_members(core.signature).get("i")
    return i is not None and "mask" in getattr(payload_shape(i[1]), "members", {})


def _streams(entry, top):
    """Per AXI4-Stream port group: direction, widths, element format and what tlast means.

    A core describes its streams in ``stream_info`` (member -> ``lanes``, ``element`` as a
    :class:`Fixed` or a JSON-able description, ``tlast``, optional ``meaning``); a core with
    one ``i`` and one ``o`` stream may instead give ``lanes``, ``in_format`` and ``out_format``.
    """
    core = top.core
    info = getattr(core, "stream_info", None)
    if info is None:
        info = {"i": {"lanes": core.lanes, "element": core.in_format,
                      "tlast": entry.family.tlast},
                "o": {"lanes": core.lanes, "element": core.out_format,
                      "tlast": entry.family.tlast}}
    streams = {}
    for name, (flow, _sig) in stream_members(core.signature).items():
        described = dict(info[name])
        element = described.pop("element")
        width = sum(Shape.cast(member.shape).width for port, member in top.signature.members.items()
                    if port == f"{top.prefix_of(name)}_tdata")
        streams[top.prefix_of(name)] = {
            "direction": "input" if flow == In else "output",
            "lanes": described.pop("lanes"),
            "element": element.to_json() if hasattr(element, "to_json") else element,
            "tdata_width": width, "lane_order": "lane 0 in the low bits",
            "tlast": described.pop("tlast", None), **described}
    return streams


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
