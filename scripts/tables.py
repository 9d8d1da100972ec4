"""Pieces every family's report table shares: the synthesis targets and their cells."""

__all__ = ["SYNTH_TARGETS", "fmt", "synth_header", "synth_target_cells", "synth_cells"]

SYNTH_TARGETS = ("ice40-up5k", "ecp5-85f")


def fmt(value, spec):
    return "n/a" if value is None else format(value, spec)


def synth_header():
    header = []
    for target in SYNTH_TARGETS:
        short = "iCE40" if target.startswith("ice40") else "ECP5"
        header += [f"{short} LUT/FF/DSP/BRAM", f"{short} Fmax"]
    return header


def synth_target_cells(synth):
    """The resources and Fmax cells of one synthesis row (``None``: not run)."""
    if synth is None:
        return ["not run", "—"]
    if "error" in synth:
        reason = synth["error"].split(": ", 1)[-1]
        return [reason if reason.startswith("does not fit") else "failed", "—"]
    return [f"{synth['lut']}/{synth['ff']}/{synth['dsp']}/{synth['bram']}",
            f"{fmt(synth['fmax_mhz'], '.1f')} MHz"]


def synth_cells(row):
    return [cell for target in SYNTH_TARGETS
            for cell in synth_target_cells(row.get("synth", {}).get(target))]
