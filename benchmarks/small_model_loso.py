"""Small-model composite LOSO: the fold-parallel engine against per-fold loops (run by hand; slow).

    python benchmarks/small_model_loso.py            # STSTNet 800 epochs x 68 folds, OFF-ApexNet at the kit's settings
    python benchmarks/small_model_loso.py --quick    # smoke run: a few epochs, writes small_model_loso_quick.json
    python benchmarks/small_model_loso.py --epochs 20 --sample-epochs 5
        # every fold for 20 engine epochs, projected to the full run: small_model_loso_projected.json

Synthetic features of the real job's shape: the 442 clips and 68 subjects of
the shipped MEGC 2019 composite list (``me_resnet/data/megc2019_combined_3class_gt.csv``),
28x28x3, labels from the list. Each method runs at its registry settings
(``method_config(method, PAPER)``; STSTNet: composite LOSO, 800 epochs, batch
256, Adam 5e-5, last epoch).

Measured (the engine in a fresh process, so its peak memory is its own; the
per-fold loops in the driver, whose peak memory accumulates):

- ``engine``: the full 68-fold run through ``run_loso`` with the fold-parallel
  engine: wall-clock, useful FLOPs (3 x forward FLOPs per training clip-step,
  ``models.flops``, plus the per-epoch test predictions) and their fraction of
  the fp32 matmul peak measured in the same run, peak resident memory;
- ``keras_per_fold``: ``training.fold.train_fold`` (the per-fold Keras loop) on
  ``--sample-folds`` folds for ``--sample-epochs`` epochs, scaled to the
  engine's fold-epochs (set-up per fold + epochs x seconds per epoch);
- ``torch_per_fold``: a plain PyTorch loop written like the STSTNet authors'
  ``main.py`` (their model, Adam, the method's batch size, no shuffling),
  timed and scaled the same way; OFF-ApexNet as the kit builds it.

The machine may be shared: the load average before and after is recorded and
the figures are only as good as the machine was quiet. Writes
``results/bench/small_model_loso.json`` (``_quick`` with ``--quick``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from me_resnet.utils.quiet import prepare_environment  # noqa: E402

prepare_environment()  # the kit's TensorFlow settings (oneDNN on), as its commands set them, before TensorFlow loads

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from me_resnet.reporting.doc_blocks.small_models import TARGETS, targets_met  # noqa: E402
from me_resnet.utils.io import write_json_atomic  # noqa: E402
from me_resnet.utils.paths import RESULTS_DIR  # noqa: E402

MEGC_LIST = Path(__file__).resolve().parents[1] / "me_resnet" / "data" / "megc2019_combined_3class_gt.csv"
METHODS = ("ststnet", "off_apexnet")
ENGINE_ENVIRONMENT = {"TF_CPU_ALLOCATOR_USE_BFC": "true"}  # the engine's large buffers reused (docs/fold_parallel.md)


def megc_features(seed: int = 0):
    """442 synthetic 28x28x3 clips with the MEGC 2019 list's datasets, subjects, clip ids and labels."""
    from me_resnet.data.records import Features

    table = pd.read_csv(MEGC_LIST, header=None, names=["dataset", "subject", "clip", "label"], dtype=str)
    y = table["label"].astype(int).to_numpy()
    rng = np.random.default_rng(seed)
    X = rng.normal(0, 1, size=(len(table), 28, 28, 3)).astype(np.float32)
    X[..., 2] += 0.5 * (y - 1)[:, None, None]  # a weak class signal, so training is not pure noise
    return Features(
        X=X,
        y=y,
        subjects=table["subject"].to_numpy(),
        datasets=table["dataset"].to_numpy(),
        clips=table["clip"].to_numpy(),
        channels=("u", "v", "strain"),
    )


def method_settings(method: str, epochs: int | None):
    from me_resnet.config import PAPER
    from me_resnet.models.registry import method_config

    config = method_config(method, PAPER)
    return config if epochs is None else dataclasses.replace(config, epochs=epochs)


