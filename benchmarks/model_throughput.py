"""Throughput of the paper-size ME-ResNet on this machine (run by hand; slow).

    python benchmarks/model_throughput.py            # (10,112,112,3), batches 8 and 32, fp32 + bf16 + XLA + PyTorch
    python benchmarks/model_throughput.py --quick    # smoke run: tiny input, 1-block stages, 1 step

Measures inference and training samples/s for each precision (``float32``,
``mixed_bfloat16``), the forward FLOPs per sample counted from layer shapes
(``me_resnet.models.flops.count_flops``; training = 3x forward), the achieved GFLOP/s
as a fraction of the same run's fp32 / bf16 peak of one big ``keras.ops.matmul``,
``jit_compile`` (XLA) on vs off, and the same architecture in plain PyTorch
(``benchmarks/torch_me_resnet.py``, channels-last 3D) when torch is installed.
Writes ``results/bench/model_throughput.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks.torch_me_resnet when run as a script

from me_resnet.utils.quiet import prepare_environment  # noqa: E402

prepare_environment()  # the kit's TensorFlow settings (oneDNN on), as its commands set them, before TensorFlow loads

# isort: split
import keras  # noqa: E402
import numpy as np  # noqa: E402

from me_resnet.config import get_profile  # noqa: E402
from me_resnet.models.flops import count_flops  # noqa: E402
from me_resnet.models.registry import build_model  # noqa: E402
from me_resnet.training.losses import focal_loss  # noqa: E402
from me_resnet.utils.io import write_json_atomic  # noqa: E402
from me_resnet.utils.paths import RESULTS_DIR  # noqa: E402
from me_resnet.utils.provenance import provenance  # noqa: E402


def matmul_peak_gflops(size: int = 2048, repeats: int = 5, dtype: str = "float32") -> float:
    """Best-of-``repeats`` GFLOP/s of a (size x size) @ (size x size) product in ``dtype``."""
    rng = np.random.default_rng(0)
    a = keras.ops.convert_to_tensor(rng.normal(size=(size, size)).astype("float32"), dtype=dtype)
    b = keras.ops.convert_to_tensor(rng.normal(size=(size, size)).astype("float32"), dtype=dtype)
    keras.ops.convert_to_numpy(keras.ops.matmul(a, b))  # warm-up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        keras.ops.convert_to_numpy(keras.ops.matmul(a, b))
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e9


def _timed(step, steps: int) -> list[float]:
    step()  # warm-up: graph tracing and oneDNN primitive creation
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return times


def bench_batch(model, batch: int, steps: int, flops: int, modes=("inference", "training")) -> dict:
    rng = np.random.default_rng(batch)
    x = rng.normal(size=(batch,) + tuple(model.input_shape[1:])).astype("float32")
    y = keras.utils.to_categorical(rng.integers(0, model.output_shape[-1], batch), model.output_shape[-1])
    steps_of = {"inference": lambda: model.predict_on_batch(x), "training": lambda: model.train_on_batch(x, y)}
    result = {"batch_size": batch, "timed_steps": steps}
    for name, multiplier in (("inference", 1), ("training", 3)):
        if name not in modes:
            continue
        times = _timed(steps_of[name], steps)
        per_second = batch / float(np.median(times))
        result[name] = {
            "step_seconds": [round(t, 4) for t in times],
            "samples_per_second": round(per_second, 3),
            "achieved_gflops": round(per_second * multiplier * flops / 1e9, 2),
        }
    return result


def bench_keras(
    input_shape, config, batches, steps, precision="float32", jit_compile=False, modes=("inference", "training")
):
    """Samples/s of a freshly built ME-ResNet under ``precision`` (the dtype policy is restored after)."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(precision)
    try:
        keras.utils.set_random_seed(0)
        model = build_model("me_resnet", input_shape, 3, config)
        model.compile(
            optimizer=keras.optimizers.Adam(config.learning_rate), loss=focal_loss([1 / 3] * 3), jit_compile=jit_compile
        )
        flops = count_flops(model)
        results = []
        for batch in batches:
            results.append(
                {"precision": precision, "jit_compile": jit_compile, **bench_batch(model, batch, steps, flops, modes)}
            )
            print(json.dumps(results[-1]), flush=True)
        return model, flops, results
    finally:
        keras.config.set_dtype_policy(previous)


