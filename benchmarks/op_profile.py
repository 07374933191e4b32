"""Where a paper-profile ME-ResNet training step spends its time, op by op (TensorFlow backend).

    python benchmarks/op_profile.py                  # (10,112,112,3), batch 8, float32
    python benchmarks/op_profile.py --batch-size 32  # the paper's batch
    python benchmarks/op_profile.py --inter-op-threads 1  # ops one at a time: clean per-op rates
    python benchmarks/op_profile.py --quick          # tiny model, seconds (what the test runs)
    python benchmarks/op_profile.py --demo --batch-size 4 --steps 10  # the demo ME-ResNet, as make demo trains it

Traces ``model.train_on_batch`` with TensorFlow's profiler, reads the XSpace file
it writes and sums the executed TensorFlow op time by *group*: conv forward,
conv weight gradient, conv input gradient (each with its FLOPs from the layer
shapes, so its own GFLOP/s and fraction of the matmul peak measured in the same
run), batch norm, CBAM, activations/adds, pooling, optimizer (Adam), loss.
Writes ``results/bench/op_profile.json``; ``reproduce/update_readme.py`` puts
its summary in docs/performance.md's compute section.
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from me_resnet.utils.quiet import prepare_environment  # noqa: E402

prepare_environment()  # the kit's TensorFlow settings (oneDNN on), as its commands set them, before TensorFlow loads

# isort: split
import keras  # noqa: E402
import numpy as np  # noqa: E402

from benchmarks.model_throughput import _setup, matmul_peak_gflops  # noqa: E402
from me_resnet.config import get_profile  # noqa: E402
from me_resnet.models.cbam import CBAM  # noqa: E402
from me_resnet.models.flops import count_layer_flops  # noqa: E402
from me_resnet.models.registry import build_model  # noqa: E402
from me_resnet.training.losses import focal_loss  # noqa: E402
from me_resnet.utils.io import write_json_atomic  # noqa: E402
from me_resnet.utils.paths import RESULTS_DIR  # noqa: E402
from me_resnet.utils.provenance import provenance  # noqa: E402

CONV_DIRECTIONS = {  # TensorFlow/oneDNN op type -> which of the three conv GEMMs it is
    "Conv3D": "conv forward",
    "_MklNativeConv3D": "conv forward",
    "_MklNativeFusedConv3D": "conv forward",
    "Conv2D": "conv forward",
    "_MklNativeConv2D": "conv forward",
    "_MklNativeFusedConv2D": "conv forward",
    "Conv3DBackpropFilterV2": "conv weight gradient",
    "_MklNativeConv3DBackpropFilterV2": "conv weight gradient",
    "Conv2DBackpropFilter": "conv weight gradient",
    "_MklNativeConv2DBackpropFilter": "conv weight gradient",
    "Conv3DBackpropInputV2": "conv input gradient",
    "_MklNativeConv3DBackpropInputV2": "conv input gradient",
    "Conv2DBackpropInput": "conv input gradient",
    "_MklNativeConv2DBackpropInput": "conv input gradient",
}
LAYER_GROUPS = (  # (layer class, group) checked in order; CBAM first (it holds a Conv3D)
    (CBAM, "CBAM"),
    (keras.layers.BatchNormalization, "batch norm"),
    (keras.layers.Activation, "activations + residual adds"),
    (keras.layers.ReLU, "activations + residual adds"),
    (keras.layers.Add, "activations + residual adds"),
    (keras.layers.MaxPooling3D, "pooling"),
    (keras.layers.GlobalAveragePooling3D, "pooling"),
    (keras.layers.ZeroPadding3D, "padding"),
    (keras.layers.Dense, "dense head"),
)


def layer_groups(model: keras.Model) -> dict[str, str]:
    """Layer name -> profile group for the non-conv layers of ``model``."""
    groups = {}
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        groups[layer.name] = next((group for cls, group in LAYER_GROUPS if isinstance(layer, cls)), "other layers")
    return groups


def _layer_of(scope: str, layer_names) -> str | None:
    """The model layer an op belongs to, from its name scope ('gradient_tape/me_resnet_1/conv1_conv_1/...')."""
    for part in scope.split("/"):
        for name in (part, part.rsplit("_", 1)[0]):  # Keras 3 suffixes scopes with _1, _2, ...
            if name in layer_names:
                return name
    return None


def classify(op_name: str, op_type: str, groups: dict[str, str], optimizer: str = "adam") -> tuple[str, str | None]:
    """(group, layer) of one TensorFlow op, e.g. ('conv weight gradient', 'conv2_block1_1_conv').

    ``optimizer`` is the optimizer's name scope (``model.optimizer.name``: 'adam',
    or 'adam_3' when other optimizers were created before in the process).
    """
    if op_name.split("/", 1)[0] == optimizer:
        return "optimizer (Adam)", None
    layer = _layer_of(op_name, groups)
    if op_type in CONV_DIRECTIONS and layer is not None and groups.get(layer) != "CBAM":
        return CONV_DIRECTIONS[op_type], layer
    if layer is not None:
        return groups[layer], layer
    if "loss" in op_name.lower():
        return "loss", None
    return "other (variable reads, casts, gradient sums)", None


def read_op_events(trace_dir: Path) -> list[tuple[str, str, float]]:
    """(op name, op type, seconds) of every TensorFlow op in the profiler trace.

    Op events are the host-plane events named 'scope/name:OpType'; executor and
    thread-pool bookkeeping events ('ExecutorState::Process', ...) and the eager
    call that wraps the whole step ('EagerLocalExecute:__inference_...') are skipped.
    """
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    files = sorted(trace_dir.rglob("*.xplane.pb"))
    if not files:
        raise FileNotFoundError(f"no *.xplane.pb profiler trace under {trace_dir}")
    space = xplane_pb2.XSpace()
    space.ParseFromString(files[-1].read_bytes())
    host = next((plane for plane in space.planes if plane.name == "/host:CPU"), None)
    if host is None:
        raise ValueError(f"{files[-1]}: no /host:CPU plane (planes: {[p.name for p in space.planes]})")
    events = []
    for line in host.lines:
        for event in line.events:
            name = host.event_metadata[event.metadata_id].name
            if ":" not in name or "::" in name:
                continue
            op_name, op_type = name.rsplit(":", 1)
            if op_name.strip() == "EagerLocalExecute":  # the eager call wrapping the whole tf.function
                continue
            events.append((op_name.strip(), op_type.strip(), event.duration_ps * 1e-12))
    return events


def summarise(events, model: keras.Model, batch_size: int, steps: int, peak_gflops: float) -> dict:
    """Per-group and per-op-type seconds per step, conv GFLOP/s per direction and per layer."""
    groups = layer_groups(model)
    conv_flops = {
        name: flops * batch_size
        for name, flops in count_layer_flops(model).items()
        if groups.get(name) == "other layers"
    }
    for name in conv_flops:
        groups[name] = "conv"
    by_group, by_type = collections.defaultdict(float), collections.defaultdict(float)
    counts, group_flops = collections.Counter(), collections.Counter()
    by_conv_layer = collections.defaultdict(lambda: collections.defaultdict(float))
    for op_name, op_type, seconds in events:
        group, layer = classify(op_name, op_type, groups, model.optimizer.name)
        if group == "conv":  # a conv layer's bias add, reshape, ... (not one of the three GEMMs)
            group = "other (variable reads, casts, gradient sums)"
        by_group[group] += seconds / steps
        by_type[op_type] += seconds / steps
        counts[op_type] += 1
        if group.startswith("conv ") and layer in conv_flops:
            group_flops[group] += conv_flops[layer] / steps
            by_conv_layer[layer][group] += seconds / steps
    total = sum(by_group.values())

    def rate(flops, seconds):
        gflops = flops / seconds / 1e9 if seconds else 0.0
        return {"gflops_per_second": round(gflops, 1), "fraction_of_matmul_peak": round(gflops / peak_gflops, 3)}

    group_rows = []
    for group, seconds in sorted(by_group.items(), key=lambda item: -item[1]):
        row = {"group": group, "seconds_per_step": round(seconds, 4), "share_of_op_time": round(seconds / total, 4)}
        if group in group_flops:
            row.update(gflop_per_step=round(group_flops[group] / 1e9, 4), **rate(group_flops[group], seconds))
        group_rows.append(row)
    conv_rows = []
    for layer, seconds_by_direction in by_conv_layer.items():
        seconds = sum(seconds_by_direction.values())
        conv_rows.append(
            {
                "layer": layer,
                "kernel": list(model.get_layer(layer).kernel.shape),
                "output": list(model.get_layer(layer).output.shape[1:]),
                "seconds_per_step": round(seconds, 4),
                **rate(conv_flops[layer] * len(seconds_by_direction), seconds),
                **{f"{d} seconds": round(s, 4) for d, s in seconds_by_direction.items()},
            }
        )
    conv_rows.sort(key=lambda row: -row["seconds_per_step"])
    gemm_seconds = sum(by_group[g] for g in ("conv forward", "conv weight gradient", "conv input gradient"))
    return {
        "op_seconds_per_step": round(total, 3),
        "conv_gemm_share_of_op_time": round(gemm_seconds / total, 4) if total else 0.0,
        "conv_gemm_gflops_per_second": rate(sum(group_flops.values()), gemm_seconds),
        "groups": group_rows,
        "op_types": [
            {"op_type": t, "seconds_per_step": round(s, 4), "calls_per_step": counts[t] // steps}
            for t, s in sorted(by_type.items(), key=lambda item: -item[1])[:25]
        ],
        "slowest_conv_layers": conv_rows[:15],
    }


def _build(quick: bool, precision: str, demo: bool = False):
    """The ME-ResNet that model_throughput.py measures (same profile and input), compiled under ``precision``.

    ``demo``: the demo profile's ME-ResNet on the demo input (5 flow frames of 32x32x3) instead.
    """
    config, input_shape = (get_profile("demo"), (5, 32, 32, 3)) if demo else _setup(quick)
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(precision)
    try:
        keras.utils.set_random_seed(0)
        model = build_model("me_resnet", input_shape, 3, config)
        model.compile(optimizer=keras.optimizers.Adam(config.learning_rate), loss=focal_loss([1 / 3] * 3))
    finally:
        keras.config.set_dtype_policy(previous)
    return model, tuple(input_shape)


def profile_training_step(quick=False, batch_size=8, steps=1, precision="float32", trace_dir=None, demo=False) -> dict:
    """Trace ``steps`` training steps (after two warm-up steps) and summarise them."""
    import tensorflow as tf

    if keras.backend.backend() != "tensorflow":
        raise RuntimeError(f"op_profile reads TensorFlow profiler traces; KERAS_BACKEND is {keras.backend.backend()!r}")
    model, input_shape = _build(quick, precision, demo)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(batch_size,) + input_shape).astype("float32")
    y = keras.utils.to_categorical(rng.integers(0, 3, batch_size), 3)
    for _ in range(2):  # tracing, oneDNN primitive creation
        model.train_on_batch(x, y)
    peak_dtype = "bfloat16" if precision == "mixed_bfloat16" else "float32"
    peak_before = matmul_peak_gflops(1024 if quick else 4096, repeats=3, dtype=peak_dtype)
    with tempfile.TemporaryDirectory() as scratch:
        trace_dir = Path(trace_dir or scratch)
        walls = []
        tf.profiler.experimental.start(str(trace_dir))
        try:
            for _ in range(steps):
                start = time.perf_counter()
                model.train_on_batch(x, y)
                walls.append(time.perf_counter() - start)
        finally:
            tf.profiler.experimental.stop()
        events = read_op_events(trace_dir)
    peak = max(peak_before, matmul_peak_gflops(1024 if quick else 4096, repeats=3, dtype=peak_dtype))
    summary = summarise(events, model, batch_size, steps, peak)
    wall = float(np.median(walls))
    return {
        "profile": "demo" if demo else "quick" if quick else "paper",
        "input_shape": list(input_shape),
        "batch_size": batch_size,
        "precision": precision,
        "profiled_steps": steps,
        "parameters": int(model.count_params()),
        "step_wall_seconds": round(wall, 3),
        "op_time_over_wall_time": round(summary["op_seconds_per_step"] / wall, 3),
        "matmul_peak_gflops": round(peak, 1),
        "matmul_peak_dtype": peak_dtype,
        **summary,
        "threads": {
            "intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
            "inter_op": tf.config.threading.get_inter_op_parallelism_threads(),
        },
        "note": "op time = summed duration of executed TensorFlow ops (ops on the two inter-op threads may overlap, "
        "so it can exceed wall time); conv GFLOP/s use 2 x multiply-adds of the layer shape per direction",
        "provenance": provenance(),
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny model (4,32,32,3), 1-block stages")
    parser.add_argument("--demo", action="store_true", help="the demo profile's ME-ResNet on (5,32,32,3)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--steps", type=int, default=1, help="profiled steps (after 2 warm-up steps)")
    parser.add_argument("--precision", default="float32", choices=["float32", "mixed_bfloat16"])
    parser.add_argument(
        "--inter-op-threads",
        type=int,
        default=0,
        help="TensorFlow inter-op threads (0 = TensorFlow's default); 1 runs ops one at a time",
    )
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.inter_op_threads:
        import tensorflow as tf

        tf.config.threading.set_inter_op_parallelism_threads(args.inter_op_threads)
    if args.batch_size < 1 or args.steps < 1:
        parser.error(f"--batch-size and --steps must be >= 1, got {args.batch_size} and {args.steps}")
    load_before = os.getloadavg()
    document = profile_training_step(args.quick, args.batch_size, args.steps, args.precision, demo=args.demo)
    document["load_average_before_after"] = [round(v, 2) for v in load_before + os.getloadavg()]
    suffix = (
        ("_quick" if args.quick else "")
        + ("_demo" if args.demo else "")
        + ("" if args.precision == "float32" else f"_{args.precision}")
        + ("" if args.batch_size == 8 else f"_batch{args.batch_size}")
        + (f"_interop{args.inter_op_threads}" if args.inter_op_threads else "")
    )
    out = args.out or RESULTS_DIR / "bench" / f"op_profile{suffix}.json"
    write_json_atomic(out, document)
    for row in document["groups"]:
        extra = (
            f"  {row['gflops_per_second']} GFLOP/s ({row['fraction_of_matmul_peak']:.0%} of peak)"
            if "gflops_per_second" in row
            else ""
        )
        print(f"{row['group']:45s} {row['seconds_per_step']:8.3f} s  {row['share_of_op_time']:6.1%}{extra}")
    print(f"step wall {document['step_wall_seconds']} s, op time {document['op_seconds_per_step']} s; wrote {out}")


if __name__ == "__main__":
    main()
