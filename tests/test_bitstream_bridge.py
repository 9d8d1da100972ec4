"""The UART-to-stream bridge in the Amaranth simulator: bytes packed as the host script packs
them go in on rx, the block's outputs come back on tx and unpack to the golden model's codes."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from fpga.bridge import Bridge, beat_bytes, pack_frames, unpack_beats
from fpga.selftest import check_supported
from generators.catalog import DEFAULT_CATALOG
from generators.gelu.model import gelu

CATALOG = {e.name: e for e in DEFAULT_CATALOG}
DIVISOR = 4


def _run_bridge(entry, payload, out_bytes):
    dut = Bridge(entry, divisor=DIVISOR, window=8)
    received = bytearray()

    async def send(ctx):
        for byte in payload:
            for bit in [0, *((byte >> k) & 1 for k in range(8)), 1]:
                ctx.set(dut.rx, bit)
                await ctx.tick().repeat(DIVISOR)

    async def receive(ctx):
        while len(received) < out_bytes:
            await ctx.tick().until(dut.tx == 0)
            await ctx.tick().repeat(DIVISOR // 2)          # middle of the start bit
            byte = 0
            for k in range(8):
                await ctx.tick().repeat(DIVISOR)
                byte |= ctx.get(dut.tx) << k
            await ctx.tick().repeat(DIVISOR)
            assert ctx.get(dut.tx) == 1, "stop bit"
            received.append(byte)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(send, background=True)
    sim.add_testbench(receive)
    sim.run_until(1e-6 * (len(payload) + out_bytes + 8) * 10 * DIVISOR * 2)
    return dut.core, bytes(received)


def test_bridge_gelu_round_trip():
    entry = CATALOG["gelu_int8"]
    rng = np.random.default_rng(5)
    frames = [list(rng.integers(-128, 128, 4 * n)) for n in (3, 1, 2)]
    frames[0][:4] = [-128, 127, 0, -1]
    core = check_supported(entry)
    payload = pack_frames(core, frames)
    assert len(payload) == 6 * 5           # 33-bit beats in 5 bytes
    core, back = _run_bridge(entry, payload, len(payload))
    assert unpack_beats(core, back) == [[int(v) for v in gelu(entry.params, np.array(f))]
                                        for f in frames]


def test_pack_refuses_partial_beats():
    core = check_supported(CATALOG["gelu_int8"])
    with pytest.raises(ValueError, match=r"^frame 0 has 3 elements, not a multiple of the 4 "
                                         r"lanes$"):
        pack_frames(core, [[1, 2, 3]])


def _read_pty(master):
    """The next bytes the host wrote, or b"" once it closed its end (EOF or EIO)."""
    import os

    try:
        return os.read(master, 4096)
    except OSError:
        return b""


def _fake_board(master, entry, core, corrupt, beats_out):
    """A stand-in board on a pseudo-terminal: decode the beats, answer with the model's output
    (one element off when ``corrupt``), as the bridge gateware would."""
    import os

    from fpga.bridge import beat_bytes, _layouts

    in_layout, _ = _layouts(core)
    size = beat_bytes(in_layout)
    lanes = in_layout.members["data"].length
    pending = bytearray()
    frame = []
    while True:
        chunk = _read_pty(master)
        if not chunk:
            return
        pending += chunk
        while len(pending) >= size:
            bits = int.from_bytes(pending[:size], "little") & ((1 << in_layout.size) - 1)
            del pending[:size]
            beat = in_layout.from_bits(bits)
            frame += [int(beat.data[k]) for k in range(lanes)]
            if beat.last:
                y = [int(v) for v in gelu(entry.params, np.array(frame))]
                if corrupt:
                    y[0] = y[0] + 1 if y[0] < 127 else y[0] - 1
                beats_out.append(len(frame) // lanes)   # before the reply: the host may
                os.write(master, pack_outputs(core, y))  # return as soon as it has it
                frame = []


def pack_outputs(core, y):
    from fpga.bridge import beat_bytes, _layouts

    _, out_layout = _layouts(core)
    lanes = out_layout.members["data"].length
    out = bytearray()
    for beat in range(len(y) // lanes):
        word = out_layout.const({"data": y[beat * lanes:(beat + 1) * lanes],
                                 "last": int(beat == len(y) // lanes - 1)}).as_bits()
        out += word.to_bytes(beat_bytes(out_layout), "little")
    return bytes(out)


@pytest.mark.parametrize("corrupt", [False, True], ids=["exact", "corrupted"])
def test_host_script_over_a_pty(tmp_path, capsys, corrupt):
    """The bridge verb (fpga/host_bridge.py) end to end on a pseudo-terminal: it passes an exact
    board and catches a wrong element (exit 1, one error line)."""
    import os
    import threading

    from generators.cli import main

    entry = CATALOG["gelu_int8"]
    core = check_supported(entry)
    master, slave = os.openpty()
    beats_out = []
    board = threading.Thread(target=_fake_board, args=(master, entry, core, corrupt, beats_out),
                             daemon=True)
    board.start()
    (tmp_path / "frames.txt").write_text("-128 127 0 -1\n1, 2, 3, 4, 5, 6, 7, 8\n")
    try:
        status = main(["bridge", "--port", os.ttyname(slave), "--only", "gelu_int8",
                       "--input", str(tmp_path / "frames.txt")])
    finally:
        os.close(slave)
    out, err = capsys.readouterr()
    assert beats_out == [1, 2]
    if corrupt:
        assert status == 1 and "frame 0: element 0: input -128" in out and "2 frames differ" in out
        assert err == "error: gelu_int8: 2 of 2 frames differ from the golden model\n"
    else:
        assert status == 0 and out.endswith("gelu_int8: 2 frames, 12 elements, all bit-exact\n")


def _host(tmp_path, capsys, argv, entry=None, board=True, frames="-128 127 0 -1\n"):
    """Run the bridge verb on a pseudo-terminal with ``argv`` after ``--port``; with ``board``,
    a fake board answers for ``entry``. Returns (status, out, err, bytes the port received)."""
    import os
    import threading

    from generators.cli import main

    master, slave = os.openpty()
    received = bytearray()
    if board:
        core = check_supported(entry)
        threading.Thread(target=_fake_board, args=(master, entry, core, False, []),
                         daemon=True).start()
    (tmp_path / "frames.txt").write_text(frames)
    argv = [str(tmp_path / "frames.txt") if a == "FRAMES" else a for a in argv]
    try:
        status = main(["bridge", "--port", os.ttyname(slave), *argv])
    finally:
        os.close(slave)
    if not board:
        os.set_blocking(master, False)
        try:
            received += os.read(master, 4096)
        except OSError:             # nothing was sent (EAGAIN, or EIO once the slave is closed)
            pass
        os.close(master)
    out, err = capsys.readouterr()
    return status, out, err, bytes(received)


def test_host_script_takes_a_config(tmp_path, capsys):
    """``--config``: a block of the user's own, driven like a catalog one."""
    from generators.catalog import load_config

    config = tmp_path / "my.toml"
    config.write_text('[my_gelu]\nfamily = "gelu"\nmethod = "i_gelu"\nlanes = 2\n'
                      'in_width = 8\nin_frac = 5\nout_width = 8\nout_frac = 5\n')
    (entry,) = load_config(config)
    status, out, err, _ = _host(tmp_path, capsys, ["--config", str(config), "--only", "my_gelu",
                                                   "--input", "FRAMES"], entry,
                                frames="-128 127\n0 -1 5 6\n")
    assert (status, err) == (0, "")
    assert out.endswith("my_gelu: 2 frames, 6 elements, all bit-exact\n")