def bench_torch(input_shape, config, batches, steps, flops, bfloat16=False) -> list[dict]:
    """The same architecture in plain PyTorch (channels-last 3D), optionally under CPU bf16 autocast."""
    import torch

    from benchmarks.torch_me_resnet import build, to_input

    torch.manual_seed(0)
    model = build(3, config.blocks, config.width, config.cbam_reduction)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    autocast = lambda: torch.autocast("cpu", dtype=torch.bfloat16, enabled=bfloat16)  # noqa: E731
    results = []
    for batch in batches:
        rng = np.random.default_rng(batch)
        x = to_input(rng.normal(size=(batch,) + tuple(input_shape)).astype("float32"))
        y = torch.from_numpy(rng.integers(0, 3, batch))

        def infer():
            model.eval()
            with torch.no_grad(), autocast():
                model(x)

        def train():
            model.train()
            optimizer.zero_grad(set_to_none=True)
            with autocast():
                loss = torch.nn.functional.cross_entropy(model(x).float(), y)
            loss.backward()
            optimizer.step()

        row = {
            "precision": "bfloat16_autocast" if bfloat16 else "float32",
            "batch_size": batch,
            "timed_steps": steps,
            "torch_threads": torch.get_num_threads(),
            "parameters": sum(p.numel() for p in model.parameters()),
        }
        for name, step, multiplier in (("inference", infer, 1), ("training", train, 3)):
            per_second = batch / float(np.median(_timed(step, steps)))
            row[name] = {
                "samples_per_second": round(per_second, 3),
                "achieved_gflops": round(per_second * multiplier * flops / 1e9, 2),
            }
        results.append(row)
        print(json.dumps(row), flush=True)
    return results


def _peaks(dtype):
    return {size: matmul_peak_gflops(size, dtype=dtype) for size in (2048, 4096)}


def _ratio(a, b):
    return round(a / b, 3) if a and b else None


def _lookup(rows, precision, batch, mode, jit=False):
    for row in rows:
        if (
            row["precision"] == precision
            and row["batch_size"] == batch
            and row.get("jit_compile", False) == jit
            and mode in row
        ):
            return row[mode]["samples_per_second"]
    return None


def _setup(quick):
    config = get_profile("paper")
    if quick:
        return dataclasses.replace(config, blocks=(1, 1, 1, 1), width=8, cbam_reduction=4), (4, 32, 32, 3)
    return config, (10, 112, 112, 3)


def run_part(part, quick, batches, steps) -> list[dict]:
    """One measurement group in this process: ``float32``, ``mixed_bfloat16``, ``xla`` or ``torch``."""
    config, input_shape = _setup(quick)
    if part == "torch":
        keras.utils.set_random_seed(0)
        flops = count_flops(build_model("me_resnet", input_shape, 3, config))
        return bench_torch(input_shape, config, batches, steps, flops) + bench_torch(
            input_shape, config, batches[:1], steps, flops, bfloat16=True
        )
    precision, jit = ("float32", True) if part == "xla" else (part, False)
    model, flops, rows = bench_keras(input_shape, config, batches[:1] if jit else batches, steps, precision, jit)
    for row in rows:
        row["forward_gflops"], row["parameters"] = flops / 1e9, int(model.count_params())
    return rows


