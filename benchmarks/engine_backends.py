"""The fold-parallel engine on each Keras backend, against that backend's per-fold loop (run by hand).

    python benchmarks/engine_backends.py                          # STSTNet and OFF-ApexNet, 3 backends, 2 rounds
    python benchmarks/engine_backends.py --methods ststnet --backends tensorflow torch --rounds 1

Synthetic MEGC 2019-shaped features (``small_model_loso.megc_features``), each
method at its registry settings. For every backend, in a fresh process (the
backend is fixed when Keras starts): one engine pass over the first
``folds_per_pass`` folds of the composite LOSO for ``--epochs`` epochs (seconds
per epoch from the second epoch on: the first one traces or compiles), and the
per-fold Keras loop (``train_fold``) on one fold for ``--epochs`` epochs, its
seconds per epoch times the pass's folds. The backends alternate round by
round (this machine is shared and noisy: ratios measured side by side count,
single figures less). The engine's environment is the one its benchmark uses
(``TF_CPU_ALLOCATOR_USE_BFC``). Writes ``results/bench/engine_backends.json``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from me_resnet.utils.quiet import prepare_environment  # noqa: E402

prepare_environment()  # the kit's TensorFlow settings (oneDNN on), as its commands set them, before TensorFlow loads
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from small_model_loso import (  # noqa: E402
    ENGINE_ENVIRONMENT,
    METHODS,
    in_fresh_process,
    measure_keras,
    timed_engine_pass,
)

from me_resnet.utils.paths import RESULTS_DIR  # noqa: E402

BACKENDS = ("tensorflow", "torch", "jax")


def measure_backend(method: str, epochs: int) -> dict:
    """In a fresh process with KERAS_BACKEND set: one engine pass and the per-fold loop on one fold."""
    import keras

    _, size, ends = timed_engine_pass(method, epochs)
    per_fold = measure_keras(method, 1, epochs)
    engine = float(np.mean(np.diff(ends)[2:]))
    return {
        "backend": keras.backend.backend(),
        "folds": size,
        "engine_seconds_per_epoch": round(engine, 3),
        "engine_first_epoch_seconds": round(ends[1] - ends[0], 2),
        "per_fold_seconds_per_epoch_times_folds": round(per_fold["seconds_per_epoch"] * size, 3),
        "engine_speedup_over_per_fold": round(per_fold["seconds_per_epoch"] * size / engine, 2),
    }


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    parser.add_argument("--backends", nargs="+", choices=BACKENDS, default=list(BACKENDS))
    parser.add_argument("--epochs", type=int, default=4, help="epochs timed per run (>= 3: the first two are set-up)")
    parser.add_argument("--rounds", type=int, default=2, help="alternations of the backends")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "bench" / "engine_backends.json")
    args = parser.parse_args(argv)
    if args.epochs < 3:
        parser.error("--epochs must be >= 3 (the first epoch traces, the second is not timed either)")

    from me_resnet.utils.io import write_json_atomic
    from me_resnet.utils.provenance import provenance

    load = [list(os.getloadavg())]
    methods = {}
    for method in args.methods:
        runs = {backend: [] for backend in args.backends}
        for _ in range(args.rounds):
            for backend in args.backends:
                environment = ENGINE_ENVIRONMENT | {"KERAS_BACKEND": backend, "CUDA_VISIBLE_DEVICES": ""}
                run = in_fresh_process(measure_backend, method, args.epochs, environment=environment)
                assert run["backend"] == backend, run
                runs[backend].append(run)
                print(method, backend, run, flush=True)
        load.append(list(os.getloadavg()))
        engine = {backend: float(np.median([r["engine_seconds_per_epoch"] for r in runs[backend]])) for backend in runs}
        fastest = min(engine, key=engine.get)
        methods[method] = {
            "folds_per_pass": runs[fastest][0]["folds"],
            "runs": runs,
            "engine_median_seconds_per_epoch": engine,
            "fastest_engine_backend": fastest,
            "engine_slowdown_vs_fastest": {backend: round(engine[backend] / engine[fastest], 2) for backend in engine},
        }
    document = {
        "setup": (
            "one fold-parallel engine pass (the first folds_per_pass folds of the composite LOSO on synthetic "
            "MEGC 2019-shaped features) per Keras backend, each method at its registry settings, in a fresh "
            "process per run, backends alternating; engine seconds per epoch from epoch 3 on; the per-fold Keras "
            "loop (train_fold) on one fold of the same backend, seconds per epoch times the pass's folds"
        ),
        "epochs": args.epochs,
        "methods": methods,
        "load_average_before_after_each_method": load,
        "provenance": provenance(),
    }
    write_json_atomic(args.out, document)
    print(f"wrote {args.out}")
    return document


if __name__ == "__main__":
    main()
