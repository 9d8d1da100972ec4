"""Host side of the UART bridge: push frames through a block on a board, check the golden model.

    python -m generators bitstream --board icebreaker --only gelu_int8 --design bridge
    (program the board with the printed bitstream), then
    python -m generators bridge --port /dev/ttyUSB1 [--config FILE.toml] --only gelu_int8
        [--input FILE] [--frames N]

``--input FILE``: one frame per line, integer codes separated by spaces or commas (a multiple of
the block's lanes; for a block with a mask input, no lane is masked). Without it, ``--frames``
seeded random frames. A block with several streams (sparse DSP, LUT tensor core, deformable
convolution) takes ``--frames`` seeded jobs of its family's job model instead (each stream's
beats of a job behind their stream byte, the streams in the order the block starts them), and
every output stream's beats are compared word for word with the model's. Every code is checked
against the block's input range before anything is sent. Each frame or job (at most the
bridge's window of beats per stream) is sent, its output read back and compared bit for bit
with the golden model; exit status 1 on any difference. The
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
from generators.cli import CheckFailed, add_selection, selected_entries
from generators.params import ParamError, show

from .bridge import WINDOW, beat_bytes, is_multi_stream, pack_frames, pack_stream_beats, \
    stream_indices, unpack_beats
from .selftest import BAUD, _code_range, check_selftest, check_supported, frame_model, \
    pack_payload

__all__ = ["BridgeError", "FramesDiffer", "add_arguments", "run", "read_frames",
           "check_codes"]

TIMEOUT_S = 2.0


class BridgeError(RuntimeError):
    """The board did not answer in time, or the port failed (one ``error:`` line, exit 2)."""


class FramesDiffer(CheckFailed):
    """Some frames came back different from the golden model (the differences are printed)."""


def open_serial(port):
    try:
        fd = os.open(port, os.O_RDWR | os.O_NOCTTY)
    except OSError as error:
        raise ParamError(f"cannot open --port {port!r}: {error.strerror}") from None
    try:
        tty.setraw(fd)
        attrs = termios.tcgetattr(fd)
        attrs[4] = attrs[5] = getattr(termios, f"B{BAUD}")
        attrs[2] &= ~(termios.CSTOPB | termios.PARENB)       # 8N1
        termios.tcsetattr(fd, termios.TCSANOW, attrs)
        termios.tcflush(fd, termios.TCIOFLUSH)
    except termios.error:
        os.close(fd)
        raise ParamError(f"--port {port!r} is not a serial device (a terminal: /dev/ttyUSB*, "
                         f"/dev/ttyACM*)") from None
    return fd


def read_exactly(fd, count, port, what):
    """``count`` bytes from the board; a silence of :data:`TIMEOUT_S` is a :class:`BridgeError`
    naming the port and what was awaited."""
    data = bytearray()
    while len(data) < count:
        ready, _, _ = select.select([fd], [], [], TIMEOUT_S)
        chunk = _io(os.read, fd, count - len(data), port=port) if ready else b""
        if not chunk:
            raise BridgeError(
                f"no answer on {port}: waited {TIMEOUT_S:g} s for {what} ({count} bytes, got "
                f"{len(data)}); is the board programmed with the bridge bitstream (bitstream "
                f"--design bridge) of this block?")
        data += chunk
    return bytes(data)


def _io(call, *args, port):
    try:
        return call(*args)
    except OSError as error:
        raise BridgeError(f"{port}: {error.strerror}") from None


def read_frames(path, lanes):
    """The frames of an ``--input`` file: one a line, integer codes separated by spaces or
    commas, a whole number of beats of ``lanes``; returns ``[(line number, codes)]``."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise ParamError(f"cannot read --input {str(path)!r}: {error.strerror}") from None
    except UnicodeDecodeError:
        raise ParamError(f"--input {str(path)!r} is not a text file of integer codes "
                         f"(not UTF-8)") from None
    frames = []
    for number, line in enumerate(text.splitlines(), start=1):
        codes = []
        for word in line.replace(",", " ").split():
            try:
                codes.append(int(word))
            except ValueError:
                raise ParamError(f"{path}:{number}: {show(word)} is not an integer code") \
                    from None
        if codes and len(codes) % lanes:
            raise ParamError(f"{path}:{number}: {len(codes)} codes, not a multiple of {lanes} "
                             f"lanes")
        if codes:
            frames.append((number, codes))
    if not frames:
        raise ParamError(f"--input {str(path)!r} holds no frame (one line of codes per frame)")
    return frames


def check_codes(frames, lanes, low, high, max_beats, source):
    """Refuse, before anything is packed or sent, a frame with a code outside ``low..high`` or
    more beats than the bridge's window; ``source(index)`` says where frame ``index`` is from."""
    for index, (frame, where) in enumerate(zip(frames, map(source, range(len(frames))))):
        if len(frame) // lanes > max_beats:
            raise ParamError(f"{where}frame {index} has {len(frame) // lanes} beats; at most "
                             f"{max_beats} fit the bridge's window")
        for element, code in enumerate(frame):
            if not low <= code <= high:
                raise ParamError(f"{where}frame {index}, beat {element // lanes}, lane "
                                 f"{element % lanes}: code {show(code)} must be in "
                                 f"{low}..{high}")


def add_arguments(parser):
    parser.add_argument("--port", required=True, help="serial device, e.g. /dev/ttyUSB1")
    add_selection(parser)
    parser.add_argument("--input", metavar="FILE", help="frames to send (one per line)")
    parser.add_argument("--frames", type=int, default=100, help="random frames (default 100)")
    parser.add_argument("--seed", type=int, default=1)


