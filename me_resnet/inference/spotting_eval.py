"""How well the spotter finds a micro-expression, on clips whose true onset, apex and offset are known.

``demo_spotting_errors(demo_root, records, config)`` spots every demo clip in
two conditions and scores it against the generator's ground truth
(``me_resnet.data.demo_truth``: the true onset/apex/offset, not the coding
sheet's where a sheet quirk makes them differ):

- ``clip``: the clip's own frames as the datasets store them (onset..offset,
  read from disk and cropped as ``me-resnet predict`` does);
- ``context``: the same expression (the clip's drawn action units, amplitude,
  timing, head motion and camera, re-rendered with
  ``me_resnet.data.demo_motion.render_stretch``) placed at a random position
  inside ``context_seconds`` of video around it: still stretches with the
  subject's sensor noise, flicker, head drift, tremor and JPEG compression,
  and distractors from the demo's own model (``demo_sampling.distractors``:
  blinks, quick head moves), at least one per window;
- ``no_expression``: the same window with the face at rest where the
  expression was: whether the spotter says that no episode stands out.

``spotting_errors(records, config)`` does the ``clip`` condition on real
clips, against their coding sheets (``apex_source`` says where the apex comes
from), with ``still_context``: noisy copies of the end frames around them.

Each row holds the spotted and true frames (indices into the window), the
apex error in frames, the baselines' apex errors (``middle_clip``: the middle
frame of the true onset..offset; ``middle_window``: the middle of the window
searched) and the interval's IoU with the true onset..offset. ``summarise``
reports per condition the mean / median apex error, the share within one
frame and at the window's last frame, the baselines' errors, the share of
windows where an episode stands out and the apex error and middle-of-clip
error over those (``_standing_out``: where the spotter says it found
something, NaN where it never does), and the MEGC
spotting measure: a spotted interval is a true positive when its IoU with the
true interval is at least ``IOU_HIT``; precision, recall and F1 over clips
(a spotting where no episode stands out gives no interval).
"""

from __future__ import annotations

import dataclasses
import zlib
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from me_resnet.config import Config
from me_resnet.data.records import ClipRecord
from me_resnet.inference.predict import crop_with_first_box, face_crops
from me_resnet.inference.spotting import spot
from me_resnet.inference.video import FrameSource
from me_resnet.preprocessing.face import CropEyes

FRAME_RATES = {"casme2": 200.0, "samm": 200.0, "smic": 100.0}
CONTEXT_SECONDS = 1.2  # video around the expression in the context condition, before and after together
STILL_CONTEXT_FRAMES = 30  # frames added on each side of a real clip
IOU_HIT = 0.5
MAX_DISTRACTOR_DRAWS = 50


def interval_iou(spotted: tuple[int, int], true: tuple[int, int]) -> float:
    """IoU of two inclusive frame intervals ``(first, last)``."""
    overlap = min(spotted[1], true[1]) - max(spotted[0], true[0]) + 1
    union = max(spotted[1], true[1]) - min(spotted[0], true[0]) + 1
    return max(overlap, 0) / union


def megc_scores(ious: Sequence[float | None]) -> dict:
    """MEGC spotting counts over clips with one true interval each; ``None``: no interval spotted.

    A spotted interval with IoU >= ``IOU_HIT`` is a true positive, any other a
    false positive; a true interval without a hit is a false negative.
    """
    spotted = [iou for iou in ious if iou is not None]
    hits = sum(iou >= IOU_HIT for iou in spotted)
    false_positives = len(spotted) - hits
    misses = len(ious) - hits
    precision = hits / len(spotted) if spotted else 0.0
    recall = hits / len(ious) if len(ious) else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"tp": hits, "fp": false_positives, "fn": misses, "precision": precision, "recall": recall, "f1": f1}


def score_window(crops: np.ndarray, onset: int, apex: int, offset: int, fps: float, **spot_options) -> dict:
    """Spot ``crops`` and compare with the true ``onset``/``apex``/``offset`` (indices into ``crops``)."""
    spotting = spot(crops, fps=fps, **spot_options)
    middle_clip = (onset + offset) // 2
    middle_window = (len(crops) - 1) // 2
    iou = interval_iou((spotting.onset, spotting.offset), (onset, offset))
    return {
        "frames": len(crops),
        "fps": fps,
        "true_onset": onset,
        "true_apex": apex,
        "true_offset": offset,
        "spotted_onset": spotting.onset,
        "spotted_apex": spotting.apex,
        "spotted_offset": spotting.offset,
        "confidence": round(spotting.confidence, 3),
        "stands_out": spotting.stands_out,
        "apex_error": abs(spotting.apex - apex),
        "onset_error": abs(spotting.onset - onset),
        "offset_error": abs(spotting.offset - offset),
        "apex_at_last_frame": spotting.apex == len(crops) - 1,
        "iou": round(iou, 4),
        "middle_clip_error": abs(middle_clip - apex),
        "middle_window_error": abs(middle_window - apex),
    }


