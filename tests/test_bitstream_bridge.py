"""The UART-to-stream bridge in the Amaranth simulator: bytes packed as the host script packs
them go in on rx, the block's outputs come back on tx and unpack to the golden model's codes."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from fpga.bridge import Bridge, pack_frames, unpack_beats
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
        try:
            chunk = os.read(master, 4096)
        except OSError:
            return
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
