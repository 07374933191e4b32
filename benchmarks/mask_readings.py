"""The continuity mask's readings of eq. (5) scored against the demo's known moving regions, and their LOSO.

    python benchmarks/mask_readings.py                       # every dataset, every reading, a grid, LOSO 2 seeds
    python benchmarks/mask_readings.py --datasets casme2 --seeds 0 --loso-readings vanilla grey_difference
    python benchmarks/mask_readings.py --table              # docs/interpretations.md's tables from the JSON

Part 1, what the mask keeps (``me_resnet.evaluation.mask_scores``): on every demo
clip of ``--datasets`` with the paper's pre-processing (N = 11 key frames,
112 px face crops, MTCNN crop and alignment, Farneback), per reading and
scale factor a: the share of the flow energy and of the strain inside the
ground-truth moving region (and the chance level, the region's share of the
crop), the share of the region's motion kept, speckle, kept share and the
flow energy removed; vanilla flow beside them. Median and 10th / 90th
percentiles over clips, and the paired gain over vanilla per clip. Then the
smoothing scale ``mask_sigma`` of the blurred readings at a = 0.8, and the
same scores at the demo profile's input (N = 6, 32 px), the LOSO's.

Part 2, what it does to the classifier: the demo-profile ME-ResNet, LOSO inside
demo CASME II (``loso_scope=dataset``), per setting of ``--loso-readings``
("vanilla": no mask) at a = ``--loso-scale-factor``, per seed: UF1, UAR.

Written with the configs, the demo generator's version, the load average and
provenance to ``results/bench/mask_readings.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pandas as pd  # noqa: E402

from me_resnet.config import DEMO, PAPER  # noqa: E402
from me_resnet.data import demo_truth  # noqa: E402
from me_resnet.data.demo import GENERATOR_VERSION, ensure_demo_data  # noqa: E402
from me_resnet.evaluation import mask_scores  # noqa: E402
from me_resnet.evaluation.experiment import RunOptions, load_records, method_features, run_method  # noqa: E402
from me_resnet.evaluation.metrics import compute_metrics  # noqa: E402
from me_resnet.parallel.build import make_executor  # noqa: E402
from me_resnet.preprocessing.flow import MASK_READINGS  # noqa: E402
from me_resnet.utils.io import write_json_atomic  # noqa: E402
from me_resnet.utils.paths import RESULTS_DIR  # noqa: E402
from me_resnet.utils.provenance import provenance  # noqa: E402

SCALE_FACTORS = (0.2, 0.5, 0.8, 1.1, 1.4)
SIGMAS = (0.01, 0.02, 0.04)
BLURRED = ("spatial", "spatiotemporal")
LOSO_READINGS = ("vanilla", "grey_difference", "temporal", "spatial", "spatiotemporal")
OUTPUT = RESULTS_DIR / "bench" / "mask_readings.json"


def scores(loaded: dict, root: Path, config, readings, scale_factors) -> dict:
    """Part 1 for ``config``: ``{dataset: summary rows}`` and all datasets pooled (``"all"``)."""
    tables = {
        name: mask_scores.score_clips(result.records, root, config, readings, scale_factors, workers=2)
        for name, result in loaded.items()
    }
    tables["all"] = pd.concat(tables.values(), ignore_index=True)
    return {name: mask_scores.summary_records(mask_scores.summarise(table)) for name, table in tables.items()}


def sigma_scores(loaded: dict, root: Path, config) -> dict:
    """The blurred readings at a = 0.8 for each smoothing scale, all datasets pooled."""
    rows = {}
    for sigma in SIGMAS:
        summary = scores(loaded, root, dataclasses.replace(config, mask_sigma=sigma), BLURRED, [0.8])["all"]
        rows[str(sigma)] = [row for row in summary if row["reading"] != mask_scores.VANILLA]
    return rows


def loso(loaded: dict, setting: str, scale_factor: float, seeds) -> dict:
    """Part 2: the demo ME-ResNet's CASME II LOSO under one mask setting, per seed."""
    mask = {"flow_mode": "vanilla"} if setting == "vanilla" else {"mask_reading": setting}
    profile = dataclasses.replace(DEMO, loso_scope="dataset", scale_factor=scale_factor, **mask)
    features, config = method_features(
        loaded, "me_resnet", profile, options=RunOptions(workers=2), explicit=("loso_scope", *mask), demo=True
    )
    started = time.perf_counter()
    options = RunOptions(seeds=tuple(seeds), executor=make_executor("local"))  # as the commands run it
    predictions = run_method(features, "me_resnet", config, options=options)
    per_seed = {}
    for seed, part in predictions.groupby("seed"):
        row = compute_metrics(part, bootstrap_resamples=0).set_index("dataset").loc["casme2"]
        per_seed[str(seed)] = {name: round(float(row[name]), 4) for name in ("uf1", "uar")}
    return {
        "per_seed": per_seed,
        "mean": {name: round(statistics.fmean(run[name] for run in per_seed.values()), 4) for name in ("uf1", "uar")},
        "clips": int(len(features.y)),
        "training_seconds": round(time.perf_counter() - started, 1),
    }


def _cell(row: dict, score: str) -> str:
    return f"{row[score + '_median']:.3f} ({row[score + '_p10']:.3f}-{row[score + '_p90']:.3f})"