def timed_engine_pass(method: str, epochs: int, folds: int | str | None = None, features=None, **options):
    """One fold-parallel engine pass over the first folds of the composite LOSO, timed epoch by epoch.

    ``folds``: None = as many as ``folds_per_pass`` allows, ``"all"`` = every
    fold, or a number. ``options`` go to ``train_folds``. Returns (outcome,
    folds trained, epoch end times with the start first).
    """
    from me_resnet.evaluation.runner import LosoRun
    from me_resnet.parallel.engine import train_folds
    from me_resnet.parallel.engine_choice import folds_per_pass, inspect_model
    from me_resnet.parallel.engine_executor import fold_specs

    features = megc_features() if features is None else features
    config = method_settings(method, epochs)
    jobs = LosoRun(features, method, config).jobs
    if folds is None:
        _, parameters, activations = inspect_model(method, config, input_shape=(28, 28, 3))
        folds = folds_per_pass(parameters, activations, config.batch_size)
    specs = fold_specs(jobs if folds == "all" else jobs[:folds])
    ends = [time.perf_counter()]
    outcome = train_folds(
        features,
        specs,
        config,
        progress=False,
        on_epoch_end=lambda epoch, logs: ends.append(time.perf_counter()),
        **options,
    )
    return outcome, len(specs), ends


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def matmul_peak_gflops(size: int = 1024, repeats: int = 20) -> float:
    """Best fp32 matmul rate of this process (TensorFlow, all cores)."""
    import tensorflow as tf

    a = tf.random.normal((size, size))
    b = tf.random.normal((size, size))
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        tf.linalg.matmul(a, b).numpy()
        best = min(best, time.perf_counter() - started)
    return 2 * size**3 / best / 1e9


def forward_flops(method: str, config) -> int:
    from me_resnet.models.flops import count_flops
    from me_resnet.training.fold import default_build_fn

    return count_flops(default_build_fn(method, (28, 28, 3), 3, config))


def epoch_timing(epoch_ends: list[list[float]]) -> tuple[float, float]:
    """Seconds per epoch of all folds, and seconds spent training, from each pass's epoch-end times.

    ``epoch_ends[p]`` is pass ``p``'s start time followed by its epoch-end times. A pass's
    epoch costs the mean gap after its first epoch (which includes tracing); with early
    stopping passes run different numbers of epochs, so each pass's training time is its
    own epochs times its own epoch cost (set-up is what the wall-clock has besides).
    Passes of fewer than two epochs have no traced epoch to time and count as set-up.
    """
    timed = [(float(np.mean(np.diff(ends)[1:])), len(ends) - 1) for ends in epoch_ends if len(ends) > 2]
    return sum(seconds for seconds, _ in timed), sum(seconds * epochs for seconds, epochs in timed)