def _run_part(part, quick, batches, steps):
    import subprocess

    command = [sys.executable, __file__, "--part", part, "--steps", str(steps), "--batch-sizes", *map(str, batches)]
    done = subprocess.run(command + (["--quick"] if quick else []), capture_output=True, text=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith("PART_ROWS ")]
    if done.returncode != 0 or not lines:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return [
            json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")
        ], f"exit code {done.returncode}: {tail}"
    return json.loads(lines[-1][len("PART_ROWS ") :]), None


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: (4,32,32,3), 1-block stages, width 8, 1 step")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=None)
    parser.add_argument("--steps", type=int, default=2, help="timed steps per measurement (after 1 warm-up)")
    parser.add_argument("--no-torch", action="store_true")
    parser.add_argument("--no-xla", action="store_true")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--part", choices=["float32", "mixed_bfloat16", "xla", "torch"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.part:
        quick_batches = args.batch_sizes or ([2] if args.quick else [8, 32])
        print("PART_ROWS " + json.dumps(run_part(args.part, args.quick, quick_batches, args.steps)), flush=True)
        return
    _, input_shape = _setup(args.quick)
    batches, steps = args.batch_sizes or ([2] if args.quick else [8, 32]), 1 if args.quick else args.steps
    out = args.out or RESULTS_DIR / "bench" / ("model_throughput_quick.json" if args.quick else "model_throughput.json")

    load_before = os.getloadavg()
    peaks = {"float32": [_peaks("float32")], "bfloat16": [_peaks("bfloat16")]}
    rows, torch_rows, failures = [], [], {}
    parts = ["float32", "mixed_bfloat16"] + ([] if args.no_xla else ["xla"]) + ([] if args.no_torch else ["torch"])
    for part in parts:  # each part in its own process: a crash (bf16 oneDNN defect) cannot take the run down
        found, error = _run_part(part, args.quick, batches, steps)
        if error:
            failures[part] = error
            print(f"{part}: {error}", flush=True)
        (torch_rows if part == "torch" else rows).extend(found)
    flops = int(round(next((r["forward_gflops"] for r in rows if "forward_gflops" in r), 0) * 1e9))
    parameters = next((r["parameters"] for r in rows if "parameters" in r), None)
    peaks["float32"].append(_peaks("float32"))
    peaks["bfloat16"].append(_peaks("bfloat16"))
    peak = {dtype: max(max(p.values()) for p in values) for dtype, values in peaks.items()}
    for row in rows + torch_rows:
        dtype = "float32" if row["precision"] == "float32" else "bfloat16"
        for name in ("inference", "training"):
            if name in row:
                row[name]["fraction_of_matmul_peak"] = round(row[name]["achieved_gflops"] / peak[dtype], 3)
    comparisons = {}
    for batch in batches:
        comparisons[f"batch_{batch}"] = {
            "bf16_over_fp32_training": _ratio(
                _lookup(rows, "mixed_bfloat16", batch, "training"), _lookup(rows, "float32", batch, "training")
            ),
            "bf16_over_fp32_inference": _ratio(
                _lookup(rows, "mixed_bfloat16", batch, "inference"), _lookup(rows, "float32", batch, "inference")
            ),
            "xla_over_no_xla_training": _ratio(
                _lookup(rows, "float32", batch, "training", jit=True), _lookup(rows, "float32", batch, "training")
            ),
            "xla_over_no_xla_inference": _ratio(
                _lookup(rows, "float32", batch, "inference", jit=True), _lookup(rows, "float32", batch, "inference")
            ),
            "keras_over_torch_training_fp32": _ratio(
                _lookup(rows, "float32", batch, "training"), _lookup(torch_rows, "float32", batch, "training")
            ),
            "keras_over_torch_inference_fp32": _ratio(
                _lookup(rows, "float32", batch, "inference"), _lookup(torch_rows, "float32", batch, "inference")
            ),
        }
    document = {
        "model": "me_resnet",
        "profile": "quick" if args.quick else "paper",
        "input_shape": list(input_shape),
        "num_classes": 3,
        "parameters": parameters,
        "forward_gflops_per_sample": round(flops / 1e9, 3),
        "flops_note": "2 x multiply-adds of convs, dense layers and CBAM (MLP + spatial conv); BN, activations, "
        "pooling and element-wise ops not counted; training step = 3 x forward",
        "matmul_peak_gflops": {k: round(v, 1) for k, v in peak.items()},
        "matmul_gflops_by_size_before_after": {
            k: [{str(s): round(g, 1) for s, g in p.items()} for p in v] for k, v in peaks.items()
        },
        "keras": rows,
        "torch": torch_rows,
        "failures": failures,
        "comparisons": comparisons,
        "targets": {"training_fraction_of_fp32_peak": 0.6, "keras_over_torch": 1.2, "bf16_over_fp32_training": 1.5},
        "load_average_before_after": [round(v, 2) for v in load_before] + [round(v, 2) for v in os.getloadavg()],
        "note": "median of the timed steps after one warm-up step; "
        "the CPU may be shared with other jobs (see load average)",
        "provenance": provenance(),
    }
    write_json_atomic(out, document)
    print(json.dumps(comparisons, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
