"""How well `me-resnet predict` finds the expression: spotted vs true onset, apex and offset.

    python reproduce/spotting_error.py --demo                      # -> results/demo/spotting/
    python reproduce/spotting_error.py --casme2 DIR --samm DIR      # -> results/spotting/

On the demo (``me_resnet.inference.spotting_eval.demo_spotting_errors``): every
clip on its own frames and inside still and distractor context (``--draws``
windows around each expression, 3 by default: one window's luck moves the mean
by a frame or two), scored against the generator's ground truth. On real datasets (``spotting_errors``): every
clip whose onset and apex are known, against its coding sheet. Writes the
per-clip rows (``spotting_error.csv``) and the summary with the baselines, the
MEGC spotting measure and provenance (``spotting_error.json``).
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import argparse
import logging
from pathlib import Path

import pandas as pd

from me_resnet.config import get_profile
from me_resnet.data.demo import ensure_demo_data
from me_resnet.data.loading import MICRO_DATASETS, dataset_roots, load_dataset
from me_resnet.inference import spotting, spotting_eval
from me_resnet.reporting.result_folder import result_folder
from me_resnet.utils.io import write_csv_atomic, write_json_atomic
from me_resnet.utils.paths import RESULTS_DIR
from me_resnet.utils.provenance import provenance


def _records(roots: dict, config) -> tuple[list, dict]:
    records, notes = [], {}
    for name, root in roots.items():
        try:
            loaded = load_dataset(name, root, config).records
        except (FileNotFoundError, ValueError) as error:
            notes[name] = f"not measured: {error}"
            continue
        present = [r for r in loaded if all(Path(p).is_file() for p in r.frame_paths)]
        notes[name] = f"{len(present)} of {len(loaded)} clips have their frames under {root}"
        records += present
    return records, notes


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python reproduce/spotting_error.py", description=__doc__.splitlines()[0])
    parser.add_argument("--demo", action="store_true", help="measure on the synthetic demo clips")
    for name in MICRO_DATASETS:
        parser.add_argument(f"--{name}", type=Path, metavar="DIR", help=f"real {name} root")
    parser.add_argument("--out", type=Path, help="output dir (default results/demo/spotting or results/spotting)")
    parser.add_argument(
        "--context-seconds", type=float, default=spotting_eval.CONTEXT_SECONDS, help="demo: video around each clip"
    )
    parser.add_argument(
        "--draws",
        type=int,
        default=3,
        help="demo: context windows drawn around each expression (each its own split, distractors and noise)",
    )
    args = parser.parse_args(argv)
    if args.draws < 1:
        parser.error(f"--draws must be at least 1, got {args.draws}")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    real_roots = dataset_roots(args.casme2, args.samm, args.smic)
    if not args.demo and not real_roots:
        parser.error("give --demo or dataset roots (--casme2/--samm/--smic or ME_RESNET_* variables)")

    tables, data = [], {}
    if args.demo:
        config = get_profile("demo")
        demo_root = ensure_demo_data()
        records, _ = _records({name: demo_root / name for name in MICRO_DATASETS}, config)
        errors = spotting_eval.demo_spotting_errors(
            demo_root, records, config, context_seconds=args.context_seconds, draws=args.draws, progress=True
        )
        tables.append(errors.assign(data="demo"))
        data["demo"] = (
            f"{len(records)} synthetic demo clips; true onset/apex/offset from the generator's ground truth; "
            f"context: {args.draws} windows of {args.context_seconds:g} s of still and distractor video around "
            "each expression"
        )
    real_records, notes = _records(real_roots, get_profile("paper"))
    if real_records:
        tables.append(spotting_eval.spotting_errors(real_records, get_profile("paper")).assign(data="real"))
    data["real"] = notes or "no real dataset root given (--casme2/--samm/--smic or ME_RESNET_*): no real clip measured"
    errors = pd.concat(tables, ignore_index=True)
    summary = spotting_eval.summarise(errors, by=("data", "condition"))

    out = args.out or (RESULTS_DIR / "demo" / "spotting" if args.demo else RESULTS_DIR / "spotting")
    document = {
        "artifact": "spotting_error",
        "what": (
            "spotted vs true onset/apex/offset in frames; baselines: the middle frame of the true clip and of the "
            f"window searched; MEGC measure: an interval is a hit at IoU >= {spotting_eval.IOU_HIT} with the true one"
        ),
        "data": data,
        "settings": {
            "context_seconds": args.context_seconds,
            "context_draws": args.draws if args.demo else None,
            "frame_rates": spotting_eval.FRAME_RATES,
            "min_confidence": spotting.MIN_CONFIDENCE,
            "face_detector": get_profile("demo" if args.demo else "paper").face_detector,
        },
        "summary": [{k: v for k, v in row.items() if v == v} for row in summary.to_dict(orient="records")],
        "provenance": provenance(),
    }
    with result_folder(out) as stage:  # both files, or neither, replace the previous ones
        write_csv_atomic(stage / "spotting_error.csv", errors)
        write_json_atomic(stage / "spotting_error.json", document)
    columns = ["data", "condition", "clips", "apex_mean_error", "apex_median_error", "apex_within_1_frame"]
    columns += ["middle_clip_mean_error", "middle_window_mean_error", "megc_f1", "stands_out"]
    columns += ["apex_mean_error_standing_out"]
    print(summary[summary.dataset == "all"][columns].to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    print(f"real datasets: {data['real']}")
    print(f"wrote {out / 'spotting_error.csv'} and {out / 'spotting_error.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