def measure_engine(method: str, epochs: int | None, full_epochs: int) -> dict:
    """The full composite LOSO on the fold-parallel engine, as ``FoldParallelExecutor`` runs it (fresh process)."""
    from me_resnet.evaluation.runner import LosoRun
    from me_resnet.parallel.engine import train_folds
    from me_resnet.parallel.engine_choice import folds_per_pass, inspect_model
    from me_resnet.parallel.engine_executor import fold_specs

    features, config = megc_features(), method_settings(method, epochs)
    peak, model_flops = matmul_peak_gflops(), forward_flops(method, config)
    jobs = LosoRun(features, method, config).jobs
    _, parameters, activations = inspect_model(method, config, input_shape=(28, 28, 3))
    size = folds_per_pass(parameters, activations, config.batch_size)
    epoch_ends, results = [], []
    started = time.perf_counter()
    for start in range(0, len(jobs), size):
        pass_started = time.perf_counter()
        ends = []
        results += train_folds(  # only the results: a pass's outcome (its final weights) is not kept alive
            features,
            fold_specs(jobs[start : start + size]),
            config,
            progress=False,
            on_epoch_end=lambda epoch, logs: ends.append(time.perf_counter()),
        ).results
        epoch_ends.append([pass_started] + ends)
    wall = time.perf_counter() - started
    trained = np.array([result.epochs_trained for result in results])
    clip_steps = sum(
        int(result.epochs_trained)
        * (len(result.fit_keys) * (4 if config.augment else 1) * 3 + len(result.probabilities))
        for result in results
    )
    flops = clip_steps * model_flops  # 3x forward per training clip, 1x per test prediction
    per_epoch, training = epoch_timing(epoch_ends)
    setup = wall - training
    return {
        "wall_seconds": round(wall, 2),
        "folds": len(results),
        "folds_per_pass": size,
        "epochs_max": int(config.epochs),
        "epochs_run": int(trained.max()),
        "fold_epochs_trained": int(trained.sum()),
        "seconds_per_epoch_all_folds": round(per_epoch, 3),
        "training_seconds": round(training, 2),
        "setup_seconds": round(setup, 2),
        "projected_seconds_at_full_epochs": round(setup + per_epoch * full_epochs, 1),
        "full_epochs": full_epochs,
        "cpu_seconds": round(sum(os.times()[:2]), 1),
        "useful_tflop": round(flops / 1e12, 4),
        "gflops_per_second": round(flops / wall / 1e9, 2),
        "matmul_peak_gflops": round(peak, 1),
        "fraction_of_matmul_peak": round(flops / wall / 1e9 / peak, 4),
        "flop_limit_seconds": round(flops / 1e9 / peak, 2),
        "peak_rss_mb": peak_rss_mb(),
    }


