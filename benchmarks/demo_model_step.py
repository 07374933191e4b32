"""Build and training-step time of the DEMO-profile ME-ResNet, the model every demo fold trains.

    python benchmarks/demo_model_step.py [--steps 20] [--out results/bench/demo_model_step.json]

Measures (1) building the model, compiling it with the focal loss and its first ``train_on_batch`` (graph
tracing included), as a demo fold starts, and (2) the median of ``--steps`` further traced steps on a batch of
4 clips. Targets: first step <= 90 s and a traced step <= 5 s on 2 busy cores, so a demo LOSO stays minutes.

Each backend setting runs in its own process, one after the other in the same run, so their ratios are
measured side by side: TensorFlow's oneDNN kernels off/on (``TF_ENABLE_ONEDNN_OPTS``, which must be set
before TensorFlow loads; the kit sets 1) and XLA off/on (``jit_compile``). The kit's default is marked.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository's package when run as a script

from me_resnet.utils.quiet import prepare_environment  # noqa: E402

prepare_environment()  # the kit's TensorFlow settings (oneDNN on), as its commands set them, before TensorFlow loads

# isort: split
import keras  # noqa: E402
import numpy as np  # noqa: E402

from me_resnet.config import DEMO, Config  # noqa: E402
from me_resnet.models.registry import build_model  # noqa: E402
from me_resnet.training.losses import focal_loss  # noqa: E402
from me_resnet.utils.io import write_json_atomic  # noqa: E402
from me_resnet.utils.paths import RESULTS_DIR  # noqa: E402
from me_resnet.utils.provenance import provenance  # noqa: E402

TARGETS = {"first_step_seconds": 90.0, "traced_step_seconds": 5.0}
BATCH_SIZE = 4


SETTINGS = [  # (TF_ENABLE_ONEDNN_OPTS, jit_compile); the first is the kit's default
    ("1", False),
    ("0", False),
    ("1", True),
    ("0", True),
]


def measure(config: Config = DEMO, steps: int = 20, method: str = "me_resnet") -> dict:
    """Seconds to build + compile + run the first training step, and the median of ``steps`` traced steps."""
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    shape = (config.num_frames - 1, config.image_size, config.image_size, 3)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(BATCH_SIZE,) + shape).astype("float32")
    y = keras.utils.to_categorical(np.arange(BATCH_SIZE) % 3, 3)
    keras.utils.set_random_seed(0)
    start = time.perf_counter()
    model = build_model(method, shape, 3, config)
    model.compile(
        optimizer=keras.optimizers.Adam(config.learning_rate),
        loss=focal_loss([1 / 3] * 3),
        jit_compile=config.jit_compile,
    )
    model.train_on_batch(x, y)
    first = time.perf_counter() - start
    times = []
    for _ in range(steps):
        step_start = time.perf_counter()
        model.train_on_batch(x, y)
        times.append(time.perf_counter() - step_start)
    traced = float(np.median(times))
    return {
        "method": method,
        "input_shape": list(shape),
        "batch_size": BATCH_SIZE,
        "parameters": model.count_params(),
        "first_step_seconds": round(first, 3),
        "traced_step_seconds": round(traced, 4),
        "timed_steps": steps,
        "targets": TARGETS,
        "targets_met": {
            "first_step_seconds": first <= TARGETS["first_step_seconds"],
            "traced_step_seconds": traced <= TARGETS["traced_step_seconds"],
        },
    }


def measure_in_process(onednn: str, jit_compile: bool, steps: int) -> dict:
    """``measure`` of the demo profile in a fresh process with ``TF_ENABLE_ONEDNN_OPTS=onednn``."""
    env = dict(os.environ, TF_ENABLE_ONEDNN_OPTS=onednn)
    command = [sys.executable, __file__, "--worker", "--steps", str(steps)] + (["--jit"] if jit_compile else [])
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"the benchmark worker (oneDNN {onednn}, XLA {jit_compile}) failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["settings"] = {"TF_ENABLE_ONEDNN_OPTS": onednn, "jit_compile": jit_compile}
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20, help="traced steps to time after the first")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "bench" / "demo_model_step.json")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)  # one setting, JSON on stdout
    parser.add_argument("--jit", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(measure(dataclasses.replace(DEMO, jit_compile=args.jit), args.steps)))
        return
    load_before = [round(v, 2) for v in os.getloadavg()]
    runs = [measure_in_process(onednn, jit, args.steps) for onednn, jit in SETTINGS]
    default = runs[0]
    result = {key: value for key, value in default.items() if key != "settings"}
    result["kit_default_settings"] = default["settings"]
    result["settings_side_by_side"] = [
        {
            **run["settings"],
            "first_step_seconds": run["first_step_seconds"],
            "traced_step_seconds": run["traced_step_seconds"],
            "traced_step_vs_kit_default": round(run["traced_step_seconds"] / default["traced_step_seconds"], 2),
        }
        for run in runs
    ]
    result["profile"] = "demo"
    result["load_average_before_after"] = [load_before, [round(v, 2) for v in os.getloadavg()]]  # shared cores
    result["provenance"] = provenance()
    write_json_atomic(args.out, result)
    print(json.dumps({key: value for key, value in result.items() if key != "provenance"}, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
