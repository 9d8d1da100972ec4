"""Scaling of one sweep on the engine, measured: wall time and parallel efficiency at 1 and 2
local workers and on a simulated two-node cluster (``ray.cluster_utils.Cluster``, two nodes of
one CPU on this machine), then a projection for a 64-core cluster from the per-point costs.

    python -m scripts.sweep_scaling [SPEC.toml] [--out FILE.json]

Each configuration runs in a process of its own (one Ray connection per process) with an empty
synthesis cache of its own, so every point is synthesised (nothing is taken from build/) and
the runs do not share results. Run it under ``nice``: it uses the machine's cores for minutes.
The load average is recorded with each run, since on a shared machine it bounds the efficiency.
"""

import argparse
import heapq
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

__all__ = ["CONFIGURATIONS", "measure", "project", "main"]

#: label -> how the engine is started (workers on a local cluster, or a simulated cluster).
CONFIGURATIONS = {
    "local, 1 worker": {"workers": 1},
    "local, 2 workers": {"workers": 2},
    "simulated 2 nodes x 1 CPU": {"nodes": 2},
}

#: The projected cluster and sweep: 64 cores; the shipped points repeated to a sweep of
#: 96 configurations x 2 targets x 3 seeds worth of tasks at the measured per-point costs.
PROJECTED_CORES = 64
PROJECTED_TASKS = 96 * 2 * 3


def measure(spec_path, label):
    """One configuration: ``{label, wall_s, sweep_s, point_s, nodes, errors, load}``."""
    from scripts.engine import Engine
    from scripts.sweep import load_spec, run_sweep

    setting = CONFIGURATIONS[label]
    spec = load_spec(spec_path)
    cluster = None
    began = time.monotonic()
    if "nodes" in setting:
        from ray.cluster_utils import Cluster

        cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
        for _ in range(setting["nodes"] - 1):
            cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        engine = Engine(address=cluster.address)
    else:
        engine = Engine(workers=setting["workers"])
    try:
        with tempfile.TemporaryDirectory(prefix="sweep-scaling-") as cache, engine:
            started = time.monotonic()
            rows = run_sweep(spec, engine, Path(cache))
            sweep_seconds = time.monotonic() - started
    finally:
        if cluster is not None:
            cluster.shutdown()
    return {"label": label, "wall_s": round(time.monotonic() - began, 1),
            "sweep_s": round(sweep_seconds, 1),
            "point_s": [round(s, 1) for s in engine.item_seconds],
            "nodes": len(set(engine.item_nodes)),
            "errors": sum(1 for row in rows if row.get("error")),
            "load": [round(x, 2) for x in os.getloadavg()]}


def project(point_seconds, cores=PROJECTED_CORES, tasks=PROJECTED_TASKS):
    """Seconds for ``tasks`` tasks of the measured costs (cycled) on ``cores`` workers,
    longest first onto the least busy worker; and the same tasks one after another."""
    costs = sorted((point_seconds[i % len(point_seconds)] for i in range(tasks)), reverse=True)
    busy = [0.0] * cores
    for cost in costs:
        heapq.heapreplace(busy, busy[0] + cost)
    return max(busy), sum(costs)


def _table(runs, projection):
    base = next(run for run in runs if run["label"] == "local, 1 worker")["sweep_s"]
    lines = ["| run | points | nodes | sweep s | wall s | speed-up | efficiency | load (1 min) |",
             "|---|---|---|---|---|---|---|---|"]
    for run in runs:
        workers = 1 if run["label"] == "local, 1 worker" else 2
        speedup = base / run["sweep_s"]
        lines.append(f"| {run['label']} | {len(run['point_s'])} | {run['nodes']} | "
                     f"{run['sweep_s']} | {run['wall_s']} | {speedup:.2f} | "
                     f"{speedup / workers:.2f} | {run['load'][0]} |")
    serial, parallel = projection["serial_s"], projection["makespan_s"]
    lines.append("")
    lines.append(f"Projection: {projection['tasks']} tasks at the 1-worker per-point costs on "
                 f"{projection['cores']} cores: {parallel:.0f} s (one after another: "
                 f"{serial:.0f} s, {serial / 3600:.1f} h), plus the cluster's start-up.")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m scripts.sweep_scaling",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("spec", nargs="?", default="sweeps/gelu.toml", type=Path)
    parser.add_argument("--out", type=Path, default=Path("docs/sweeps/scaling.json"),
                        help="the measured runs and the projection (default: %(default)s)")
    parser.add_argument("--one", choices=sorted(CONFIGURATIONS), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:        # a child: one configuration, its figures as JSON on stdout
        print(json.dumps(measure(args.spec, args.one)), flush=True)
        return 0
    runs = []
    for label in CONFIGURATIONS:
        child = subprocess.run([sys.executable, "-m", "scripts.sweep_scaling", str(args.spec),
                                "--one", label], stdout=subprocess.PIPE, text=True,
                               check=True)
        runs.append(json.loads(child.stdout.strip().splitlines()[-1]))
        print(f"{label}: {runs[-1]['sweep_s']} s", file=sys.stderr, flush=True)
    costs = next(run for run in runs if run["label"] == "local, 1 worker")["point_s"]
    makespan, serial = project(costs)
    projection = {"cores": PROJECTED_CORES, "tasks": PROJECTED_TASKS,
                  "makespan_s": round(makespan, 1), "serial_s": round(serial, 1)}
    result = {"spec": args.spec.as_posix(), "cpus": os.cpu_count(), "runs": runs,
              "projection": projection}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(_table(runs, projection))
    return 0


if __name__ == "__main__":
    sys.exit(main())