def markdown(document: dict, scale_factor: float = 0.8) -> str:
    """The tables docs/interpretations.md shows, from a written ``document``."""
    rows = document["scores"]["by_dataset"]["all"]
    shown = [row for row in rows if row["reading"] == mask_scores.VANILLA or row["scale_factor"] == scale_factor]
    lines = [
        "| setting | energy share | strain share | region's motion kept | speckle | kept | energy removed "
        "| clips where the energy share rises |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in shown:
        name = row["reading"] if row["reading"] == mask_scores.VANILLA else f"`{row['reading']}`, a = {scale_factor}"
        cells = [_cell(row, score) for score in ("energy_share", "strain_share", "motion_kept", "speckle", "kept")]
        rising = "—" if row["reading"] == mask_scores.VANILLA else f"{row['energy_share_gain_positive']:.2f}"
        lines.append(f"| {name} | {' | '.join(cells)} | {row['removed_median']:.3f} | {rising} |")
    chance = shown[0]
    lines += [
        "",
        f"chance level (the region's share of the crop): {_cell(chance, 'chance')}, {chance['clips']} clips",
        "",
    ]
    factors = document["scores"]["scale_factors"]
    lines += ["| reading | " + " | ".join(f"a = {a}" for a in factors) + " |", "|---" * (len(factors) + 1) + "|"]
    for reading in MASK_READINGS:
        by_factor = {row["scale_factor"]: row for row in rows if row["reading"] == reading}
        cells = [f"{by_factor[a]['energy_share_median']:.3f} / {by_factor[a]['speckle_median']:.2f}" for a in factors]
        lines.append(f"| `{reading}` | " + " | ".join(cells) + " |")
    if "loso" in document:
        lines += [
            "",
            "| setting | "
            + " | ".join(f"UF1 / UAR seed {seed}" for seed in document["loso"]["seeds"])
            + " | mean UF1 / UAR |",
        ]
        lines.append("|---" * (len(document["loso"]["seeds"]) + 2) + "|")
        for setting, result in document["loso"]["settings"].items():
            runs = [f"{run['uf1']:.3f} / {run['uar']:.3f}" for run in result["per_seed"].values()]
            mean = result["mean"]
            lines.append(f"| {setting} | " + " | ".join(runs) + f" | {mean['uf1']:.3f} / {mean['uar']:.3f} |")
    return "\n".join(lines)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["casme2", "samm", "smic"])
    parser.add_argument("--scale-factors", type=float, nargs="+", default=list(SCALE_FACTORS))
    parser.add_argument("--loso-readings", nargs="*", default=list(LOSO_READINGS))
    parser.add_argument("--loso-scale-factor", type=float, default=0.8)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--out", type=Path, default=OUTPUT)
    parser.add_argument("--table", action="store_true", help="print the markdown tables of --out and stop")
    args = parser.parse_args(argv)
    if args.table:
        print(markdown(json.loads(args.out.read_text())))
        return {}
    unknown = set(args.loso_readings) - {"vanilla", *MASK_READINGS}
    if unknown:
        parser.error(f"--loso-readings: unknown {sorted(unknown)}; choose from vanilla {' '.join(MASK_READINGS)}")
    load_before = os.getloadavg()
    root = ensure_demo_data()
    loaded = load_records({name: root / name for name in args.datasets}, PAPER)
    document = {
        "benchmark": "continuity-mask readings of eq. (5) against the demo's ground-truth moving regions, and LOSO",
        "data": f"synthetic demo data (generator version {GENERATOR_VERSION}), not the real datasets",
        "moving_region": f"ground truth: pixels moved by >= {demo_truth.MOVING_FRACTION} of the clip's largest "
        "expression displacement at the apex, mapped through each clip's face crop",
        "scores": {
            "config": PAPER.to_dict(),
            "scale_factors": args.scale_factors,
            "by_dataset": scores(loaded, root, PAPER, MASK_READINGS, args.scale_factors),
            "mask_sigma_at_0.8": sigma_scores(loaded, root, PAPER),
        },
    }
    demo_loaded = load_records({name: root / name for name in args.datasets}, DEMO)
    document["scores_demo_input"] = {
        "config": DEMO.to_dict(),
        "all": scores(demo_loaded, root, DEMO, MASK_READINGS, [args.loso_scale_factor])["all"],
    }
    write_json_atomic(args.out, document)
    if args.loso_readings:
        casme2 = (
            {"casme2": demo_loaded["casme2"]}
            if "casme2" in demo_loaded
            else load_records({"casme2": root / "casme2"}, DEMO)
        )
        document["loso"] = {
            "setup": "demo-profile ME-ResNet, leave-one-subject-out inside demo CASME II, no pretraining",
            "config": dataclasses.replace(DEMO, loso_scope="dataset").to_dict(),
            "scale_factor": args.loso_scale_factor,
            "seeds": args.seeds,
            "settings": {},
        }
        for setting in args.loso_readings:
            result = loso(casme2, setting, args.loso_scale_factor, args.seeds)
            document["loso"]["settings"][setting] = result
            print(f"LOSO {setting}: {result['mean']}", flush=True)
            write_json_atomic(args.out, document)
    document["load_average_before_after"] = [round(value, 2) for value in load_before + os.getloadavg()]
    document["provenance"] = provenance()
    write_json_atomic(args.out, document)
    print(f"wrote {args.out}")
    return document


if __name__ == "__main__":
    main()