def _clip_crops(record: ClipRecord, config: Config) -> tuple[tuple[int, ...], np.ndarray, bool, CropEyes | None]:
    source = FrameSource(Path(record.frame_paths[0]).parent, "folder", record.frame_numbers, record.frame_paths)
    first, last = record.frame_numbers[0], record.frame_numbers[-1]
    numbers, crops, _, found, eyes = face_crops(source, config, first, last, False)
    return numbers, crops, found, eyes


def context_window(
    record: ClipRecord,
    truth,
    seed: int,
    context_seconds: float = CONTEXT_SECONDS,
    expression_shown: bool = True,
    draw: int = 0,
):
    """``(rgb_frames, onset, apex, offset, events)``: the clip's expression inside still and distractor video.

    The split of the context before/after the expression and the distractors
    come from a stream of their own (``seed``, the clip's name and, past the
    first, the ``draw``: another window around the same expression). Without
    ``expression_shown`` the same window is rendered with the face at rest
    where the expression was (the same head, camera and distractors).
    """
    from me_resnet.data import demo, demo_motion, demo_sampling

    (portrait, marks, style), draws = demo.clip_draws(record.dataset, record.subject, record.clip, truth.label, seed)
    expression, head, events = draws.expression, draws.head, draws.events
    length = truth.offset - truth.onset + 1
    drawn = (expression.end + 1, expression.apex, expression.coding())
    if drawn != (length, truth.apex - truth.onset, truth.action_units):
        raise ValueError(
            f"demo clip {record.dataset}/{record.subject}/{record.clip}: the generator's draws give "
            f"{expression.end + 1} frames, apex index {expression.apex}, units {expression.coding()!r}, its ground "
            f"truth {length}, {truth.apex - truth.onset}, {truth.action_units!r}: regenerate the demo data"
        )
    stream = [seed, zlib.crc32(f"context/{record.dataset}/{record.subject}/{record.clip}".encode())]
    rng = np.random.default_rng(stream + ([draw] if draw else []))
    fps = FRAME_RATES[record.dataset]
    total_context = int(round(context_seconds * fps))
    before = int(rng.integers(total_context // 4, 3 * total_context // 4 + 1))
    after = total_context - before
    shifted = [dataclasses.replace(e, start=e.start + before, end=e.end + before) for e in events]
    added = []
    for _ in range(MAX_DISTRACTOR_DRAWS):  # every window holds at least one distractor of the demo's own model
        for first, frames in ((0, before), (before + length, after)):
            added += [
                dataclasses.replace(e, start=e.start + first, end=e.end + first)
                for e in demo_sampling.distractors(rng, frames, marks.interocular)
            ]
        if added:
            break
    expression = dataclasses.replace(
        expression, start=before, apex=before + expression.apex, end=before + expression.end
    )
    rendering = demo_motion.render_stretch(
        portrait,
        marks,
        before + length + after,
        rng,
        style.camera,
        head,
        expression if expression_shown else None,
        shifted + added,
    )
    quality = style.camera.jpeg_quality
    frames = []
    for frame in rendering.frames:  # stored and read back as the clip's own frames are
        if quality is not None:
            data = demo_motion.encode_frame(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), ".jpg", quality)
            frame = cv2.cvtColor(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        frames.append(frame)
    kinds = [(e.kind, e.start, e.end) for e in shifted + added]
    return frames, before, expression.apex, before + length - 1, kinds


def crop_frames(frames: Sequence[np.ndarray], config: Config) -> tuple[np.ndarray, bool, CropEyes | None]:
    """``(crops, face_found, eyes)``: grey ``SPOT_SIZE`` crops of RGB frames with the face box of the first one
    and its eye landmarks in crop fractions (as ``predict.face_crops``)."""
    _, crops, _, found, eyes = crop_with_first_box(enumerate(frames), config)
    return np.stack(crops), bool(found), eyes


def demo_spotting_errors(
    demo_root: str | Path,
    records: Sequence[ClipRecord],
    config: Config,
    seed: int = 0,
    context_seconds: float = CONTEXT_SECONDS,
    draws: int = 1,
    progress: bool = False,
    **spot_options,
) -> pd.DataFrame:
    """One row per demo clip and condition (module docstring), and per draw of the context windows: ``draws``
    windows around each expression (``context_window``'s ``draw``; the ``draw`` column, 0 for the clip's own
    frames); ``seed`` is the demo data's."""
    from me_resnet.data.demo_truth import truth_for_record

    if draws < 1:
        raise ValueError(f"draws must be at least 1, got {draws!r}")
    rows = []
    for record in tqdm(records, desc="spotting demo clips", unit="clip", disable=not progress):
        truth = truth_for_record(demo_root, record)
        fps = FRAME_RATES[record.dataset]
        numbers, crops, found, eyes = _clip_crops(record, config)
        base = {
            "dataset": record.dataset,
            "subject": record.subject,
            "clip": record.clip,
            "action_units": truth.action_units,
            "ambiguous": truth.ambiguous,
            "sheet_apex_differs": record.apex != truth.apex,
        }
        indices = [numbers.index(n) for n in (truth.onset, truth.apex, truth.offset)]
        clip = score_window(crops, *indices, fps, eyes=eyes, **spot_options)
        rows.append(
            base | {"condition": "clip", "draw": 0, "face_found": found, "distractors": len(truth.events)} | clip
        )
        for draw in range(draws):
            frames, onset, apex, offset, events = context_window(record, truth, seed, context_seconds, draw=draw)
            context_crops, found, eyes = crop_frames(frames, config)
            context = score_window(context_crops, onset, apex, offset, fps, eyes=eyes, **spot_options)
            where = {"draw": draw, "face_found": found, "distractors": len(events)}
            rows.append(base | {"condition": "context"} | where | context)
            frames, *_ = context_window(record, truth, seed, context_seconds, expression_shown=False, draw=draw)
            rest_crops, found, eyes = crop_frames(frames, config)
            rest = spot(rest_crops, fps=fps, eyes=eyes, **spot_options)
            rows.append(
                base
                | {"condition": "no_expression"}
                | where
                | {"face_found": found, "frames": len(frames), "confidence": round(rest.confidence, 3)}
                | {"stands_out": rest.stands_out, "spotted_apex": rest.apex}
            )
    return pd.DataFrame(rows)


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
    records: Sequence[ClipRecord], config: Config, context: int = STILL_CONTEXT_FRAMES, seed: int = 0, **spot_options
) -> pd.DataFrame:
    """Real clips against their coding sheets: ``clip`` and ``still_context`` rows (module docstring)."""
    rows = []
    for index, record in enumerate(records):
        numbers, crops, found, eyes = _clip_crops(record, config)
        fps = FRAME_RATES.get(record.dataset, 200.0)
        true = [numbers.index(n) for n in (record.onset, record.apex)] + [len(numbers) - 1]
        base = {"dataset": record.dataset, "subject": record.subject, "clip": record.clip}
        base |= {"apex_source": apex_source(record), "face_found": found}
        rows.append(base | {"condition": "clip"} | score_window(crops, *true, fps, eyes=eyes, **spot_options))
        padded = with_still_context(crops, context, seed + index)
        shifted = [value + context for value in true]
        still = score_window(padded, *shifted, fps, eyes=eyes, **spot_options)
        rows.append(base | {"condition": "still_context"} | still)
    return pd.DataFrame(rows)


def summarise(errors: pd.DataFrame, by: Sequence[str] = ("condition",)) -> pd.DataFrame:
    """Per group of ``by`` (and per dataset within it, and all datasets): apex errors, baselines, MEGC scores.

    Groups without an expression (``no_expression``) report only how often an
    episode stood out (false alarms) and the median confidence.
    """
    rows = []
    for key, group in errors.groupby(list(by), sort=False):
        key = key if isinstance(key, tuple) else (key,)
        for dataset, part in [*group.groupby("dataset", sort=False), ("all", group)]:
            if "apex_error" not in part or part["apex_error"].isna().all():  # windows without an expression
                rows.append(
                    dict(zip(by, key))
                    | {"dataset": dataset, "clips": len(part), "stands_out": float(part["stands_out"].mean())}
                    | {"confidence_median": float(part["confidence"].median())}
                )
                continue
            ious = [iou if out else None for iou, out in zip(part["iou"], part["stands_out"])]
            rows.append(
                dict(zip(by, key))
                | {
                    "dataset": dataset,
                    "clips": len(part),
                    "apex_mean_error": float(part["apex_error"].mean()),
                    "apex_median_error": float(part["apex_error"].median()),
                    "apex_within_1_frame": float((part["apex_error"] <= 1).mean()),
                    "apex_at_last_frame": float(part["apex_at_last_frame"].mean()),
                    "middle_clip_mean_error": float(part["middle_clip_error"].mean()),
                    "middle_clip_within_1_frame": float((part["middle_clip_error"] <= 1).mean()),
                    "middle_window_mean_error": float(part["middle_window_error"].mean()),
                    "onset_mean_error": float(part["onset_error"].mean()),
                    "offset_mean_error": float(part["offset_error"].mean()),
                    "stands_out": float(part["stands_out"].mean()),
                    "apex_mean_error_standing_out": float(part["apex_error"][part["stands_out"]].mean()),
                    "middle_clip_mean_error_standing_out": float(part["middle_clip_error"][part["stands_out"]].mean()),
                    "confidence_median": float(part["confidence"].median()),
                }
                | {f"megc_{name}": value for name, value in megc_scores(ious).items()}
            )
    return pd.DataFrame(rows)