def measure_keras(method: str, sample_folds: int, sample_epochs: int) -> dict:
    """The per-fold Keras loop on a few folds and epochs: set-up and seconds per epoch."""
    import keras

    from me_resnet.evaluation.folds import loso_splits
    from me_resnet.training.fold import train_fold

    class EpochTimer(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.seconds = []

        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(time.perf_counter() - self.started)

    if sample_epochs < 2:
        raise ValueError(f"--sample-epochs must be >= 2 (the first epoch traces the step), got {sample_epochs}")
    features = megc_features()
    config = dataclasses.replace(method_settings(method, sample_epochs), early_stop_on="none")
    setups, epoch_seconds = [], []
    for _, train_index, test_index in loso_splits(features)[:sample_folds]:
        timer = EpochTimer()
        started = time.perf_counter()
        train_fold(features.subset(train_index), None, features.subset(test_index), config, callbacks=[timer])
        per_epoch = float(np.mean(timer.seconds[1:]))  # the first epoch includes tracing: part of the set-up
        setups.append(time.perf_counter() - started - sample_epochs * per_epoch)
        epoch_seconds.append(per_epoch)
    return {
        "folds_timed": sample_folds,
        "epochs_timed": sample_epochs,
        "setup_seconds_per_fold": round(float(np.mean(setups)), 3),
        "seconds_per_epoch": round(float(np.mean(epoch_seconds)), 4),
        "peak_rss_mb": peak_rss_mb(),
    }


def torch_model(method: str):
    import torch
    from torch import nn

    if method == "ststnet":

        class STSTNet(nn.Module):  # christy1206/STSTNet main.py
            def __init__(self, in_channels=3, out_channels=3):
                super().__init__()
                self.conv1 = nn.Conv2d(in_channels, 3, kernel_size=3, padding=2)
                self.conv2 = nn.Conv2d(in_channels, 5, kernel_size=3, padding=2)
                self.conv3 = nn.Conv2d(in_channels, 8, kernel_size=3, padding=2)
                self.relu = nn.ReLU()
                self.bn1, self.bn2, self.bn3 = nn.BatchNorm2d(3), nn.BatchNorm2d(5), nn.BatchNorm2d(8)
                self.maxpool = nn.MaxPool2d(kernel_size=3, stride=3, padding=1)
                self.avgpool = nn.AvgPool2d(kernel_size=2, stride=2, padding=0)
                self.dropout = nn.Dropout(p=0.5)
                self.fc = nn.Linear(in_features=5 * 5 * 16, out_features=out_channels)

            def forward(self, x):
                streams = [
                    self.dropout(self.maxpool(bn(self.relu(conv(x)))))
                    for conv, bn in ((self.conv1, self.bn1), (self.conv2, self.bn2), (self.conv3, self.bn3))
                ]
                x = self.avgpool(torch.cat(streams, 1))
                return self.fc(x.view(x.size(0), -1))

        return STSTNet()

    class OffApexNet(nn.Module):  # as the kit builds it: u and v streams, dense 1024 x 2
        def __init__(self):
            super().__init__()
            self.streams = nn.ModuleList(
                nn.Sequential(
                    nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                    nn.Conv2d(6, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                )
                for _ in range(2)
            )  # fmt: skip
            self.head = nn.Sequential(
                nn.Linear(2 * 784, 1024), nn.ReLU(), nn.Dropout(0.5),
                nn.Linear(1024, 1024), nn.ReLU(), nn.Dropout(0.5), nn.Linear(1024, 3),
            )  # fmt: skip

        def forward(self, x):
            return self.head(torch.cat([self.streams[0](x[:, :1]), self.streams[1](x[:, 1:2])], 1))

    return OffApexNet()


def measure_torch(method: str, sample_folds: int, sample_epochs: int) -> dict:
    """A plain PyTorch per-fold loop (their model, Adam, batch size, no shuffling) on a few folds."""
    import torch

    from me_resnet.evaluation.folds import loso_splits

    torch.manual_seed(0)
    features, config = megc_features(), method_settings(method, sample_epochs)
    X = torch.from_numpy(np.ascontiguousarray(features.X.transpose(0, 3, 1, 2)))
    y = torch.from_numpy(features.y.astype(np.int64))
    setups, epoch_seconds = [], []
    for _, train_index, test_index in loso_splits(features)[:sample_folds]:
        started = time.perf_counter()
        model = torch_model(method)
        optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
        loss_fn = torch.nn.CrossEntropyLoss()
        X_train, y_train = X[train_index], y[train_index]
        setups.append(time.perf_counter() - started)
        for _ in range(sample_epochs):
            epoch_started = time.perf_counter()
            model.train()
            for start in range(0, len(X_train), config.batch_size):
                optimizer.zero_grad()
                loss = loss_fn(
                    model(X_train[start : start + config.batch_size]), y_train[start : start + config.batch_size]
                )
                loss.backward()
                optimizer.step()
            epoch_seconds.append(time.perf_counter() - epoch_started)
        model.eval()
        with torch.no_grad():
            model(X[test_index]).argmax(1)
    return {
        "folds_timed": sample_folds,
        "epochs_timed": sample_epochs,
        "threads": torch.get_num_threads(),
        "setup_seconds_per_fold": round(float(np.mean(setups)), 3),
        "seconds_per_epoch": round(float(np.mean(epoch_seconds[1:] or epoch_seconds)), 4),
        "peak_rss_mb": peak_rss_mb(),
    }


def in_fresh_process(function, *args, environment: dict | None = None) -> dict:
    """``function(*args)`` in a spawned process whose environment adds ``environment``."""
    saved = dict(os.environ)
    os.environ.update(environment or {})
    try:
        with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
            return pool.submit(function, *args).result()
    finally:
        os.environ.clear()
        os.environ.update(saved)


def scaled(loop: dict, folds: int, fold_epochs: int) -> dict:
    """A per-fold loop's cost for the engine's folds and fold-epochs."""
    seconds = folds * loop["setup_seconds_per_fold"] + fold_epochs * loop["seconds_per_epoch"]
    return dict(loop, scaled_seconds=round(seconds, 1))


def benchmark(method: str, epochs: int | None, sample_folds: int, sample_epochs: int) -> dict:
    """One method: the engine's run and both per-fold loops, compared at the method's full epochs.

    With fewer epochs than the method's (``--quick``), the engine's cost is projected
    from its per-epoch time and every fold is taken to run all epochs (an upper
    bound where early stopping would stop folds sooner).
    """
    full_epochs = method_settings(method, None).epochs
    engine = in_fresh_process(measure_engine, method, epochs, full_epochs, environment=ENGINE_ENVIRONMENT)
    print(method, "engine", json.dumps(engine), flush=True)
    projected = epochs is not None and epochs < full_epochs
    fold_epochs = engine["folds"] * full_epochs if projected else engine["fold_epochs_trained"]
    engine_seconds = engine["projected_seconds_at_full_epochs"] if projected else engine["wall_seconds"]
    keras_loop = scaled(measure_keras(method, sample_folds, sample_epochs), engine["folds"], fold_epochs)
    torch_loop = scaled(measure_torch(method, sample_folds, sample_epochs), engine["folds"], fold_epochs)
    config = method_settings(method, epochs)
    return {
        "settings": {
            key: getattr(config, key)
            for key in ("epochs", "batch_size", "learning_rate", "loss", "augment", "early_stop_on", "patience")
        },
        "engine": engine,
        "keras_per_fold": keras_loop,
        "torch_per_fold": torch_loop,
        "compared_at": {"fold_epochs": fold_epochs, "engine_seconds": engine_seconds, "projected": projected},
        "speedup_over_keras_per_fold": round(keras_loop["scaled_seconds"] / engine_seconds, 2),
        "speedup_over_torch_per_fold": round(torch_loop["scaled_seconds"] / engine_seconds, 2),
        "engine_over_flop_limit": round(engine["wall_seconds"] / engine["flop_limit_seconds"], 2),
        # training epochs only (set-up excluded): what the engine's step costs against the FLOPs it does
        "engine_epochs_over_flop_limit": round(engine["training_seconds"] / engine["flop_limit_seconds"], 2),
    }


def main(argv=None) -> dict:
    from me_resnet.utils.provenance import provenance

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few epochs per method (smoke run)")
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--epochs", type=int, default=None, help="engine epochs per method, projected to the full run")
    parser.add_argument("--sample-folds", type=int, default=2, help="folds timed for the per-fold loops")
    parser.add_argument("--sample-epochs", type=int, default=None, help="epochs timed per sampled fold")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    epochs = {"ststnet": 4, "off_apexnet": 3} if args.quick else {}
    if args.epochs is not None:
        epochs = dict.fromkeys(METHODS, args.epochs)
    sample_epochs = args.sample_epochs or (3 if args.quick else 20)
    name = "small_model_loso" + ("_quick" if args.quick else "_projected" if args.epochs else "")
    out = args.out or RESULTS_DIR / "bench" / f"{name}.json"
    load_before = os.getloadavg()
    started = time.perf_counter()
    methods = {
        method: benchmark(method, epochs.get(method), args.sample_folds, sample_epochs) for method in args.methods
    }
    result = {
        "quick": args.quick,
        "engine_epochs": epochs or "full",
        "cpus": os.cpu_count(),
        "engine_environment": ENGINE_ENVIRONMENT,
        "load_average_before": [round(v, 2) for v in load_before],
        "load_average_after": [round(v, 2) for v in os.getloadavg()],
        "provisional": "timings on a machine shared with other jobs are upper bounds; compare the loads",
        "wall_seconds": round(time.perf_counter() - started, 1),
        "clips": 442,
        "subjects": 68,
        "input_shape": [28, 28, 3],
        "targets": TARGETS,
        "methods": methods,
        "targets_met": targets_met(methods),
        "provenance": provenance(),
    }
    write_json_atomic(out, result)
    print(
        json.dumps(
            {m: {k: v for k, v in r.items() if k.startswith(("speedup", "engine_over"))} for m, r in methods.items()}
        )
    )
    print(f"wrote {out}")
    return result


if __name__ == "__main__":
    main()
