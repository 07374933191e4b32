"""The fold-parallel engine's Adam update: XLA-fused against separate TensorFlow ops, side by side (run by hand).

    python benchmarks/engine_adam.py                    # OFF-ApexNet and STSTNet, one pass each, 4 epochs, 2 rounds
    python benchmarks/engine_adam.py --methods off_apexnet --epochs 3 --rounds 1

Synthetic MEGC 2019-shaped features (``small_model_loso.megc_features``), each
method at its registry settings with ``--epochs`` epochs, the first
``folds_per_pass`` folds of the composite LOSO (one engine pass). The two
variants alternate in one process (this machine is shared and noisy: only
the ratio measured side by side counts); an epoch's time is taken from the
second epoch on (the first one traces). Also records how far the two
variants' test probabilities are apart (same math; XLA may round differently).
Writes ``results/bench/engine_adam.json``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_CPU_ALLOCATOR_USE_BFC", "true")  # as the engine's benchmark runs it
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from me_resnet.utils.quiet import prepare_environment  # noqa: E402

prepare_environment()  # the kit's TensorFlow settings (oneDNN on), as its commands set them, before TensorFlow loads
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from small_model_loso import METHODS, megc_features, method_settings, timed_engine_pass  # noqa: E402

from me_resnet.utils.paths import RESULTS_DIR  # noqa: E402

VARIANTS = {"separate_ops": False, "xla_fused": True}


def one_pass(method: str, epochs: int, fused_adam: bool, features) -> dict:
    """Train one engine pass; seconds per epoch (epochs 2..N) and the test probabilities."""
    from me_resnet.parallel.engine_choice import inspect_model

    outcome, size, ends = timed_engine_pass(method, epochs, features=features, fused_adam=fused_adam)
    _, parameters, _ = inspect_model(method, method_settings(method, epochs), input_shape=(28, 28, 3))
    probabilities = np.concatenate([result.probabilities for result in outcome.results])
    return {
        "folds": size,
        "parameters_per_fold": int(parameters),
        "seconds_per_epoch": float(np.mean(np.diff(ends)[1:])),
        "first_epoch_seconds": float(ends[1] - ends[0]),
        "probabilities": probabilities,
    }


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=["off_apexnet", "ststnet"])
    parser.add_argument("--epochs", type=int, default=4, help="epochs per pass (>= 2: the first one traces)")
    parser.add_argument("--rounds", type=int, default=2, help="alternations of the two variants")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "bench" / "engine_adam.json")
    args = parser.parse_args(argv)
    if args.epochs < 2:
        parser.error("--epochs must be >= 2 (the first epoch traces and is not timed)")

    from me_resnet.utils.io import write_json_atomic
    from me_resnet.utils.provenance import provenance

    features = megc_features()
    load = [list(os.getloadavg())]
    methods = {}
    for method in args.methods:
        runs = {name: [] for name in VARIANTS}
        for _ in range(args.rounds):
            for name, fused in VARIANTS.items():
                runs[name].append(one_pass(method, args.epochs, fused, features))
                print(method, name, round(runs[name][-1]["seconds_per_epoch"], 3), "s/epoch", flush=True)
        load.append(list(os.getloadavg()))
        seconds = {name: [run["seconds_per_epoch"] for run in runs[name]] for name in VARIANTS}
        first = runs["separate_ops"][0]
        methods[method] = {
            "folds_per_pass": first["folds"],
            "parameters_per_fold": first["parameters_per_fold"],
            "epochs": args.epochs,
            "seconds_per_epoch": {name: [round(s, 3) for s in values] for name, values in seconds.items()},
            "speedup_fused_over_separate": round(
                float(np.median(seconds["separate_ops"]) / np.median(seconds["xla_fused"])), 3
            ),
            "first_epoch_seconds": {
                name: [round(run["first_epoch_seconds"], 2) for run in runs[name]] for name in VARIANTS
            },
            "max_abs_probability_difference": float(
                np.max(np.abs(first["probabilities"] - runs["xla_fused"][0]["probabilities"]))
            ),
        }
    document = {
        "setup": (
            "one fold-parallel engine pass (the first folds_per_pass folds of the composite LOSO on synthetic "
            "MEGC 2019-shaped features), each method at its registry settings with --epochs epochs; Adam as "
            "separate TensorFlow ops vs one XLA-compiled update (train_folds(fused_adam=...)), alternating in one "
            "process; seconds per epoch from the second epoch on; speedup = ratio of the medians"
        ),
        "methods": methods,
        "load_average_before_after_each_method": load,
        "provenance": provenance(),
    }
    write_json_atomic(args.out, document)
    print(f"wrote {args.out}")
    return document


if __name__ == "__main__":
    main()