def _one_block(args):
    entries = selected_entries(args)
    if len(entries) != 1:
        names = ", ".join(e.name for e in entries[:5]) + (", ..." if len(entries) > 5 else "")
        raise ParamError(f"bridge drives one block (the one on the board): give --only NAME, "
                         f"not a selection of {len(entries)} ({names})")
    return entries[0]


def _jobs(entry, core, count, seed):
    """``count`` seeded jobs of the family's model: ``[(input beats in sending order, expected
    words per output stream)]``; a job with more beats on a stream than the window is refused."""
    if count < 1:
        raise ParamError(f"--frames must be at least 1, not {count}")
    ins, outs = stream_indices(core)
    layouts = {name: layout for name, (_, layout) in {**ins, **outs}.items()}
    rng = np.random.default_rng(seed)
    jobs = []
    for index in range(count):
        job_in, job_out = frame_model(entry).jobs(entry.params, rng, 0.25 if index == 0 else None)
        for name, payloads in {**job_in, **job_out}.items():
            if len(payloads) > WINDOW:
                raise ParamError(f"job {index}: stream {name!r} has {len(payloads)} beats; at "
                                 f"most {WINDOW} fit the bridge's window")
        beats = [(name, pack_payload(layouts[name], p)) for name, ps in job_in.items()
                 for p in ps]
        jobs.append((beats, {name: [pack_payload(layouts[name], p) for p in ps]
                             for name, ps in job_out.items()}))
    return jobs


def read_stream_beats(fd, core, want, port, what):
    """Read framed beats until every output stream has ``want[name]`` of them."""
    _, outs = stream_indices(core)
    by_index = {index: (name, layout) for name, (index, layout) in outs.items()}
    got = {name: [] for name in outs}
    while any(len(got[name]) < n for name, n in want.items()):
        (stream,) = read_exactly(fd, 1, port, what)
        if stream not in by_index:
            raise BridgeError(f"{port}: the board sent stream byte {stream}, which names no "
                              f"output stream of this block; is it the bridge bitstream of "
                              f"this block?")
        name, layout = by_index[stream]
        word = int.from_bytes(read_exactly(fd, beat_bytes(layout), port, what), "little")
        got[name].append(word)
    return got


def run_jobs(args, entry):
    """Multi-stream blocks: send seeded jobs, compare each output stream's words."""
    core = check_selftest(entry)
    if args.input:
        raise ParamError(f"--input takes frames of codes for a block with one input stream; "
                         f"{entry.name} has several streams ({', '.join(stream_indices(core)[0])})"
                         f": use --frames N seeded jobs")
    jobs = _jobs(entry, core, args.frames, args.seed)
    fd = open_serial(args.port)
    bad = 0
    try:
        for index, (beats, want) in enumerate(jobs):
            _io(os.write, fd, pack_stream_beats(core, beats), port=args.port)
            got = read_stream_beats(fd, core, {name: len(w) for name, w in want.items()},
                                    args.port, f"the outputs of job {index}")
            wrong = [(name, k) for name, words in want.items()
                     for k, word in enumerate(words) if got[name][k] != word]
            if wrong:
                bad += 1
                name, k = wrong[0]
                print(f"job {index}: stream {name} beat {k}: expected {want[name][k]:#x} got "
                      f"{got[name][k]:#x}")
    finally:
        os.close(fd)
    beats = sum(len(b) for b, _ in jobs)
    print(f"{entry.name}: {len(jobs)} jobs, {beats} input beats, "
          f"{'all bit-exact' if not bad else f'{bad} jobs differ'}")
    if bad:
        raise FramesDiffer(f"{entry.name}: {bad} of {len(jobs)} jobs differ from the golden "
                           f"model")


def run(args):
    """Send the frames, compare what comes back; raise :class:`FramesDiffer` on a difference."""
    entry = _one_block(args)
    if is_multi_stream(entry):
        return run_jobs(args, entry)
    core = check_supported(entry)
    in_layout = payload_shape(stream_members(core.signature)["i"][1])
    lanes = in_layout.members["data"].length
    model, longest = frame_model(entry)[:2]
    max_beats = min(WINDOW, (longest(entry.params) or WINDOW * lanes) // lanes)
    low, high = _code_range(in_layout.members["data"].elem_shape)
    if args.input:
        numbered = read_frames(args.input, lanes)
        frames = [codes for _, codes in numbered]
        check_codes(frames, lanes, low, high, max_beats,
                    lambda index: f"{args.input}:{numbered[index][0]}: ")
    else:
        if args.frames < 1:
            raise ParamError(f"--frames must be at least 1, not {args.frames}")
        rng = np.random.default_rng(args.seed)
        frames = [[int(v) for v in rng.integers(low, high + 1,
                                                lanes * int(rng.integers(1, max_beats + 1)))]
                  for _ in range(args.frames)]
    out_size = beat_bytes(payload_shape(stream_members(core.signature)["o"][1]))
    fd = open_serial(args.port)
    bad = 0
    try:
        for index, frame in enumerate(frames):
            _io(os.write, fd, pack_frames(core, [frame]), port=args.port)
            beats = len(frame) // lanes
            (got,) = unpack_beats(core, read_exactly(
                fd, out_size * beats, args.port, f"the {beats}-beat output of frame {index}"))
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
