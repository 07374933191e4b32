"""How well ``me-resnet predict`` finds the apex: spotted vs annotated apex, in frames.

    python reproduce/spotting_error.py --demo                      # -> results/demo/spotting/
    python reproduce/spotting_error.py --casme2 DIR --samm DIR      # -> results/spotting/

Spots every clip whose onset and apex are known (``me_resnet.inference.spotting_eval``)
on its own frames and inside still context, and writes the per-clip errors
(``spotting_error.csv``) and their summary with provenance (``spotting_error.json``).
With ``--demo`` the real datasets are measured too where their roots are set
(``ME_RESNET_CASME2`` / ``_SAMM`` / ``_SMIC``) and their frames exist; the JSON says which.
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
from me_resnet.inference.spotting_eval import CONTEXT_FRAMES, spotting_errors, summarise
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
    parser.add_argument("--measure", choices=["flow", "difference"], default="flow", help="motion measure")
    parser.add_argument("--context", type=int, default=CONTEXT_FRAMES, help="still frames added on each side")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    config = get_profile("demo" if args.demo else "paper")
    real_roots = dataset_roots(args.casme2, args.samm, args.smic)
    if not args.demo and not real_roots:
        parser.error("give --demo or dataset roots (--casme2/--samm/--smic or ME_RESNET_* variables)")

    tables, data = [], {}
    if args.demo:
        demo_root = ensure_demo_data()
        records, _ = _records({name: demo_root / name for name in MICRO_DATASETS}, config)
        tables.append(spotting_errors(records, config, args.context, measure=args.measure).assign(data="demo"))
        data["demo"] = f"{len(records)} synthetic demo clips (onset/apex from the demo coding sheets)"
    real_records, notes = _records(real_roots, get_profile("paper"))
    if real_records:
        real = spotting_errors(real_records, get_profile("paper"), args.context, measure=args.measure)
        tables.append(real.assign(data="real"))
    data["real"] = notes or (
        "no real dataset root given (--casme2/--samm/--smic or ME_RESNET_CASME2/_SAMM/_SMIC): no real clip measured"
    )
    errors = pd.concat(tables, ignore_index=True)
    summary = pd.concat([summarise(part).assign(data=name) for name, part in errors.groupby("data", sort=False)])

    out = args.out or (RESULTS_DIR / "demo" / "spotting" if args.demo else RESULTS_DIR / "spotting")
    write_csv_atomic(out / "spotting_error.csv", errors)
    document = {
        "artifact": "spotting_error",
        "what": "absolute error of the spotted onset/apex against the annotated ones, in frames",
        "data": data,
        "settings": {"measure": args.measure, "context_frames": args.context, "face_detector": config.face_detector},
        "summary": summary.to_dict(orient="records"),
        "provenance": provenance(),
    }
    write_json_atomic(out / "spotting_error.json", document)
    headline = summary[(summary.apex_source == "coding_sheet") & (summary.dataset == "all")]
    print(
        headline[
            ["data", "condition", "clips", "apex_mae_frames", "apex_within_1_frame", "onset_mae_frames"]
        ].to_string(index=False)
    )
    print(f"real datasets: {data['real']}")
    print(f"wrote {out / 'spotting_error.csv'} and {out / 'spotting_error.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
