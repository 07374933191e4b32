"""STSTNet's CASME II LOSO on the demo data with the flow computed at the face's own size and at 28x28.

    python benchmarks/baseline_flow.py                 # seed 0, both settings
    python benchmarks/baseline_flow.py --seeds 0 1 2

``flow_resolution=native`` (the STSTNet entry's default, its authors' order:
TV-L1 and strain on the face crop at its own size, then resized to 28x28) against
``flow_resolution=model`` (face crops resized to 28x28 first, TV-L1 on them).
Everything else is the demo STSTNet run of ``reproduce/table5.py --demo
--methods ststnet --datasets casme2``, except the LOSO, which stays inside CASME II
(``loso_scope=dataset``) instead of the composite. Per setting: UF1 / UAR / accuracy
per seed, their mean, the feature and training wall-clock; written with the
demo generator's version and provenance to ``results/bench/baseline_flow.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from me_resnet.utils.quiet import prepare_environment  # noqa: E402

prepare_environment()  # the kit's TensorFlow settings (oneDNN on), as its commands set them, before TensorFlow loads

from me_resnet.config import DEMO  # noqa: E402
from me_resnet.data.demo import GENERATOR_VERSION, ensure_demo_data  # noqa: E402
from me_resnet.evaluation.experiment import RunOptions, load_records, method_features, run_method  # noqa: E402
from me_resnet.evaluation.metrics import compute_metrics  # noqa: E402
from me_resnet.parallel.build import make_executor  # noqa: E402
from me_resnet.utils.io import write_json_atomic  # noqa: E402
from me_resnet.utils.paths import RESULTS_DIR  # noqa: E402
from me_resnet.utils.provenance import provenance  # noqa: E402

SETTINGS = {
    "native": "TV-L1 and strain on the face crop at its own size, then resized to 28x28 (the entry's default)",
    "model": "face crops resized to 28x28 first, TV-L1 and strain on them",
}
OUTPUT = RESULTS_DIR / "bench" / "baseline_flow.json"


def measure(flow_resolution: str, seeds, loaded) -> dict:
    """One setting: features, the CASME II LOSO per seed, its metrics."""
    profile = dataclasses.replace(DEMO, loso_scope="dataset", flow_resolution=flow_resolution)
    started = time.perf_counter()
    features, config = method_features(
        loaded,
        "ststnet",
        profile,
        options=RunOptions(workers=1),
        explicit=("loso_scope", "flow_resolution"),
        demo=True,
    )
    feature_seconds = time.perf_counter() - started
    started = time.perf_counter()
    options = RunOptions(seeds=tuple(seeds), executor=make_executor("local"))  # the engine, as the commands run it
    predictions = run_method(features, "ststnet", config, options=options)
    training_seconds = time.perf_counter() - started
    per_seed = {}
    for seed, part in predictions.groupby("seed"):
        row = compute_metrics(part, bootstrap_resamples=0).set_index("dataset").loc["casme2"]
        per_seed[int(seed)] = {name: round(float(row[name]), 4) for name in ("uf1", "uar", "accuracy")}
    return {
        "description": SETTINGS[flow_resolution],
        "clips": int(len(features.y)),
        "per_seed": per_seed,
        "mean": {
            name: round(statistics.fmean(run[name] for run in per_seed.values()), 4)
            for name in ("uf1", "uar", "accuracy")
        },
        "feature_seconds": round(feature_seconds, 1),
        "training_seconds": round(training_seconds, 1),
        "epochs": config.epochs,
        "cache_key": features.info["cache_key"],
    }


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--out", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    root = ensure_demo_data()
    loaded = load_records({"casme2": root / "casme2"}, DEMO)
    document = {
        "benchmark": "STSTNet CASME II LOSO on the demo data: flow at the face's own size vs at 28x28",
        "data": f"synthetic demo data (generator version {GENERATOR_VERSION}), not CASME II",
        "seeds": args.seeds,
        "settings": {name: measure(name, args.seeds, loaded) for name in SETTINGS},
        "provenance": provenance(),
    }
    document["uf1_native_minus_model"] = round(
        document["settings"]["native"]["mean"]["uf1"] - document["settings"]["model"]["mean"]["uf1"], 4
    )
    write_json_atomic(args.out, document)
    print(
        f"{args.out}: UF1 native {document['settings']['native']['mean']['uf1']}, "
        f"model {document['settings']['model']['mean']['uf1']}"
    )
    return document


if __name__ == "__main__":
    main()
