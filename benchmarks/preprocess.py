"""Pre-processing throughput on the demo datasets at the paper's settings (N = 11, 112x112, MTCNN).

    python benchmarks/preprocess.py [--workers 2] [--out results/bench/preprocess.json]

Cold = empty feature cache (decode + face detection + Farneback + mask/strain/
normalisation, worker start-up included); warm = the same call again (cache
loads + mask/strain/normalisation). Stage times are summed over worker
processes (CPU seconds per clip), so they add up to more than the wall time
when workers > 1. Targets (2 cores): >= 8 clips/s cold, >= 200 clips/s warm,
mask+strain+normalisation <= 20 % of Farneback time.
"""

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from me_resnet.utils.quiet import prepare_environment  # noqa: E402

prepare_environment()  # the kit's TensorFlow settings (oneDNN on), as its commands set them, before TensorFlow loads
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from me_resnet.config import PAPER  # noqa: E402
from me_resnet.data.demo import ensure_demo_data  # noqa: E402
from me_resnet.data.loading import load_casme2, load_samm, load_smic  # noqa: E402
from me_resnet.preprocessing.features import extract_features  # noqa: E402
from me_resnet.utils import provenance  # noqa: E402
from me_resnet.utils.io import write_json_atomic  # noqa: E402
from me_resnet.utils.paths import RESULTS_DIR  # noqa: E402

TARGETS = {"cold_clips_per_s": 8.0, "warm_clips_per_s": 200.0, "post_over_farneback": 0.20}


def timed_extract(records, config, cache, workers):
    start = time.perf_counter()
    features = extract_features(records, config, "sequence", cache_dir=cache, workers=workers, progress=False)
    return time.perf_counter() - start, features


def summarise(seconds, features, clips):
    timings = features.info["timings"]
    return {
        "seconds": round(seconds, 3),
        "clips_per_s": round(clips / seconds, 2),
        "seconds_per_clip": {part: round(value / clips, 5) for part, value in timings.items()},
        "face_detections_per_clip": features.info["face_detections"] / clips,
        "cache_hits": features.info["cache_hits"],
        "cache_misses": features.info["cache_misses"],
        "face_fallbacks": len(features.info["face_fallbacks"]),
        "detector_init_seconds": round(features.info["detector_init_seconds"], 3),
        "clips_per_s_without_detector_init": round(clips / (seconds - features.info["detector_init_seconds"]), 2),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "bench" / "preprocess.json")
    args = parser.parse_args(argv)
    root = ensure_demo_data()
    records = [
        r
        for loader, name in ((load_casme2, "casme2"), (load_samm, "samm"), (load_smic, "smic"))
        for r in loader(root / name).records
    ]
    config = PAPER  # N = 11, 112x112, MTCNN, improved Farneback, strain, per-clip z-score
    with tempfile.TemporaryDirectory(prefix="me_resnet_bench_") as cache:
        cold = summarise(*timed_extract(records, config, cache, args.workers), len(records))
        warm = summarise(*timed_extract(records, config, cache, args.workers), len(records))
    cold_split = cold["seconds_per_clip"]
    ratio = (cold_split["post"] + warm["seconds_per_clip"]["post"]) / 2 / cold_split["farneback"]
    result = {
        "clips": len(records),
        "workers": args.workers,
        "settings": {
            "num_frames": config.num_frames,
            "image_size": config.image_size,
            "face_detector": config.face_detector,
        },
        "cold": cold,
        "warm": warm,
        "post_over_farneback": round(ratio, 3),
        "targets": TARGETS,
        "targets_met": {
            "cold_clips_per_s": cold["clips_per_s"] >= TARGETS["cold_clips_per_s"],
            "warm_clips_per_s": warm["clips_per_s"] >= TARGETS["warm_clips_per_s"],
            "post_over_farneback": ratio <= TARGETS["post_over_farneback"],
        },
        "load_average_1_5_15min": [round(v, 2) for v in os.getloadavg()],  # other jobs on the shared cores
        "provenance": provenance.provenance(),
    }
    write_json_atomic(args.out, result)
    print(
        json.dumps(
            {k: result[k] for k in ("clips", "workers", "cold", "warm", "post_over_farneback", "targets_met")}, indent=2
        )
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
