"""Device check: the paper-profile ME-ResNet's throughput and a short deterministic LOSO on a GPU (run by hand).

    KERAS_BACKEND=torch python benchmarks/gpu_check.py --out results/bench/gpu      # on the GPU machine
    python benchmarks/gpu_check.py --smoke --out /tmp/gpu_check                       # here: tiny sizes, on the CPU

The lent GPU machine has PyTorch and JAX with CUDA but no TensorFlow (a
TensorFlow wheel is far larger than what travels there), so the check runs
the kit's backend-neutral model code on ``KERAS_BACKEND=torch`` (or ``jax``).
Keras and the few of its dependencies missing there travel as wheels
(docs/gpu.md).

Three parts, each written to ``--out`` as soon as it is done, so a run cut
short keeps what finished:

- ``throughput.json``: the paper ME-ResNet (``PAPER`` profile, (10, 112, 112,
  3), 48.8 M parameters) training (``train_on_batch``) and inference samples/s
  at each ``--batch-sizes`` for each precision policy, and the achieved
  TFLOP/s from ``models.flops`` (training = 3x forward);
- ``loso.json``: a short LOSO (paper profile, ``--epochs`` epochs, focal loss,
  4x augmentation, ``deterministic=True``) on synthetic clips of the paper's
  shape (``--subjects`` subjects), float32 and mixed precision, each run twice:
  seconds per fold and whether the two runs' probabilities are bit-identical
  (what ``--deterministic`` promises on this backend). Synthetic clips: the
  UF1 says nothing about the method;
- ``engine.json``: the fold-parallel engine (``train_folds``) on this backend
  for STSTNet and OFF-ApexNet at their registry settings, every fold of the
  composite LOSO (synthetic MEGC 2019-shaped features,
  ``small_model_loso.megc_features``) in one pass for ``--engine-epochs``
  epochs: seconds per epoch and the full run projected from it, against the
  per-fold Keras loop on one fold (3 epochs) times the folds.

``--parts`` runs some of them, in the order given. A measurement that raises
is written as its call and error (type and message) and the others go on.
``--budget-seconds`` skips what would start after the budget (a device call
is limited to 10 minutes, start-up included); a single measurement running
longer than ``--stall-seconds`` prints every thread's stack once (it is not
stopped), so a call cut short says where it was.
"""

from __future__ import annotations

import argparse
import dataclasses
import faulthandler
import json
import os
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from me_resnet.utils.quiet import prepare_environment  # noqa: E402

prepare_environment()  # the kit's TensorFlow settings (oneDNN on), as its commands set them, before TensorFlow loads
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

from me_resnet.config import DEMO, PAPER  # noqa: E402

PARTS = ("throughput", "loso", "engine")
SMOKE = dataclasses.replace(DEMO, num_frames=5, image_size=16, width=4, cbam_reduction=4, batch_size=4)


def gpu_names() -> list[str]:
    """The GPUs the Keras backend sees (``keras.distribution.list_devices`` does not cover the torch backend)."""
    import keras

    backend = keras.backend.backend()
    if backend == "torch":
        import torch

        return [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    if backend == "jax":
        import jax

        return [str(device) for device in jax.devices() if device.platform == "gpu"]
    return [str(device) for device in keras.distribution.list_devices("gpu")]


def mixed_policy() -> str:
    """float16 where a GPU is visible (tensor cores), bfloat16 on a CPU (no float16 CPU MaxPool3D kernel)."""
    return "mixed_float16" if gpu_names() else "mixed_bfloat16"


def device_summary() -> dict:
    import keras

    summary = {"keras_backend": keras.backend.backend(), "gpus": gpu_names()}
    if summary["keras_backend"] == "torch":
        import torch

        summary.update(torch=torch.__version__, cuda=torch.version.cuda, cudnn=torch.backends.cudnn.version())
    summary["CUBLAS_WORKSPACE_CONFIG"] = os.environ.get("CUBLAS_WORKSPACE_CONFIG")
    return summary


def throughput(config, policy: str, batch: int, steps: int) -> dict:
    """Samples/s of training and inference for one policy and batch size (after one warm-up step each)."""
    import keras

    from me_resnet.models.flops import count_flops
    from me_resnet.models.registry import build_model
    from me_resnet.training.determinism import use_deterministic_ops
    from me_resnet.training.losses import focal_loss

    # the default ops: a LOSO run before this one (--parts) leaves the process-wide deterministic switch on
    use_deterministic_ops(False)
    input_shape = (config.num_frames - 1, config.image_size, config.image_size, 3)
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        keras.utils.set_random_seed(0)
        model = build_model("me_resnet", input_shape, 3, config)
        optimizer = keras.optimizers.Adam(config.learning_rate)
        if policy == "mixed_float16":
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
        model.compile(optimizer=optimizer, loss=focal_loss([1 / 3] * 3), jit_compile=False)
        rng = np.random.default_rng(0)
        x = rng.normal(size=(batch, *input_shape)).astype(np.float32)
        y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, batch)]
        rates = {}
        for name, call in (
            ("train", lambda: float(model.train_on_batch(x, y))),  # float(): waits for the device
            ("inference", lambda: float(np.asarray(model.predict_on_batch(x)).sum())),
        ):
            call()
            started = time.perf_counter()
            for _ in range(steps):
                call()
            rates[name] = batch * steps / (time.perf_counter() - started)
        flops = count_flops(model)
    finally:
        keras.config.set_dtype_policy(previous)
    return {
        "policy": policy,
        "batch": batch,
        "parameters": int(model.count_params()),
        "forward_gflop_per_sample": round(flops / 1e9, 3),
        "train_samples_per_second": round(rates["train"], 2),
        "inference_samples_per_second": round(rates["inference"], 2),
        "train_tflops": round(3 * flops * rates["train"] / 1e12, 3),
        "inference_tflops": round(flops * rates["inference"] / 1e12, 3),
    }


