"""How fast the fold-parallel engine's dense layers can be on this CPU: per-fold batched matmuls (run by hand).

    python benchmarks/batched_matmul.py                  # OFF-ApexNet's fc1 and fc2, 22 folds, batch 32
    python benchmarks/batched_matmul.py --folds 22 --batch 32 --repeats 30

In the engine a dense layer is one batched matmul over the folds
(``einsum("...fi,fio->...fo")``): forward ``x_f @ W_f``, input gradient
``dy_f @ W_f^T`` and weight gradient ``x_f^T @ dy_f``, each a batch of
``folds`` small matmuls with ``batch`` rows. This times the three for
OFF-ApexNet's hidden layers (1568 -> 1024, 1024 -> 1024) side by side with
one large matmul of the same FLOPs (``(folds * batch) x in @ in x out``)
and the weight gradient written out other ways (einsum, explicit
transpose, under XLA), best of ``--repeats``. OFF-ApexNet's dense layers
hold 69 % of its forward FLOPs (``models.flops``: 5.31 of 7.67 MFLOP), so
their rate bounds the engine's "epochs over the FLOP limit" for it. Writes ``results/bench/batched_matmul.json``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from me_resnet.utils.quiet import prepare_environment  # noqa: E402

prepare_environment()  # the kit's TensorFlow settings (oneDNN on), as its commands set them, before TensorFlow loads

from me_resnet.utils.paths import RESULTS_DIR  # noqa: E402

LAYERS = {"fc1": (1568, 1024), "fc2": (1024, 1024)}  # OFF-ApexNet at 28x28: in -> out


def best_seconds(function, arguments, repeats: int) -> float:
    function(*arguments).numpy()  # trace and warm up
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        function(*arguments).numpy()
        best = min(best, time.perf_counter() - started)
    return best


def measure(folds: int, batch: int, inputs: int, outputs: int, repeats: int) -> dict:
    import tensorflow as tf

    x = tf.random.normal((folds, batch, inputs))
    w = tf.random.normal((folds, inputs, outputs))
    dy = tf.random.normal((folds, batch, outputs))
    flat_x, flat_w = tf.random.normal((folds * batch, inputs)), tf.random.normal((inputs, outputs))
    kernels = {
        "forward x @ W": (tf.function(lambda x, w: tf.matmul(x, w)), (x, w)),
        "input gradient dy @ W^T": (tf.function(lambda dy, w: tf.matmul(dy, w, transpose_b=True)), (dy, w)),
        "weight gradient x^T @ dy": (tf.function(lambda x, dy: tf.matmul(x, dy, transpose_a=True)), (x, dy)),
        "weight gradient as einsum": (tf.function(lambda x, dy: tf.einsum("fbi,fbo->fio", x, dy)), (x, dy)),
        "weight gradient, explicit transpose": (
            tf.function(lambda x, dy: tf.matmul(tf.transpose(x, [0, 2, 1]), dy)),
            (x, dy),
        ),
        "weight gradient under XLA": (
            tf.function(lambda x, dy: tf.einsum("fbi,fbo->fio", x, dy), jit_compile=True),
            (x, dy),
        ),
        "one large matmul, same FLOPs": (tf.function(lambda a, b: tf.matmul(a, b)), (flat_x, flat_w)),
    }
    flops = 2 * folds * batch * inputs * outputs
    rates = {}
    for name, (function, arguments) in kernels.items():
        seconds = best_seconds(function, arguments, repeats)
        rates[name] = {"milliseconds": round(seconds * 1e3, 2), "gflops_per_second": round(flops / seconds / 1e9, 1)}
    return {"gflop": round(flops / 1e9, 3), "kernels": rates}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=22, help="folds per engine pass (OFF-ApexNet: 22)")
    parser.add_argument("--batch", type=int, default=32, help="rows per step (OFF-ApexNet: 32)")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "bench" / "batched_matmul.json")
    args = parser.parse_args(argv)
    for name in ("folds", "batch", "repeats"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be >= 1, got {getattr(args, name)}")

    from me_resnet.utils.io import write_json_atomic
    from me_resnet.utils.provenance import provenance

    load = [list(os.getloadavg())]
    layers = {}
    for layer, (inputs, outputs) in LAYERS.items():
        layers[layer] = {"shape": [inputs, outputs], **measure(args.folds, args.batch, inputs, outputs, args.repeats)}
        for name, rate in layers[layer]["kernels"].items():
            print(f"{layer} {name}: {rate['milliseconds']} ms, {rate['gflops_per_second']} GFLOP/s", flush=True)
    load.append(list(os.getloadavg()))
    document = {
        "setup": (
            f"{args.folds} folds x batch {args.batch}: the engine's batched dense-layer matmuls for OFF-ApexNet's "
            "hidden layers, TensorFlow on all cores, best of --repeats, side by side with one large matmul of the "
            "same FLOPs"
        ),
        "folds": args.folds,
        "batch": args.batch,
        "repeats": args.repeats,
        "layers": layers,
        "load_average_before_after": load,
        "provenance": provenance(),
    }
    write_json_atomic(args.out, document)
    print(f"wrote {args.out}")
    return document


if __name__ == "__main__":
    main()