def test_host_script_refuses_out_of_range_codes_before_sending(tmp_path, capsys):
    status, out, err, sent = _host(tmp_path, capsys, ["--only", "gelu_int8", "--input", "FRAMES"],
                                   board=False, frames="1 2 3 4\n\n5 6 7 8 9 10 300 11\n")
    assert status == 2 and out == "" and sent == b""
    assert err == (f"error: {tmp_path / 'frames.txt'}:3: frame 1, beat 1, lane 2: code 300 must "
                   f"be in -128..127\n")


@pytest.mark.parametrize("frames, message", [
    ("1 2 3 4\n1 2 x 4\n", ":2: 'x' is not an integer code"),
    ("1 2 3 4\n1 2 3\n", ":2: 3 codes, not a multiple of 4 lanes"),
], ids=["not-a-number", "partial-beat"])
def test_host_script_names_the_bad_input_line(tmp_path, capsys, frames, message):
    status, out, err, sent = _host(tmp_path, capsys, ["--only", "gelu_int8", "--input", "FRAMES"],
                                   board=False, frames=frames)
    assert (status, out, sent) == (2, "", b"")
    assert err == f"error: {tmp_path / 'frames.txt'}{message}\n"


def test_host_script_names_a_silent_board(tmp_path, capsys, monkeypatch):
    """No board on the port: one line naming the port and what it waited for, exit 2."""
    import fpga.host_bridge

    monkeypatch.setattr(fpga.host_bridge, "TIMEOUT_S", 0.2)
    status, out, err, sent = _host(tmp_path, capsys, ["--only", "gelu_int8", "--input", "FRAMES"],
                                   board=False)
    assert status == 2 and out == "" and len(sent) == 5       # the one beat went out
    assert err.startswith("error: no answer on /dev/pts/") and err.count("\n") == 1
    assert "waited 0.2 s for the 1-beat output of frame 0 (5 bytes, got 0)" in err