def synthetic_clips(config, subjects: int, clips_per_subject: int = 6):
    """Paper-shaped clips with a weak class signal in the strain channel (labelled synthetic in the output)."""
    from me_resnet.data.records import Features

    n = subjects * clips_per_subject
    y = np.tile(np.arange(3), n // 3 + 1)[:n]
    rng = np.random.default_rng(0)
    shape = (n, config.num_frames - 1, config.image_size, config.image_size, 3)
    X = rng.normal(0, 1, size=shape).astype(np.float32)
    X[..., 2] += 0.5 * (y - 1)[:, None, None, None]
    return Features(
        X=X,
        y=y,
        subjects=np.repeat([f"s{k:02d}" for k in range(subjects)], clips_per_subject),
        datasets=np.full(n, "casme2"),
        clips=np.array([f"c{i:03d}" for i in range(n)]),
        channels=("u", "v", "strain"),
    )


def short_loso(config, policy: str, subjects: int) -> dict:
    """The LOSO twice with deterministic ops: wall per fold, bit-identical probabilities, UF1."""
    from me_resnet.evaluation.loso import run_loso
    from me_resnet.evaluation.metrics import compute_metrics
    from me_resnet.parallel.executors import InProcessExecutor

    config = dataclasses.replace(config, precision=policy, deterministic=True, early_stop_on="none")
    features = synthetic_clips(config, subjects)
    runs, walls = [], []
    for _ in range(2):
        started = time.perf_counter()
        runs.append(run_loso(features, "me_resnet", config, executor=InProcessExecutor(), progress=False))
        walls.append(time.perf_counter() - started)
    columns = [c for c in runs[0].columns if c.startswith("prob_")]
    first, second = (run[columns].to_numpy() for run in runs)
    metrics = compute_metrics(runs[0], bootstrap_resamples=0)
    composite = metrics[metrics["dataset"] == "casme2"].iloc[0]
    return {
        "policy": policy,
        "folds": subjects,
        "epochs": config.epochs,
        "batch_size": config.batch_size,
        "seconds_per_fold": [round(wall / subjects, 2) for wall in walls],
        "deterministic_runs_bit_identical": bool(np.array_equal(first, second)),
        "max_abs_probability_difference": float(np.max(np.abs(first - second))),
        "uf1_synthetic": round(float(composite["uf1"]), 4),
    }


def small_model_engine(method: str, epochs: int, folds: int | None) -> dict:
    """Every fold (or the first ``folds``) of the composite LOSO on the fold-parallel engine, in one pass."""
    import keras
    from small_model_loso import epoch_timing, measure_keras, method_settings, timed_engine_pass

    _, folds_trained, ends = timed_engine_pass(method, epochs, "all" if folds is None else folds)
    per_epoch, _ = epoch_timing([ends])
    full_epochs = method_settings(method, None).epochs
    per_fold = measure_keras(method, 1, 3)  # the per-fold Keras loop on this backend, one fold
    return {
        "method": method,
        "backend": keras.backend.backend(),
        "folds_in_one_pass": folds_trained,
        "epochs": epochs,
        "batch_size": method_settings(method, epochs).batch_size,
        "first_epoch_seconds": round(ends[1] - ends[0], 2),
        "seconds_per_epoch_all_folds": round(per_epoch, 4),
        "full_epochs": full_epochs,
        "projected_seconds_at_full_epochs": round(ends[1] - ends[0] + per_epoch * (full_epochs - 1), 1),
        "projection_note": "every fold taken to run every epoch: an upper bound where early stopping stops folds",
        "per_fold_loop_seconds_per_epoch_one_fold": per_fold["seconds_per_epoch"],
        "engine_speedup_over_per_fold_loop": round(per_fold["seconds_per_epoch"] * folds_trained / per_epoch, 2),
    }


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for the three parts' JSON files")
    parser.add_argument("--smoke", action="store_true", help="tiny model and clips (a CPU check of the script)")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=None, help="default 8 32 (--smoke: 4)")
    parser.add_argument("--steps", type=int, default=5, help="timed steps per throughput measurement")
    parser.add_argument("--epochs", type=int, default=2, help="epochs of the short LOSO")
    parser.add_argument("--subjects", type=int, default=3, help="subjects (= folds) of the short LOSO")
    parser.add_argument("--engine-epochs", type=int, default=20, help="epochs of each fold-parallel engine run")
    parser.add_argument("--stall-seconds", type=float, default=240.0, help="print stacks of a call running longer")
    parser.add_argument("--budget-seconds", type=float, default=420.0, help="start nothing after this")
    parser.add_argument(
        "--parts", nargs="+", choices=PARTS, default=list(PARTS), help="which parts to run, in this order"
    )
    args = parser.parse_args(argv)
    if args.engine_epochs < 2:
        parser.error(f"--engine-epochs must be >= 2 (the first epoch compiles), got {args.engine_epochs}")
    for name in ("steps", "epochs", "budget_seconds", "stall_seconds"):
        if getattr(args, name) <= 0:
            parser.error(f"--{name.replace('_', '-')} must be > 0, got {getattr(args, name)}")
    args.batch_sizes = args.batch_sizes or ([4] if args.smoke else [8, 32])
    if args.subjects < 2 or min(args.batch_sizes) < 1:
        parser.error(f"--subjects must be >= 2 and batch sizes >= 1, got {args.subjects} and {args.batch_sizes}")

    from me_resnet.utils.io import write_json_atomic
    from me_resnet.utils.provenance import provenance

    started = time.perf_counter()
    config = dataclasses.replace(SMOKE if args.smoke else PAPER, epochs=args.epochs)
    import keras

    gpu = bool(gpu_names())
    policies = ["float32", mixed_policy()]
    if not gpu and keras.backend.backend() == "tensorflow":
        policies = ["float32"]  # the kit refuses bfloat16 3D on TensorFlow's CPU kernels (docs/interpretations.md)
    header = {"smoke": args.smoke, "device": device_summary(), "provenance": provenance()}

    def write(name: str, rows: list, skipped: list) -> None:
        document = dict(header, results=rows, skipped_over_budget=skipped, load_average=list(os.getloadavg()))
        write_json_atomic(args.out / name, document)  # a call killed mid-write leaves the previous file whole

    parts = {
        "throughput": [
            (throughput, (config, policy, batch, args.steps)) for policy in policies for batch in args.batch_sizes
        ],
        # on a CPU only float32: the torch backend's bfloat16 3D-convolution gradients take minutes there
        "loso": [(short_loso, (config, policy, args.subjects)) for policy in policies if gpu or policy == "float32"],
        "engine": [
            (small_model_engine, (method, args.engine_epochs, 3 if args.smoke else None))
            for method in ("ststnet", "off_apexnet")
        ],
    }
    documents = {}
    for part in args.parts:
        name, calls = f"{part}.json", parts[part]
        rows, skipped = [], []
        for function, arguments in calls:
            described = f"{function.__name__}{tuple(a for a in arguments if not dataclasses.is_dataclass(a))}"
            if time.perf_counter() - started > args.budget_seconds:
                skipped.append(described)
                continue
            # a measurement that stalls prints every thread's stack (once), so a cut-short device call says where
            faulthandler.dump_traceback_later(args.stall_seconds)
            try:
                rows.append(function(*arguments))
            except Exception as error:  # one failing measurement must not cost the device call the others
                traceback.print_exc()
                rows.append({"call": described, "error": f"{type(error).__name__}: {error}"[:2000]})
            finally:
                faulthandler.cancel_dump_traceback_later()
            print(name, json.dumps(rows[-1]), flush=True)
            write(name, rows, skipped)
        write(name, rows, skipped)
        documents[name] = rows
    return documents


if __name__ == "__main__":
    main()
