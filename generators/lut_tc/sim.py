"""Amaranth-simulator payloads for the LUT tensor core and the multiplier array, shared by the
tier-1 tests and the report's cycle counts (``scripts/lut_tc_figures.py``): the beats of packed
tiles as the dicts :mod:`generators.simkit` puts, per input stream."""

__all__ = ["tile_payloads"]


def tile_payloads(params, tiles):
    """``{input stream: [payloads]}`` of ``tiles`` back to back, each a tuple of
    ``(a_beats, w_beats, z_beats[, c_beats, s_beat])`` as :mod:`.prepare` packs them; ``a`` and
    ``w`` carry ``last`` on a tile's final beat. Streams the parameters leave out are absent."""
    # (stream, the tile's beats, has last)
    streams = [("a", lambda t: t[0], True), ("w", lambda t: t[1], True)]
    if params.has_zero_point:
        streams.append(("z", lambda t: t[2], False))
    if params.acc_in:
        streams.append(("c", lambda t: t[3], False))
    if params.requant:
        streams.append(("s", lambda t: [t[4]], False))
    payloads = {}
    for name, beats_of, has_last in streams:
        payloads[name] = []
        for tile in tiles:
            beats = beats_of(tile)
            for i, beat in enumerate(beats):
                payload = {"data": [int(v) for v in beat]}
                if has_last:
                    payload["last"] = int(i == len(beats) - 1)
                payloads[name].append(payload)
    return payloads
