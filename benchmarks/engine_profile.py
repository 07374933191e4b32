"""Where a fold-parallel engine step spends its time, op by op (TensorFlow backend; run by hand).

    python benchmarks/engine_profile.py                         # STSTNet, 19 folds, batch 256 (one engine pass)
    python benchmarks/engine_profile.py --method off_apexnet --folds 22

One engine step (``engine_steps.CompiledSteps.train_step``) on the first
``--folds`` folds of the composite LOSO (synthetic MEGC 2019-shaped features,
``small_model_loso.megc_features``), the method at its registry settings, in
the environment the engine's benchmark uses (``TF_CPU_ALLOCATOR_USE_BFC``).
After warm-up steps, ``--steps`` steps are timed and then traced with
TensorFlow's profiler; op time (summed over threads, so it can exceed the
wall time) is grouped by op type and by kind: convolutions, pooling, dropout's
random numbers, layout (transposes, slices, stacks), Adam's XLA computation
(its wall time), and the element-wise ops and reductions (batch norm, ReLU,
masks, dropout's selects, the loss).
Writes ``results/bench/engine_profile_<method>.json``.
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
os.environ.setdefault("TF_CPU_ALLOCATOR_USE_BFC", "true")  # as the engine's benchmark runs it
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from me_resnet.utils.quiet import prepare_environment  # noqa: E402

prepare_environment()  # the kit's TensorFlow settings (oneDNN on), as its commands set them, before TensorFlow loads
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from op_profile import read_op_events  # noqa: E402
from small_model_loso import METHODS, megc_features, method_settings  # noqa: E402

from me_resnet.utils.paths import RESULTS_DIR  # noqa: E402

XLA_EVENT = "CpuExecutable::ExecuteAsyncOnStream"  # one run of an XLA computation (the fused Adam update)
KINDS = (  # (kind, substrings of the op type), first match wins
    ("convolution", ("Conv2D", "Conv3D")),
    ("pooling", ("Pool",)),
    ("matmul", ("MatMul", "Einsum")),
    ("dropout random numbers", ("Random",)),
    ("layout (transpose, slice, stack, concat)", ("Transpose", "Slice", "Pack", "Unpack", "Concat", "Tile")),
    ("compiled Adam (XLA)", (XLA_EVENT,)),
)


def xla_events(trace_dir: Path) -> list[tuple[str, str, float]]:
    """(name, XLA_EVENT, seconds) of every XLA computation run in the trace (not TensorFlow op events)."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    space = xplane_pb2.XSpace()
    space.ParseFromString(sorted(trace_dir.rglob("*.xplane.pb"))[-1].read_bytes())
    host = next(plane for plane in space.planes if plane.name == "/host:CPU")
    return [
        ("xla", XLA_EVENT, event.duration_ps * 1e-12)
        for line in host.lines
        for event in line.events
        if host.event_metadata[event.metadata_id].name == XLA_EVENT
    ]


def kind_of(op_type: str) -> str:
    for kind, parts in KINDS:
        if any(part in op_type for part in parts):
            return kind
    return "element-wise and reductions"


def engine_steps(method: str, folds: int):
    """The compiled steps of one engine pass and a function that runs ``n`` shared batches through them."""
    import keras

    from me_resnet.evaluation.runner import LosoRun
    from me_resnet.parallel.engine_executor import fold_specs
    from me_resnet.parallel.engine_state import epoch_batches, prepare_fold_data
    from me_resnet.parallel.engine_steps import make_steps
    from me_resnet.parallel.stacked_model import StackedModel
    from me_resnet.training.fold import default_build_fn

    features, config = megc_features(), method_settings(method, None)
    specs = fold_specs(LosoRun(features, method, config).jobs[:folds])
    data = prepare_fold_data(features, specs, config)
    keras.utils.set_random_seed(config.seed)
    model = default_build_fn(method, tuple(data.X.shape[1:]), 3, config)
    steps = make_steps(StackedModel(model, len(specs)), data, config)
    targets = np.eye(3, dtype=np.float32)[data.y]
    rng = np.random.default_rng(config.seed)

    def run(n: int) -> None:
        for _ in range(n):
            rows = epoch_batches(rng, len(data.X), config.batch_size)[0]  # a full batch
            member = data.member[rows]
            update = (member.sum(0) > 0).astype(np.float32)
            steps.train_step(data.X[rows], targets[rows], member.astype(np.float32), update)

    return run, len(specs), config.batch_size


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--method", choices=METHODS, default="ststnet")
    parser.add_argument("--folds", type=int, default=19, help="folds in the pass (the benchmark's: 19 / 22)")
    parser.add_argument("--steps", type=int, default=5, help="steps timed, then traced")
    parser.add_argument("--out", type=Path, default=None, help="default results/bench/engine_profile_<method>.json")
    args = parser.parse_args(argv)
    if args.folds < 1 or args.steps < 1:
        parser.error(f"--folds and --steps must be >= 1, got {args.folds} and {args.steps}")

    import tensorflow as tf

    from me_resnet.utils.io import write_json_atomic
    from me_resnet.utils.provenance import provenance

    load = [list(os.getloadavg())]
    run, folds, batch_size = engine_steps(args.method, args.folds)
    run(3)  # traces the step
    started = time.perf_counter()
    run(args.steps)
    wall = (time.perf_counter() - started) / args.steps
    with tempfile.TemporaryDirectory() as trace:
        tf.profiler.experimental.start(trace)
        run(args.steps)
        tf.profiler.experimental.stop()
        events = read_op_events(Path(trace)) + xla_events(Path(trace))
    load.append(list(os.getloadavg()))
    by_type, calls = collections.Counter(), collections.Counter()
    for _, op_type, seconds in events:
        by_type[op_type] += seconds / args.steps
        calls[op_type] += 1
    total = sum(by_type.values())
    by_kind = collections.Counter()
    for op_type, seconds in by_type.items():
        by_kind[kind_of(op_type)] += seconds
    document = {
        "setup": (
            f"one fold-parallel engine step of {args.method} ({folds} folds, shared batch {batch_size}) on "
            "synthetic MEGC 2019-shaped features, TensorFlow backend; op time summed over threads from "
            "TensorFlow's profiler, per step"
        ),
        "method": args.method,
        "folds": folds,
        "batch_size": batch_size,
        "steps": args.steps,
        "threads": tf.config.threading.get_intra_op_parallelism_threads() or os.cpu_count(),
        "wall_seconds_per_step": round(wall, 4),
        "op_seconds_per_step": round(total, 4),
        "by_kind": {
            kind: {"ms_per_step": round(seconds * 1e3, 1), "fraction_of_op_time": round(seconds / total, 3)}
            for kind, seconds in by_kind.most_common()
        },
        "by_op_type": {
            op_type: {
                "ms_per_step": round(seconds * 1e3, 1),
                "calls_per_step": calls[op_type] // args.steps,
                "kind": kind_of(op_type),
            }
            for op_type, seconds in by_type.most_common()
        },
        "load_average_before_after": load,
        "provenance": provenance(),
    }
    out = args.out or RESULTS_DIR / "bench" / f"engine_profile_{args.method}.json"
    write_json_atomic(out, document)
    for kind, row in document["by_kind"].items():
        print(f"{kind:45s} {row['ms_per_step']:8.1f} ms  {row['fraction_of_op_time']:.1%}")
    print(f"wall {wall:.3f} s per step; wrote {out}")
    return document


if __name__ == "__main__":
    main()