@pytest.mark.parametrize("argv, message", [
    (["--only", "gelu_int9"], "'gelu_int9'; did you mean 'gelu_int8'?"),
    ([], "bridge drives one block (the one on the board): give --only NAME, not a selection of "),
], ids=["unknown-block", "no-block"])
def test_host_script_refuses_the_selection(tmp_path, capsys, argv, message):
    status, out, err, sent = _host(tmp_path, capsys, argv, board=False)
    assert (status, out, sent) == (2, "", b"")
    assert err.startswith("error: ") and message in err and err.count("\n") == 1


@pytest.mark.parametrize("port, message", [
    ("missing", "cannot open --port {port!r}: No such file or directory"),
    ("file", "--port {port!r} is not a serial device"),
], ids=["missing", "not-a-terminal"])
def test_host_script_refuses_the_port(tmp_path, capsys, port, message):
    from generators.cli import main

    path = tmp_path / port
    if port == "file":
        path.write_text("")
    status = main(["bridge", "--port", str(path), "--only", "gelu_int8", "--frames", "1"])
    out, err = capsys.readouterr()
    assert (status, out) == (2, "")
    assert err.startswith("error: " + message.format(port=str(path))) and err.count("\n") == 1


def _job_words(entry, core, seed, jobs):
    """``jobs`` seeded jobs of the family's model: (input beats in sending order, expected
    output words per stream), packed as the bridge carries them."""
    from fpga.selftest import frame_model, pack_payload
    from generators.axis import payload_shape, stream_members

    streams = stream_members(core.signature)
    model = frame_model(entry)
    rng = np.random.default_rng(seed)
    beats, expected = [], {}
    for job in range(jobs):
        job_in, job_out = model.jobs(entry.params, rng, 0.25 if job == 0 else None)
        for name, payloads in job_in.items():
            beats += [(name, pack_payload(payload_shape(streams[name][1]), p)) for p in payloads]
        for name, payloads in job_out.items():
            expected.setdefault(name, []).extend(
                pack_payload(payload_shape(streams[name][1]), p) for p in payloads)
    return beats, expected


# lut_tc_binary: 8 s; sparse_dsp_l8_m4 49 s (2 shared cores, loaded): -m slow.
@pytest.mark.parametrize("name", ["lut_tc_binary",
                                  pytest.param("sparse_dsp_l8_m4", marks=pytest.mark.slow)])
def test_bridge_multi_stream_round_trip(name):
    """Each input beat behind its stream byte, each output beat back behind its own: the words
    per output stream are the golden model's, for two seeded jobs."""
    from fpga.bridge import is_multi_stream, pack_stream_beats, stream_indices, \
        unpack_stream_beats
    from fpga.selftest import check_selftest

    entry = CATALOG[name]
    assert is_multi_stream(entry)
    core = check_selftest(entry)
    beats, expected = _job_words(entry, core, seed=4, jobs=2)
    assert len({stream for stream, _ in beats}) >= 2
    payload = pack_stream_beats(core, beats)
    _, outs = stream_indices(core)
    out_bytes = sum(len(words) * (1 + beat_bytes(outs[s][1])) for s, words in expected.items())
    core, back = _run_bridge(entry, payload, out_bytes)
    assert unpack_stream_beats(core, back) == expected


