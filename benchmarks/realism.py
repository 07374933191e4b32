"""How real the demo data looks to the kit's pre-processing, beside real CASME II -> results/bench/realism.json.

    python benchmarks/realism.py                         # demo seeds 0 1 2, all three datasets
    python benchmarks/realism.py --seeds 0 --datasets casme2

For each demo seed (generated under the cache's demo dir when missing; seed 0
is the demo every script uses) and dataset: the flow statistics of
``me_resnet.evaluation.realism.measure`` (median, p10, p90 over clips) and the
linear probe's LOSO UF1. The statistics of seed 0 are checked against the real
CASME II reference (``realism.REAL_CASME2``, measured by the kit on licensed
clips that are not distributed); the probe's UF1 is given for every seed, so a
lucky seed shows. Also: the generation time of each seed that had to be
generated, the load average before and after, wall time and provenance.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from me_resnet.data import demo  # noqa: E402
from me_resnet.data.loading import load_dataset  # noqa: E402
from me_resnet.evaluation import flow_probe, realism  # noqa: E402
from me_resnet.preprocessing import flow_stats  # noqa: E402
from me_resnet.utils import paths  # noqa: E402
from me_resnet.utils.io import write_json_atomic  # noqa: E402
from me_resnet.utils.paths import RESULTS_DIR  # noqa: E402
from me_resnet.utils.provenance import provenance  # noqa: E402

DATASETS = ("casme2", "smic", "samm")


def demo_root(seed: int) -> tuple[Path, float | None]:
    """The demo data of ``seed`` and the seconds its generation took (None: it was there already)."""
    out = paths.demo_data_dir() if seed == 0 else paths.demo_data_dir() / "other_seeds" / f"seed{seed}"
    start = time.perf_counter()
    marker = out / demo.MARKER
    before = marker.read_text() if marker.is_file() else None
    demo.ensure_demo_data(out, seed)
    generated = before != marker.read_text()
    return out, round(time.perf_counter() - start, 1) if generated else None


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--datasets", nargs="+", choices=DATASETS, default=list(DATASETS))
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "bench" / "realism.json")
    args = parser.parse_args(argv)
    load_before = os.getloadavg()
    started = time.perf_counter()
    config = realism.pipeline_config()
    measured, generation = {}, {}
    for seed in args.seeds:
        root, seconds = demo_root(seed)
        generation[str(seed)] = seconds
        for dataset in args.datasets:
            records = load_dataset(dataset, root / dataset, config).records
            result = realism.measure(records, config, workers=args.workers)
            measured.setdefault(dataset, {})[str(seed)] = result
            print(f"seed {seed} {dataset}: probe UF1 {result['probe_uf1']:.3f}", flush=True)
    first = str(args.seeds[0])
    document = {
        "what": __doc__.splitlines()[0],
        "config": {
            "pipeline": {name: getattr(config, name) for name in realism.PIPELINE_FIELDS},
            "mask_scale_factor": flow_stats.MASK_SCALE_FACTOR,
            "probe": {"C": flow_probe.PROBE_C, "grid": flow_stats.PROBE_GRID},
            "seeds": args.seeds,
            "generator_version": demo.GENERATOR_VERSION,
        },
        "reference": realism.REAL_CASME2,
        "demo": {
            dataset: {seed: _brief(result) for seed, result in runs.items()} for dataset, runs in measured.items()
        },
        "per_clip": {dataset: runs[first]["per_clip"] for dataset, runs in measured.items()},
        "probe_uf1_by_seed": {
            dataset: {seed: result["probe_uf1"] for seed, result in runs.items()} for dataset, runs in measured.items()
        },
        "targets": {"seed": args.seeds[0]} | realism.check_targets(measured["casme2"][first])
        if "casme2" in measured
        else None,
        "generation_seconds": generation,
        "wall_seconds": round(time.perf_counter() - started, 1),
        "load_average_before_after": [round(v, 2) for v in load_before + os.getloadavg()],
        "provenance": provenance(),
    }
    write_json_atomic(args.out, document)
    if document["targets"] is not None:
        for name, target in document["targets"].items():
            print(f"{name}: {target}")
    print(f"wrote {args.out}")


def _brief(result: dict) -> dict:
    return {key: value for key, value in result.items() if key != "per_clip"}


if __name__ == "__main__":
    main()
