"""Cost of the full reproduction on this machine, from one real-size LOSO fold (run by hand; slow).

    python benchmarks/loso_cost.py                  # CASME II size, paper profile (slow)
    python benchmarks/loso_cost.py --quick          # smoke run: tiny clips, 1-block model

One fold of synthetic arrays the size of CASME II at the paper profile (145
clips of (10,112,112,3) float16; one test subject of 6 clips, so 139 training
clips x 4 augmentation = 556 samples per epoch) goes through the real
``training.train_fold``. To keep the run short, an epoch is timed on
``--fraction`` of the training clips and scaled to the full epoch (steps are
equal-sized, so time is linear in steps); the 2D methods of Fig. 11
(``resnet50_image``/``resnet50_flow``, one (112,112,3) image per clip) are
timed the same way. The per-fold cost is then ``epochs x epoch seconds`` for
an assumed epochs-per-fold range, extrapolated to Table 5 (68 folds), Fig. 9
(7 frame counts x 68), Fig. 10 (7 scale factors x 68) and Fig. 11 (4 methods x
24 CASME II folds). Also records the input-pipeline wait (``pipeline.InputWaitTimer``)
and the peak resident memory. Writes ``results/bench/loso_cost.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from me_resnet.utils.quiet import prepare_environment  # noqa: E402

prepare_environment()  # the kit's TensorFlow settings (oneDNN on), as its commands set them, before TensorFlow loads

# isort: split
import keras  # noqa: E402
import numpy as np  # noqa: E402

from me_resnet.config import get_profile  # noqa: E402
from me_resnet.data.records import Features  # noqa: E402
from me_resnet.training.batches import InputWaitTimer  # noqa: E402
from me_resnet.training.fold import train_fold  # noqa: E402
from me_resnet.utils.io import write_json_atomic  # noqa: E402
from me_resnet.utils.paths import RESULTS_DIR  # noqa: E402
from me_resnet.utils.provenance import provenance  # noqa: E402

CASME2_CLIPS, CASME2_SUBJECTS, TEST_CLIPS = 145, 24, 6
FOLDS_TABLE5 = 24 + 16 + 28  # CASME II + SAMM + SMIC-HS subjects
EPOCHS_ASSUMED = (20, 40, 100)  # early stopping typically 20-40 of max 100 (patience 10); 100 = no early stop


class EpochTimer(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds = getattr(self, "seconds", []) + [time.perf_counter() - self.started]


def synthetic(n, shape, subjects, seed=0) -> Features:
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    return Features(
        X=rng.normal(size=(n,) + shape).astype(np.float16),
        y=y,
        subjects=np.array([f"s{k % subjects:02d}" for k in range(n)]),
        datasets=np.full(n, "casme2"),
        clips=np.array([f"c{i}" for i in range(n)]),
        channels=("u", "v", "strain"),
    )


def time_epoch(model_name, shape, config, fraction, seed=0) -> dict:
    """Seconds of one training epoch of ``model_name`` on CASME II-sized data (``fraction`` of it, scaled)."""
    train_clips = CASME2_CLIPS - TEST_CLIPS
    used = max(config.batch_size // 4 + 1, int(round(fraction * train_clips)))
    features = synthetic(used + TEST_CLIPS, shape, CASME2_SUBJECTS)
    train, test = features.subset(range(used)), features.subset(range(used, used + TEST_CLIPS))
    epoch, wait = EpochTimer(), InputWaitTimer()
    config = dataclasses.replace(config, model=model_name, epochs=2, early_stop_on="none")
    started = time.perf_counter()
    result = train_fold(train, None, test, config, callbacks=[epoch, wait])
    steps_used, steps_full = -(-4 * used // config.batch_size), -(-4 * train_clips // config.batch_size)
    steady = epoch.seconds[-1]  # the second epoch: no tracing / oneDNN primitive creation
    return {
        "model": model_name,
        "input_shape": list(shape),
        "training_clips_used": used,
        "steps_per_epoch_used": steps_used,
        "steps_per_epoch_full": steps_full,
        "epoch_seconds_measured": [round(s, 2) for s in epoch.seconds],
        "first_epoch_overhead_seconds": round(epoch.seconds[0] - steady, 2),
        "epoch_seconds_full": round(steady * steps_full / steps_used, 1),
        "fold_wall_seconds_measured": round(time.perf_counter() - started, 1),
        "input_pipeline": wait.summary(),
        "loss": result.history["loss"],
    }


def batch_build_seconds(shape, config) -> dict:
    """One full-size epoch of ``StandardisedBatches`` (CASME II training clips, 4x augmented, float16), no model."""
    from me_resnet.training.augment import augment_4x
    from me_resnet.training.batches import StandardisedBatches
    from me_resnet.training.fold import channel_stats

    train = synthetic(CASME2_CLIPS - TEST_CLIPS, shape, CASME2_SUBJECTS)
    X4, y4 = augment_4x(train.X, train.y, train.channels)
    mean, std = channel_stats(X4)
    batches = StandardisedBatches(X4, y4, mean, std, batch_size=config.batch_size, num_classes=3, seed=0)
    started = time.perf_counter()
    for index in range(len(batches)):
        batches[index]
    return {
        "batches": len(batches),
        "seconds": round(time.perf_counter() - started, 3),
        "augmented_clips_mb": round(X4.nbytes / 2**20, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def fold_seconds(epoch_seconds, overhead, epochs) -> float:
    return overhead + epochs * epoch_seconds


def reproduction_table(me_epoch, two_d_epoch, overhead) -> list[dict]:
    """CPU hours of each figure for each assumed epochs-per-fold."""
    rows = []
    jobs = (
        ("Table 5", FOLDS_TABLE5, me_epoch),
        ("Fig. 9 (7 frame counts)", 7 * FOLDS_TABLE5, me_epoch),
        ("Fig. 10 (7 scale factors)", 7 * FOLDS_TABLE5, me_epoch),
    )
    for epochs in EPOCHS_ASSUMED:
        row = {"epochs_per_fold": epochs}
        for name, folds, epoch in jobs:
            row[name] = round(folds * fold_seconds(epoch, overhead, epochs) / 3600, 1)
        # Fig. 11: resnet3d_flow (~ME-ResNet cost) and me_resnet, plus the two 2D methods, on 24 CASME II folds
        row["Fig. 11 (4 methods, CASME II)"] = round(
            24
            * (2 * fold_seconds(me_epoch, overhead, epochs) + 2 * fold_seconds(two_d_epoch, overhead, epochs))
            / 3600,
            1,
        )
        row["all"] = round(sum(v for k, v in row.items() if k != "epochs_per_fold"), 1)
        rows.append(row)
    return rows


def markdown(rows) -> str:
    keys = [k for k in rows[0] if k != "epochs_per_fold"]
    lines = ["| epochs per fold | " + " | ".join(keys) + " |", "|---" * (len(keys) + 1) + "|"]
    lines += [f"| {r['epochs_per_fold']} | " + " | ".join(f"{r[k]:,.1f} h" for k in keys) + " |" for r in rows]
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: (4,16,16,3) clips, 1-block stages, width 8")
    parser.add_argument("--fraction", type=float, default=0.25, help="fraction of the training clips timed per epoch")
    parser.add_argument("--precision", default="float32")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    config = dataclasses.replace(get_profile("paper"), precision=args.precision, feature_dtype="float16")
    clip, image = (10, 112, 112, 3), (112, 112, 3)
    if args.quick:
        config = dataclasses.replace(config, blocks=(1, 1, 1, 1), width=8, cbam_reduction=4, batch_size=8)
        clip, image = (4, 16, 16, 3), (16, 16, 3)
    out = args.out or RESULTS_DIR / "bench" / ("loso_cost_quick.json" if args.quick else "loso_cost.json")
    load_before = os.getloadavg()
    pipeline = batch_build_seconds(clip, config)  # full size: the memory and batch-building cost of a real fold
    print(json.dumps(pipeline), flush=True)
    me = time_epoch("me_resnet", clip, config, args.fraction)
    pipeline["fraction_of_epoch"] = round(pipeline["seconds"] / me["epoch_seconds_full"], 5)
    print(json.dumps(me), flush=True)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    two_d = time_epoch("resnet50_flow", image, config, args.fraction)
    print(json.dumps(two_d), flush=True)
    rows = reproduction_table(me["epoch_seconds_full"], two_d["epoch_seconds_full"], me["first_epoch_overhead_seconds"])
    feature_mb = CASME2_CLIPS * np.prod(clip) * 2 / 2**20
    document = {
        "profile": "quick" if args.quick else "paper",
        "precision": config.precision,
        "feature_dtype": config.feature_dtype,
        "batch_size": config.batch_size,
        "input_pipeline_full_epoch": pipeline,
        "me_resnet": me,
        "resnet50_2d": two_d,
        "fold_seconds_me_resnet": {
            e: round(fold_seconds(me["epoch_seconds_full"], me["first_epoch_overhead_seconds"], e))
            for e in EPOCHS_ASSUMED
        },
        "memory": {
            "peak_rss_mb_after_me_resnet_fold": round(peak_mb),
            "casme2_float16_features_mb": round(feature_mb, 1),
            "augmented_float16_training_clips_mb": round(
                4 * (CASME2_CLIPS - TEST_CLIPS) / CASME2_CLIPS * feature_mb, 1
            ),
            "note": "peak_rss_mb of input_pipeline_full_epoch = features + 4x augmented float16 copy (full size); "
            "peak_rss_mb_after_me_resnet_fold adds model, optimizer state and activations (fold on "
            "--fraction of the clips)",
        },
        "cpu_hours": rows,
        "assumptions": f"epochs per fold {EPOCHS_ASSUMED}: early stopping (patience 10, max 100) "
        "typically ends at 20-40; "
        "100 = no early stop. resnet3d_flow costed as ME-ResNet; resnet50_image as resnet50_flow. "
        "Fig. 9/10 costed at N = 11 (fewer frames are cheaper). No GPU conversion is claimed.",
        "load_average_before_after": [round(v, 2) for v in load_before] + [round(v, 2) for v in os.getloadavg()],
        "provenance": provenance(),
    }
    write_json_atomic(out, document)
    print(markdown(rows))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
