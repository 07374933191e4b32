"""How real a dataset looks to the kit's pre-processing: flow statistics and the probe, against real CASME II.

``measure(records, ...)`` runs the kit's own pipeline on the clips (loader
records -> MTCNN crop with eye alignment -> N = 11 key frames onset -> apex at
112 x 112 grey -> Farneback with the paper's parameters, through the feature
cache) and summarises ``flow_stats.clip_statistics`` over clips (median, 10th
and 90th percentiles) beside the probe's LOSO UF1 (``flow_probe``).

``REAL_CASME2`` holds the same numbers measured by the kit on 138 real
CASME II clips (the CASME II part of the MEGC 2019 list with frames: negative
83, positive 32, surprise 23; 24 subjects; the "Cropped" registered JPEG
frames). Those frames are licensed and are not distributed with the kit: the
numbers are kept as data to calibrate the synthetic demo against
(``docs/demo_data.md``). ``check_targets`` says whether a measurement is close
enough to them.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Sequence

import numpy as np

from me_resnet.config import FARNEBACK_FIELDS, PAPER, Config
from me_resnet.data.records import ClipRecord
from me_resnet.evaluation import flow_probe
from me_resnet.preprocessing import flow_stats

REAL_CASME2 = {
    "source": "measured by the kit on 138 licensed real CASME II clips (MEGC 2019 list, Cropped frames; "
    "not distributed), same pipeline and definitions",
    "clips": 138,
    "subjects": 24,
    "statistics": {
        "flow_mean": {"median": 0.099, "p10": 0.069, "p90": 0.158},
        "top10": {"median": 0.31, "p10": 0.25, "p90": 0.52},
        "drift": {"median": 0.031, "p10": 0.015, "p90": 0.095},
        "kept": {"median": 0.44, "p10": 0.36, "p90": 0.73},
        "speckle": {"median": 0.33, "p10": 0.06, "p90": 0.42},
        "removed": {"median": 0.50, "p10": 0.26, "p90": 0.60},
    },
    "probe_uf1": 0.79,
}
CLOSE_STATISTICS = ("top10", "speckle", "drift")  # medians that must also be close to the real ones
CLOSE_TOLERANCE = 0.25  # relative
PROBE_BAND = (0.6, 0.9)  # learnable, not trivially: real CASME II gives 0.79
PIPELINE_FIELDS = (
    "num_frames",
    "image_size",
    "face_detector",
    "face_margin",
    "face_align",
    "flow_method",
    *FARNEBACK_FIELDS,
)


def pipeline_config(base: Config = PAPER) -> Config:
    """The pipeline the reference numbers were measured with (N = 11, 112 px, MTCNN + alignment, Farneback)."""
    return dataclasses.replace(
        base,
        num_frames=11,
        image_size=112,
        face_detector="mtcnn",
        face_margin=0.10,
        face_align=True,
        flow_method="farneback",
        flow_mode="vanilla",
        normalise="none",
    )


def measure(
    records: Sequence[ClipRecord],
    config: Config | None = None,
    cache_dir: str | os.PathLike | None = None,
    workers: int = 1,
) -> dict:
    """Per-clip statistics, their summaries over clips and the probe's LOSO UF1 for ``records``."""
    config = config or pipeline_config()
    records = list(records)
    entries = flow_stats.cached_flows(records, config, cache_dir, workers)
    per_clip = [flow_stats.clip_statistics(e["flows"], e["grey_diffs"]) for e in entries]
    X = np.stack([flow_stats.probe_features(e["flows"]) for e in entries])
    y = np.array([r.label for r in records])
    subjects = np.array([r.subject for r in records])
    return {
        "clips": len(records),
        "subjects": int(len(set(subjects.tolist()))),
        "statistics": {name: flow_stats.summary([s[name] for s in per_clip]) for name in flow_stats.STATISTICS},
        "probe_uf1": flow_probe.loso_uf1(X, y, subjects),
        "per_clip": [{"clip": r.key, "label": r.label} | s for r, s in zip(records, per_clip)],
    }


def check_targets(measured: dict, reference: dict = REAL_CASME2) -> dict:
    """Per target: the demo value, what it is held to and whether it is met; ``all_met`` over all."""
    targets = {}
    for name in flow_stats.STATISTICS:
        real = reference["statistics"][name]
        median = measured["statistics"][name]["median"]
        target = {"demo_median": median, "real_band": [real["p10"], real["p90"]]}
        met = real["p10"] <= median <= real["p90"]
        if name in CLOSE_STATISTICS:
            target["real_median"] = real["median"]
            target["relative_difference"] = median / real["median"] - 1.0
            met = met and abs(target["relative_difference"]) <= CLOSE_TOLERANCE
        targets[name] = target | {"met": bool(met)}
    uf1 = measured["probe_uf1"]
    targets["probe_uf1"] = {"demo": uf1, "band": list(PROBE_BAND), "met": bool(PROBE_BAND[0] <= uf1 <= PROBE_BAND[1])}
    targets["all_met"] = all(target["met"] for target in targets.values())
    return targets