def test_stream_framing_refuses_unknown_streams():
    from fpga.bridge import pack_stream_beats, unpack_stream_beats
    from fpga.selftest import check_selftest

    core = check_selftest(CATALOG["sparse_dsp_l8_m4"])
    assert pack_stream_beats(core, [("x", 0x1FF), ("w", 1)])[:3] == bytes([0, 0xFF, 0x01])
    with pytest.raises(ValueError, match=r"^stream 'o' is not an input of the block; inputs: "
                                         r"x, w$"):
        pack_stream_beats(core, [("o", 1)])
    with pytest.raises(ValueError, match=r"^byte 0: stream byte 3 names no output stream "
                                         r"\(outputs: 0 o\)$"):
        unpack_stream_beats(core, bytes([3, 0]))
    with pytest.raises(ValueError, match=r"^byte 0: a beat of 'o' needs 26 bytes, 2 left$"):
        unpack_stream_beats(core, bytes([0, 1, 2]))


def _fake_job_board(master, core, jobs, corrupt):
    """A stand-in multi-stream board: once a job's input beats are in (checked against what the
    host should send), answer with its expected output beats, framed; one bit off with
    ``corrupt``."""
    import os

    from fpga.bridge import pack_stream_beats, stream_indices

    _, outs = stream_indices(core)
    pending = bytearray()
    for beats, want in jobs:
        sent = pack_stream_beats(core, beats)
        while len(pending) < len(sent):
            chunk = _read_pty(master)
            if not chunk:
                return
            pending += chunk
        assert bytes(pending[:len(sent)]) == sent
        del pending[:len(sent)]
        reply = bytearray()
        for name, words in want.items():
            index, layout = outs[name]
            for k, word in enumerate(words):
                word ^= int(corrupt and k == 0)
                reply += bytes([index]) + word.to_bytes(beat_bytes(layout), "little")
        os.write(master, bytes(reply))


@pytest.mark.parametrize("corrupt", [False, True], ids=["exact", "corrupted"])
def test_host_script_multi_stream_over_a_pty(capsys, corrupt):
    """The bridge verb for a multi-stream block: seeded jobs out, framed beats back; a wrong
    bit fails the job (exit 1)."""
    import os
    import threading

    from fpga.host_bridge import _jobs
    from fpga.selftest import check_selftest
    from generators.cli import main

    entry = CATALOG["deform_dw_square_tiny"]
    core = check_selftest(entry)
    jobs = _jobs(entry, core, 3, 1)
    assert len({name for beats, _ in jobs for name, _ in beats}) == 3
    master, slave = os.openpty()
    threading.Thread(target=_fake_job_board, args=(master, core, jobs, corrupt),
                     daemon=True).start()
    try:
        status = main(["bridge", "--port", os.ttyname(slave), "--only", entry.name,
                       "--frames", "3"])
    finally:
        os.close(slave)
    out, err = capsys.readouterr()
    beats = sum(len(b) for b, _ in jobs)
    if corrupt:
        assert status == 1 and "job 0: stream o beat 0: expected" in out
        assert out.endswith(f"{entry.name}: 3 jobs, {beats} input beats, 3 jobs differ\n")
        assert err == f"error: {entry.name}: 3 of 3 jobs differ from the golden model\n"
    else:
        assert (status, err) == (0, "")
        assert out.endswith(f"{entry.name}: 3 jobs, {beats} input beats, all bit-exact\n")


def test_host_script_multi_stream_refuses_input_files(tmp_path, capsys):
    status, out, err, sent = _host(tmp_path, capsys, ["--only", "lut_tc_binary", "--input",
                                                      "FRAMES"], board=False)
    assert (status, out, sent) == (2, "", b"")
    assert err == ("error: --input takes frames of codes for a block with one input stream; "
                   "lut_tc_binary has several streams (a, w): use --frames N seeded jobs\n")


def test_host_script_multi_stream_names_a_silent_board(tmp_path, capsys, monkeypatch):
    import fpga.host_bridge

    monkeypatch.setattr(fpga.host_bridge, "TIMEOUT_S", 0.2)
    status, out, err, sent = _host(tmp_path, capsys, ["--only", "lut_tc_binary", "--frames",
                                                      "1"], board=False)
    assert status == 2 and out == "" and sent[:1] == b"\x00"
    assert err.startswith("error: no answer on /dev/pts/") and err.count("\n") == 1
    assert "for the outputs of job 0 (1 bytes, got 0)" in err
