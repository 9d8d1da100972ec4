"""Fill the LUT tensor core's baseline cache (``build/synth/lut_tc_cmp``) two syntheses at a
time, so that ``generators report --only lut_tc_*`` (which runs them one by one) finds them.

``python -m scripts.lut_tc_prewarm [entry ...]`` (default: every lut_tc catalog entry).
"""

import sys
from concurrent.futures import ThreadPoolExecutor

from generators.catalog import DEFAULT_CATALOG
from scripts.lut_tc_figures import _design_name, baselines, cached_synth


def jobs(names):
    seen = set()
    for entry in DEFAULT_CATALOG:
        if entry.params.family != "lut_tc" or (names and entry.name not in names):
            continue
        for bparams, targets in baselines(entry.params).values():
            for _, target in targets:
                key = (_design_name(bparams), target)
                if key not in seen:
                    seen.add(key)
                    yield bparams, *key


def main(names):
    def run(job):
        bparams, name, target = job
        row = cached_synth(bparams, name, target)
        print(name, target, row.get("lut"), row.get("fmax_mhz"), row.get("error", ""), flush=True)

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(run, list(jobs(names))))


if __name__ == "__main__":
    main(sys.argv[1:])
