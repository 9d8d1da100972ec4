"""The generic tier-2 test: drive a block from its manifest alone (no family code).

From the manifest (path in env ``GEN_MANIFEST``) it picks jobs, seeded: run-time variables in
their ranges or choices (mostly small), random field values within each field's width, choices
and value rules, tkeep fields all ones, pad lanes marked as the padding rule says (tkeep low,
or the mask bit set; their other fields random), tlast where it delimits and random where it is
ignored. It feeds every input stream, drains every output stream and checks each output's beat
count, tlast framing and, where an output's padding names a tkeep field, its tkeep bits (low
exactly on the pad lanes), then that nothing is left over. The first job runs alone
at full rate with tready high, and its measured latency must be the manifest's.
"""

import json
import os
import random

import cocotb

from generators.streams import evaluate
from testbench.harness import Beat, ManifestTB, field_range, put_field

MANIFEST = json.loads(open(os.environ["GEN_MANIFEST"], encoding="utf-8").read())
JOBS = int(os.environ.get("MANIFEST_JOBS", "6"))
LATENCY_JOBS = int(os.environ.get("MANIFEST_LATENCY_JOBS", "3"))
BEAT_BUDGET = int(os.environ.get("MANIFEST_BEAT_BUDGET", "1500"))
UNBOUNDED_SPAN = 64     # steps above min tried for a variable without max


def _pick(var, rng):
    if "choices" in var:
        return rng.choice(var["choices"])
    steps = ((var["max"] - var["min"]) // var["step"] if var["max"] is not None
             else UNBOUNDED_SPAN)
    # Log-uniform over the number of steps: mostly small, the top of the range now and then.
    scale = 1 << rng.randint(0, max(steps, 1).bit_length())
    return var["min"] + var["step"] * min(rng.randrange(scale), steps)


def _environment(values):
    env = dict(values)
    for derived in MANIFEST["job"]["derived"]:
        env[derived["name"]] = evaluate(derived["expr"], env)
    return env


def job_beats(env):
    return {name: evaluate(s["beats"], env) for name, s in MANIFEST["streams"].items()}


def pick_job(rng, need=None):
    """Variables of a random job whose beats stay within the budget (``need``: a predicate it
    must also meet); the smallest job when none is found."""
    for _ in range(200):
        env = _environment({v["name"]: _pick(v, rng) for v in MANIFEST["job"]["variables"]})
        if sum(job_beats(env).values()) <= BEAT_BUDGET and (need is None or need(env)):
            return env
    env = _environment({v["name"]: v["choices"][0] if "choices" in v else v["min"]
                        for v in MANIFEST["job"]["variables"]})
    assert need is None or need(env), "no job meets the latency's conditions"
    return env


def _value(field, env, rng):
    if field["signal"] == "tkeep":
        return (1 << field["width"]) - 1        # every lane an element; padding clears some
    if "value" in field:
        return evaluate(field["value"], env)
    if "choices" in field:
        return rng.choice(field["choices"])
    low, high = field_range(field)
    return rng.randint(low, high)


def _payload(fields, env, rng, last):
    """A random payload dict of a field table (the harness's dict form)."""
    out = {}
    for field in fields:
        if field["signal"] == "tlast":
            put_field(out, field["name"], None, last)
            continue
        lanes = field.get("lanes")
        if lanes is None:
            put_field(out, field["name"], None, _value(field, env, rng))
        else:
            for lane in range(lanes):
                put_field(out, field["name"], lane, _value(field, {**env, "lane": lane}, rng))
    return out


def _index_env(segment, position, env):
    """Loop variables of a segment at beat ``position`` (outer first)."""
    out = {}
    counts = [(i["name"], evaluate(i["count"], env)) for i in segment.get("index", [])]
    for name, count in reversed(counts):
        out[name] = position % count
        position //= count
    return out


