"""Host side of the UART bridge: push frames through a block on a board, check the golden model.

    python -m generators bitstream --board icebreaker --only gelu_int8 --design bridge
    (program the board with the printed bitstream), then
    python -m generators bridge --port /dev/ttyUSB1 --only gelu_int8 [--input FILE] [--frames N]

``--input FILE``: one frame per line, integer codes separated by spaces or commas (a multiple of
the block's lanes; for a block with a mask input, no lane is masked). Without it, ``--frames``
seeded random frames. Each frame (at most the bridge's window of beats) is sent, its output read
back and compared bit for bit with the golden model; exit status 1 on any difference. The
``bridge`` verb of :mod:`fpga.cli` runs :func:`run`.
Serial port through the standard library (termios), 115200 8N1, raw mode.
"""

from __future__ import annotations

import os
import select
import termios
import tty
from pathlib import Path

import numpy as np

from generators.axis import payload_shape, stream_members
from generators.catalog import DEFAULT_CATALOG, select as select_entries
from generators.cli import CheckFailed
from generators.params import ParamError

from .bridge import WINDOW, beat_bytes, pack_frames, unpack_beats
from .selftest import BAUD, _code_range, check_supported, frame_model

__all__ = ["BridgeError", "FramesDiffer", "add_arguments", "run"]

TIMEOUT_S = 2.0


class BridgeError(RuntimeError):
    """The board did not answer in time."""


class FramesDiffer(CheckFailed):
    """Some frames came back different from the golden model (the differences are printed)."""


def open_serial(port):
    try:
        fd = os.open(port, os.O_RDWR | os.O_NOCTTY)
    except OSError as error:
        raise ParamError(f"cannot open --port {port!r}: {error.strerror}") from None
    tty.setraw(fd)
    attrs = termios.tcgetattr(fd)
    attrs[4] = attrs[5] = getattr(termios, f"B{BAUD}")
    attrs[2] &= ~(termios.CSTOPB | termios.PARENB)       # 8N1
    termios.tcsetattr(fd, termios.TCSANOW, attrs)
    termios.tcflush(fd, termios.TCIOFLUSH)
    return fd


def read_exactly(fd, count):
    data = bytearray()
    while len(data) < count:
        ready, _, _ = select.select([fd], [], [], TIMEOUT_S)
        if not ready:
            raise BridgeError(f"board sent {len(data)} of {count} bytes within {TIMEOUT_S} s")
        data += os.read(fd, count - len(data))
    return bytes(data)


def read_frames(path, lanes):
    frames = []
    for number, line in enumerate(Path(path).read_text().splitlines(), start=1):
        codes = [int(v) for v in line.replace(",", " ").split()]
        if codes and len(codes) % lanes:
            raise ParamError(f"{path}:{number}: {len(codes)} codes, not a multiple of {lanes} "
                             f"lanes")
        if codes:
            frames.append(codes)
    return frames


def add_arguments(parser):
    parser.add_argument("--port", required=True, help="serial device, e.g. /dev/ttyUSB1")
    parser.add_argument("--only", required=True, metavar="NAME", help="catalog block on the board")
    parser.add_argument("--input", metavar="FILE", help="frames to send (one per line)")
    parser.add_argument("--frames", type=int, default=100, help="random frames (default 100)")
    parser.add_argument("--seed", type=int, default=1)


def run(args):
    """Send the frames, compare what comes back; raise :class:`FramesDiffer` on a difference."""
    (entry,) = select_entries(DEFAULT_CATALOG, [args.only])
    core = check_supported(entry)
    in_layout = payload_shape(stream_members(core.signature)["i"][1])
    lanes = in_layout.members["data"].length
    model, longest = frame_model(entry)
    max_beats = min(WINDOW, (longest(entry.params) or WINDOW * lanes) // lanes)
    rng = np.random.default_rng(args.seed)
    if args.input:
        frames = read_frames(args.input, lanes)
    else:
        low, high = _code_range(in_layout.members["data"].elem_shape)
        frames = [list(rng.integers(low, high + 1, lanes * int(rng.integers(1, max_beats + 1))))
                  for _ in range(args.frames)]
    out_size = beat_bytes(payload_shape(stream_members(core.signature)["o"][1]))
    fd = open_serial(args.port)
    bad = 0
    try:
        for index, frame in enumerate(frames):
            if len(frame) // lanes > max_beats:
                raise ParamError(f"frame {index} has {len(frame) // lanes} beats; at most "
                                 f"{max_beats} fit the bridge's window")
            os.write(fd, pack_frames(core, [frame]))
            (got,) = unpack_beats(core, read_exactly(fd, out_size * len(frame) // lanes))
            no_mask = np.zeros(len(frame), bool)
            want = [int(v) for v in model(entry.params, np.array(frame), no_mask)]
            if got != want:
                bad += 1
                first = next(k for k in range(len(want)) if got[k] != want[k])
                print(f"frame {index}: element {first}: input {frame[first]} expected "
                      f"{want[first]} got {got[first]}")
    finally:
        os.close(fd)
    elements = sum(map(len, frames))
    print(f"{entry.name}: {len(frames)} frames, {elements} elements, "
          f"{'all bit-exact' if not bad else f'{bad} frames differ'}")
    if bad:
        raise FramesDiffer(f"{entry.name}: {bad} of {len(frames)} frames differ from the golden "
                           f"model")
