"""How far the spotter's apex lies from the annotated one, on clips whose onset and apex are known.

``spotting_errors(records, config)`` spots every clip and returns one row per
clip and condition:

- ``clip``: the clip's own frames (onset..offset, as the datasets store them);
- ``still_context``: the same frames with ``context`` still frames added before
  and after (copies of the first and last face crop with fresh noise of the
  clip's own noise level), so the onset has to be found too.

Errors are in frames. ``apex_source`` says where the true apex comes from: the
coding sheet, a repaired sheet entry (apex = middle frame) or SMIC's middle
frame (SMIC has no apex label); ``summarise`` reports the coding-sheet clips
apart from the rest.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from me_resnet.config import Config
from me_resnet.data.records import ClipRecord
from me_resnet.inference.predict import face_crops
from me_resnet.inference.spotting import spot
from me_resnet.inference.video import FrameSource

CONDITIONS = ("clip", "still_context")
CONTEXT_FRAMES = 30


def apex_source(record: ClipRecord) -> str:
    if record.dataset == "smic":
        return "smic_middle_frame"
    if any("apex" in problem for problem in record.problems):
        return "repaired"
    return "coding_sheet"


def with_still_context(crops: np.ndarray, frames: int, seed: int) -> np.ndarray:
    """``crops`` with ``frames`` still frames before and after (first/last crop + noise of the clip's level)."""
    rng = np.random.default_rng(seed)
    difference = crops[1].astype(np.float64) - crops[0].astype(np.float64)
    sigma = float(np.std(difference)) / np.sqrt(2.0)  # noise of one frame, from two nearly still ones

    def still(crop):
        noisy = crop[None].astype(np.float64) + rng.normal(0.0, sigma, (frames,) + crop.shape)
        return np.clip(noisy, 0, 255).round().astype(np.uint8)

    return np.concatenate([still(crops[0]), crops, still(crops[-1])])


def spotting_errors(
    records: Sequence[ClipRecord], config: Config, context: int = CONTEXT_FRAMES, seed: int = 0, **spot_options
) -> pd.DataFrame:
    """One row per clip and condition (module docstring); frames must exist on disk."""
    rows = []
    for index, record in enumerate(records):
        source = FrameSource(Path(record.frame_paths[0]).parent, "folder", record.frame_numbers, record.frame_paths)
        numbers, crops, _, found = face_crops(source, config, record.frame_numbers[0], record.frame_numbers[-1], False)
        true_onset, true_apex = numbers.index(record.onset), numbers.index(record.apex)
        for condition in CONDITIONS:
            shift = context if condition == "still_context" else 0
            frames = with_still_context(crops, context, seed + index) if shift else crops
            spotting = spot(frames, **spot_options)
            rows.append(
                {
                    "dataset": record.dataset,
                    "subject": record.subject,
                    "clip": record.clip,
                    "condition": condition,
                    "frames": len(frames),
                    "apex_source": apex_source(record),
                    "face_found": found,
                    "true_onset": true_onset + shift,
                    "true_apex": true_apex + shift,
                    "spotted_onset": spotting.onset,
                    "spotted_apex": spotting.apex,
                    "onset_error": abs(spotting.onset - true_onset - shift),
                    "apex_error": abs(spotting.apex - true_apex - shift),
                }
            )
    return pd.DataFrame(rows)


def summarise(errors: pd.DataFrame) -> pd.DataFrame:
    """Mean / median absolute apex and onset error per condition, apex source and dataset (and all datasets)."""
    rows = []
    for (condition, source), group in errors.groupby(["condition", "apex_source"], sort=False):
        for dataset, part in [*group.groupby("dataset", sort=False), ("all", group)]:
            rows.append(
                {
                    "condition": condition,
                    "apex_source": source,
                    "dataset": dataset,
                    "clips": len(part),
                    "apex_mae_frames": float(part["apex_error"].mean()),
                    "apex_median_frames": float(part["apex_error"].median()),
                    "apex_within_1_frame": float((part["apex_error"] <= 1).mean()),
                    "onset_mae_frames": float(part["onset_error"].mean()),
                }
            )
    return pd.DataFrame(rows)