def input_beats(stream, env, rng):
    """The beats of one job on an input stream, as payload dicts (or (layout, dict))."""
    spec = MANIFEST["streams"][stream]
    total = evaluate(spec["beats"], env)
    tlast = spec["tlast"]
    every = evaluate(tlast["every"], env) if tlast["role"] == "delimits" else None
    segments = spec.get("segments") or [{"name": "all", "beats": spec["beats"],
                                         "layout": "payload"}]
    plan = []
    for segment in segments:
        for position in range(evaluate(segment["beats"], env)):
            plan.append((segment, position))
    assert len(plan) == total, f"{stream}: segments give {len(plan)} beats, beats says {total}"
    beats = []
    for n, (segment, position) in enumerate(plan):
        benv = {**env, **_index_env(segment, position, env),
                "beat": n % every if every else n}
        if every is not None:
            last = int((n + 1) % every == 0)
        elif tlast["role"] == "ignored":
            last = rng.randint(0, 1)
        else:
            last = 0
        layout = segment["layout"]
        fields = spec["fields"] if layout == "payload" else spec["layouts"][layout]
        payload = _payload(fields, benv, rng, last)
        if layout != "payload":
            # An alternative layout fills tdata only; tlast comes from the payload's rule.
            payload = (layout, payload, last)
        elif "padding" in spec:
            _pad(spec["padding"], payload, benv, fields)
        beats.append(payload)
    return beats


def _pad_lanes(rule, env, fields):
    lanes = next(f["lanes"] for f in fields if f["name"] == "data[]")
    return range(max(evaluate(rule["valid"], env), 0), lanes)


def _pad(rule, payload, env, fields):
    pads = sum(1 << lane for lane in _pad_lanes(rule, env, fields))
    if "keep_field" in rule:
        payload[rule["keep_field"]] &= ~pads
    if "mask_field" in rule:
        mask = payload[rule["mask_field"]]
        payload[rule["mask_field"]] = mask | pads if rule["mask_value"] else mask & ~pads


def expected_beats(stream, env):
    spec = MANIFEST["streams"][stream]
    total = evaluate(spec["beats"], env)
    if spec["tlast"]["role"] != "delimits":
        return [{} for _ in range(total)]
    every = evaluate(spec["tlast"]["every"], env)
    assert every > 0 and total % every == 0, f"{stream}: {total} beats, frames of {every}"
    beats = [{"last": int((n + 1) % every == 0)} for n in range(total)]
    rule = spec.get("padding", {})
    if "keep_field" in rule:
        width = next(f["width"] for f in spec["fields"] if f["name"] == rule["keep_field"])
        for n, beat in enumerate(beats):
            pads = _pad_lanes(rule, {**env, "beat": n % every}, spec["fields"])
            beat[rule["keep_field"]] = ((1 << width) - 1) & ~sum(1 << k for k in pads)
    return beats


def queue_job(tb, env, rng):
    for name, spec in MANIFEST["streams"].items():
        if spec["direction"] == "input":
            beats = []
            for item in input_beats(name, env, rng):
                if isinstance(item, tuple):
                    layout, payload, last = item
                    packed = tb.pack(name, payload, layout)
                    beats.append(Beat(packed.tdata, 0, last))
                else:
                    beats.append(item)
            tb.send(name, beats)
        else:
            tb.expect(name, expected_beats(name, env))


def _latency_beats_exist(env):
    spec, beats = MANIFEST["latency"], job_beats(env)
    return all(0 <= evaluate(event["beat"], env) < beats[event["stream"]]
               for event in [*spec["from"], spec["to"]])


def _timeout(envs):
    beats = sum(sum(job_beats(env).values()) for env in envs)
    return 64 * beats + 100 * len(envs) + 20000


@cocotb.test()
async def test_manifest_only(dut):
    rng = random.Random(cocotb.RANDOM_SEED)
    tb = ManifestTB(dut, MANIFEST)
    await tb.reset()

    # Jobs alone on the idle block, full rate, tready high: the manifest's latency, measured.
    for _ in range(LATENCY_JOBS):
        env = pick_job(rng, _latency_beats_exist)
        mark = tb.mark()
        queue_job(tb, env, rng)
        await tb.wait(_timeout([env]))
        measured, declared = tb.latency(env, mark)
        dut._log.info("latency: measured %d, manifest %s = %d (job %s)", measured,
                      MANIFEST["latency"]["cycles"], declared, env)
        assert measured == declared, (f"latency measured {measured}, manifest says "
                                      f"{MANIFEST['latency']['cycles']} = {declared} for job "
                                      f"{env}")
        await tb.drain()

    # Then jobs back to back under random gaps and backpressure, per stream.
    patterns = ["none", "light", "random", "heavy", "bursty"]
    envs = [pick_job(rng) for _ in range(JOBS)]
    tb.set_traffic(**{name: rng.choice(patterns) for name in MANIFEST["streams"]})
    dut._log.info("traffic %s; jobs %s", tb.patterns, envs)
    for env in envs:
        queue_job(tb, env, rng)
    await tb.wait(_timeout(envs))
    await tb.drain()
