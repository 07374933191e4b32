"""Demo ME-ResNet LOSO quality over seeds: 2 threads vs 1 thread per fold, and a cheaper candidate config.

    python benchmarks/demo_quality.py                          # seeds 0 1 2, every variant
    python benchmarks/demo_quality.py --seeds 0 --variants one_thread

The demo default moved from the in-process loop (TensorFlow's default thread
count: all cores) to pool workers with one thread each (``--executor auto``).
A fold's last bits depend on its thread count, so the committed demo results
changed; this measures whether the *quality* changed, over seeds, on the same
15 folds as ``table5.py --demo`` (benchmarks/demo_loso.py's setup):

- ``two_threads``: the loop in this process, default threads (the old default);
- ``one_thread``: 2 pool workers x 1 thread (the current default);
- ``batch8``: as ``one_thread`` with ``batch_size=8`` (half the steps: a
  candidate for a faster ``make demo``; not the default).

Per seed and variant: UF1 per dataset and composite, wall-clock; then the mean
and standard deviation over seeds. Written after every seed (an interrupted run
keeps its finished seeds) to ``results/bench/demo_quality.json`` with the load
average and provenance.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from me_resnet.utils.quiet import prepare_environment  # noqa: E402

prepare_environment()  # the kit's TensorFlow settings (oneDNN on), as its commands set them, before TensorFlow loads

from benchmarks.demo_loso import demo_runs, measure  # noqa: E402
from me_resnet.config import DEMO  # noqa: E402
from me_resnet.data.demo import GENERATOR_VERSION  # noqa: E402
from me_resnet.parallel.executors import InProcessExecutor, PoolExecutor  # noqa: E402
from me_resnet.utils.io import write_json_atomic  # noqa: E402
from me_resnet.utils.paths import RESULTS_DIR  # noqa: E402
from me_resnet.utils.provenance import provenance  # noqa: E402

VARIANTS = {
    "two_threads": "the loop in this process, default threads (all cores): the demo default before the pool",
    "one_thread": "2 pool workers x 1 thread: the demo default (--executor auto)",
    "batch8": "2 pool workers x 1 thread, batch_size 8 instead of 4 (candidate, not the default)",
}


def summarise(per_seed: dict) -> dict:
    """Mean and standard deviation over seeds of each variant's UF1 per dataset."""
    summary = {}
    for variant in VARIANTS:
        runs = [seed_runs[variant] for seed_runs in per_seed.values() if variant in seed_runs]
        if not runs:
            continue
        summary[variant] = {
            dataset: {
                "mean": round(statistics.fmean(run["uf1"][dataset] for run in runs), 4),
                "sd": round(statistics.stdev(run["uf1"][dataset] for run in runs), 4) if len(runs) > 1 else None,
            }
            for dataset in runs[0]["uf1"]
        } | {"seeds": len(runs), "mean_wall_seconds": round(statistics.fmean(r["wall_seconds"] for r in runs), 1)}
    return summary


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "bench" / "demo_quality.json")
    args = parser.parse_args(argv)
    if args.out.exists():
        print(f"note: replacing {args.out}")
    load_before = os.getloadavg()
    demo_runs()  # demo data and features into the cache first: not timed
    pool = PoolExecutor(workers=2, threads=1)  # kept between seeds: each fold is seeded by its config
    per_seed = {}
    try:
        for seed in args.seeds:
            profile = dataclasses.replace(DEMO, seed=seed)
            executors = {"two_threads": InProcessExecutor(), "one_thread": pool, "batch8": pool}
            profiles = {"batch8": dataclasses.replace(profile, batch_size=8)}
            per_seed[str(seed)] = {}
            for variant in args.variants:
                result = measure(variant, profiles.get(variant, profile), executors[variant])
                result.pop("predictions")
                result["executor"] = VARIANTS[variant]
                per_seed[str(seed)][variant] = result
                print(f"seed {seed} {variant}: {result['uf1']} in {result['wall_seconds']} s", flush=True)
            document = {
                "setup": "table5.py --demo's LOSO (demo ME-ResNet, LOSO per dataset on demo CASME II, SMIC, SAMM: "
                "15 folds), cached features; the config's seed varied (it seeds every fold's initial weights, "
                "augmentation and batch order)",
                "variants": VARIANTS,
                "data": f"synthetic demo data (generator version {GENERATOR_VERSION})",
                "per_seed": per_seed,
                "summary": summarise(per_seed),
                "load_average_before_after": [round(v, 2) for v in load_before + os.getloadavg()],
                "provenance": provenance(),
            }
            write_json_atomic(args.out, document)
    finally:
        pool.close()
    print(json.dumps(document["summary"], indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
