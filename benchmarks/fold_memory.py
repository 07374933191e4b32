"""Memory over many LOSO folds: in one process vs a fresh process per fold (why ``--executor process``).

    python benchmarks/fold_memory.py            # 8 demo-profile folds each way + keras.applications.ResNet50
    python benchmarks/fold_memory.py --folds 3  # shorter

Three measurements, resident memory (RSS) in MB after each step:
1. ``keras_resnet50``: plain Keras, no kit code: build ``keras.applications.ResNet50``
   (32x32 input), one ``train_on_batch``, ``del``, ``keras.backend.clear_session()``,
   ``gc.collect()``; repeated. Shows the growth is TensorFlow/Keras's.
2. ``in_process``: demo-profile ME-ResNet folds one after another in this process
   (``InProcessExecutor``, the in-process loop).
3. ``process_per_fold``: the same folds with ``ProcessExecutor``: the parent's
   RSS after each fold and each child's peak RSS.
Writes ``results/bench/fold_memory.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from me_resnet.utils.quiet import prepare_environment  # noqa: E402

prepare_environment()  # the kit's TensorFlow settings (oneDNN on), as its commands set them, before TensorFlow loads

import numpy as np  # noqa: E402

from me_resnet.config import get_profile  # noqa: E402
from me_resnet.data.records import Features  # noqa: E402
from me_resnet.evaluation.runner import LosoRun  # noqa: E402
from me_resnet.parallel.executors import InProcessExecutor, ProcessExecutor  # noqa: E402
from me_resnet.utils.io import write_json_atomic  # noqa: E402
from me_resnet.utils.paths import RESULTS_DIR  # noqa: E402
from me_resnet.utils.provenance import provenance  # noqa: E402


def rss_mb() -> float:
    """This process's resident set size now (Linux /proc), in MB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    raise RuntimeError("no VmRSS in /proc/self/status (Linux only)")


def synthetic_features(subjects: int, clips_per_subject: int = 3) -> Features:
    """Random demo-size clips (5 flow frames of 32x32x3), one LOSO fold per subject."""
    rng = np.random.default_rng(0)
    n = subjects * clips_per_subject
    return Features(
        X=rng.normal(size=(n, 5, 32, 32, 3)).astype("float32"),
        y=np.arange(n) % 3,
        subjects=np.repeat([f"s{i:02d}" for i in range(subjects)], clips_per_subject),
        datasets=np.full(n, "casme2"),
        clips=np.array([f"c{i}" for i in range(n)]),
        channels=("u", "v", "strain"),
    )


def keras_resnet50(repeats: int) -> list[float]:
    import keras

    x = np.random.default_rng(0).normal(size=(4, 32, 32, 3)).astype("float32")
    y = keras.utils.to_categorical(np.arange(4) % 3, 3)
    after = []
    for _ in range(repeats):
        model = keras.applications.ResNet50(weights=None, input_shape=(32, 32, 3), classes=3)
        model.compile(optimizer="adam", loss="categorical_crossentropy")
        model.train_on_batch(x, y)
        del model
        keras.backend.clear_session()
        gc.collect()
        after.append(rss_mb())
    return after


def folds(executor, features: Features, count: int) -> tuple[list[float], list[dict]]:
    """Parent RSS after each of ``count`` folds run one by one on ``executor``, and the folds' info."""
    config = dataclasses.replace(get_profile("demo"), epochs=2)
    run = LosoRun(features, "me_resnet", config, None)
    after, infos = [], []
    for job in run.jobs[:count]:
        ((_, info),) = executor.run([job], progress=False)
        after.append(rss_mb())
        infos.append(info)
    return after, infos


def growth(values: list[float]) -> float:
    """MB per step after the first (the first includes start-up)."""
    return round((values[-1] - values[0]) / max(1, len(values) - 1), 1)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=8)
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "bench" / "fold_memory.json")
    args = parser.parse_args(argv)
    if args.folds < 2:
        parser.error(f"--folds must be >= 2 to measure growth, got {args.folds}")
    started = time.perf_counter()
    features = synthetic_features(args.folds)
    # the per-fold children first, while this process holds no TensorFlow state of its own
    process_after, process_infos = folds(ProcessExecutor(), features, args.folds)
    in_process_after, _ = folds(InProcessExecutor(), features, args.folds)
    resnet_after = keras_resnet50(args.folds)
    document = {
        "keras_resnet50": {"rss_mb_after_each": resnet_after, "growth_mb_per_repeat": growth(resnet_after)},
        "in_process": {"rss_mb_after_each_fold": in_process_after, "growth_mb_per_fold": growth(in_process_after)},
        "process_per_fold": {
            "parent_rss_mb_after_each_fold": process_after,
            "parent_growth_mb_per_fold": growth(process_after),
            "child_peak_rss_mb": [info.get("peak_rss_mb") for info in process_infos],
            "child_pids": [info.get("pid") for info in process_infos],
        },
        "setup": f"{args.folds} folds, demo profile, 2 epochs, {len(features)} synthetic clips of (5,32,32,3)",
        "seconds": round(time.perf_counter() - started, 1),
        "provenance": provenance(),
    }
    write_json_atomic(args.out, document)
    print(json.dumps({k: v for k, v in document.items() if k != "provenance"}, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
