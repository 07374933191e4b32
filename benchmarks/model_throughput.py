"""Throughput of the paper-size ME-ResNet on this machine (run by hand; slow).

    python benchmarks/model_throughput.py                  # (10,112,112,3), batches 8 and 32, ~5-10 min on 2 cores
    python benchmarks/model_throughput.py --profile demo   # smoke run with the demo model

Measures inference and training samples/s, the forward FLOPs per sample counted
from layer shapes (``me_resnet.flops.count_flops``; training = 3x forward), the
achieved GFLOP/s and, in the same run, the fp32 peak of one big
``keras.ops.matmul`` for comparison. Writes ``results/bench/model_throughput.json``.
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from me_resnet.config import get_profile  # noqa: E402
from me_resnet.flops import count_flops  # noqa: E402
from me_resnet.losses import focal_loss  # noqa: E402
from me_resnet.models import build_model  # noqa: E402
from me_resnet.paths import RESULTS_DIR  # noqa: E402
from me_resnet.provenance import provenance  # noqa: E402


def matmul_peak_gflops(size: int = 2048, repeats: int = 5) -> float:
    """Best-of-``repeats`` fp32 GFLOP/s of a (size x size) @ (size x size) product."""
    rng = np.random.default_rng(0)
    a = keras.ops.convert_to_tensor(rng.normal(size=(size, size)).astype("float32"))
    b = keras.ops.convert_to_tensor(rng.normal(size=(size, size)).astype("float32"))
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


def bench_batch(model, batch: int, steps: int, flops: int) -> dict:
    rng = np.random.default_rng(batch)
    x = rng.normal(size=(batch,) + tuple(model.input_shape[1:])).astype("float32")
    y = keras.utils.to_categorical(rng.integers(0, model.output_shape[-1], batch), model.output_shape[-1])
    infer = _timed(lambda: model.predict_on_batch(x), steps)
    train = _timed(lambda: model.train_on_batch(x, y), steps)
    result = {"batch_size": batch, "timed_steps": steps}
    for name, times, multiplier in (("inference", infer, 1), ("training", train, 3)):
        per_second = batch / float(np.median(times))
        result[name] = {
            "step_seconds": [round(t, 4) for t in times],
            "samples_per_second": round(per_second, 3),
            "achieved_gflops": round(per_second * multiplier * flops / 1e9, 2),
        }
    return result


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", choices=["paper", "demo"], default="paper")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[8, 32])
    parser.add_argument("--steps", type=int, default=2, help="timed steps per measurement (after 1 warm-up)")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "bench" / "model_throughput.json")
    args = parser.parse_args(argv)
    config = get_profile(args.profile)
    input_shape = (10, 112, 112, 3) if args.profile == "paper" else (config.num_frames - 1, config.image_size, config.image_size, 3)

    load_before = os.getloadavg()
    # a 2048^3 product reaches only ~half of what 4096^3 does here: take the best size
    peaks = {size: matmul_peak_gflops(size) for size in (2048, 4096)}
    keras.utils.set_random_seed(0)
    model = build_model("me_resnet", input_shape, 3, config)
    model.compile(optimizer=keras.optimizers.Adam(config.learning_rate), loss=focal_loss([1 / 3] * 3))
    flops = count_flops(model)
    print(f"{model.count_params():,} parameters, {flops / 1e9:.2f} forward GFLOP/sample, matmul {peaks} GFLOP/s")
    results = []
    for batch in args.batch_sizes:
        results.append(bench_batch(model, batch, args.steps, flops))
        print(json.dumps(results[-1]))
    peaks_after = {size: matmul_peak_gflops(size) for size in (2048, 4096)}
    peak = max(*peaks.values(), *peaks_after.values())
    for result in results:
        for name in ("inference", "training"):
            result[name]["fraction_of_matmul_peak"] = round(result[name]["achieved_gflops"] / peak, 3)
    document = {
        "model": "me_resnet", "profile": args.profile, "input_shape": list(input_shape), "num_classes": 3,
        "parameters": int(model.count_params()),
        "forward_gflops_per_sample": round(flops / 1e9, 3),
        "flops_note": "2 x multiply-adds of convs, dense layers and CBAM (MLP + spatial conv); BN, activations, "
                      "pooling and element-wise ops not counted; training step = 3 x forward",
        "matmul_peak_gflops_fp32": round(peak, 1),
        "matmul_gflops_by_size_before_after": [
            {str(k): round(v, 1) for k, v in peaks.items()}, {str(k): round(v, 1) for k, v in peaks_after.items()}
        ],
        "results": results,
        "load_average_before_after": [round(v, 2) for v in load_before] + [round(v, 2) for v in os.getloadavg()],
        "note": "median of the timed steps after one warm-up step; the CPU may be shared with other jobs (see load average)",
        "provenance": provenance(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(document, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
