"""Onset, apex and offset of a micro-expression in an unannotated clip, and how clearly it stands out.

A micro-expression is small (a pixel or two on a face crop), local (brows,
mouth corners, nose), smooth in time and brief: from rest to its apex in
roughly 0.1-0.35 s and back within about half a second. What else moves in a
recording is sensor and compression noise (white in time), blinks (the eyes,
large and fast) and the head (the whole face at once, drifting or moving
quickly). ``spot`` scores each frame by how far the face regions outside the
eyes have moved away from where they were shortly before *and* shortly after,
once the head's motion is taken out:

1. Crops are resized to ``SPOT_SIZE``, blurred (sigma 1 px) and divided by
   their mean grey level, so brightness flicker does not count as motion.
2. Every frame's displacement from a reference (the mean of a few crops,
   ``REFERENCE_SECONDS``; a new one every ``anchor_seconds``, chained) is
   Farneback flow; the head's part of it, an
   affine fit to the field (robust: re-weighted so that a local motion does
   not pull it), is subtracted.
3. The residual field is averaged over the cells of a ``GRID`` x ``GRID``
   grid inside the face (``FACE_ELLIPSE``); cells over the eyes (placed on
   the face crop's eye landmarks, ``eyes``, or where the kit's crop usually
   puts them) are left out unless ``include_eyes``. Each cell's
   position c(t) is smoothed in time (Gaussian, ``smoothing_seconds``).
4. A cell scores sqrt(max(0, (c(t) - c(t-k)) . (c(t) - c(t+k)))): large only
   when the cell has moved away from both the frame k before and the frame k
   after in the same direction. A steady drift (the two differences point in
   opposite directions), a lasting change (one difference is zero) and the
   rising and falling flanks of a movement score 0. k runs over
   ``flank_seconds``; frames past the window's ends count as its first or last
   frame, so on an annotated clip (onset..offset) the flanks are its rest
   frames. Near the eyes a cell counts only where it moves more than the
   eyes do at the same time (``EYE_GUARD``): a blink drags the skin around
   the lids along with a fraction of their motion, a brow movement moves the
   brows more than the lids. The frame's score S(t) is the mean of its
   ``TOP_CELLS`` best cells less its median cell's, the largest over k: an
   expression moves a few regions, whereas what moves the whole face at once
   (the skin's tremor, what the head's affine fit leaves over) raises every
   cell, the median with them.
5. The episode: the frame of highest S; every scored cell's displacement
   from the rest frames (its flanks), projected on the cells' displacement
   at that frame (``profile``: a matched filter, the cells that moved most
   count most and one cell's tremor averages out over the others); onset
   and offset are where it falls to ``EDGE_LEVEL`` of its largest value (or
   the window ends), the apex where it is largest between them, on
   positions smoothed less (``LOCATE_SMOOTHING``) so that an uneven rise and
   fall does not pull it.
6. Confidence: how far the peak of S lies above the curve outside the episode
   (its median), in units of its robust spread there (1.4826 x the median
   absolute deviation), the spread being at least what white noise on the
   cell positions alone would give; on a clip the episode fills, the peak
   over the curve's 10th percentile in units of that noise. Below
   ``min_confidence``, or when the episode lasts longer than
   ``MAX_EPISODE_SECONDS`` (a micro-expression is over within 0.5 s), no
   episode stands out: the result says so (``stands_out`` False,
   ``message``), and its frames are the strongest candidate's, not a
   detection.

Steps 1-3 (regions, head motion, cell positions) live in
``me_resnet.inference.spotting_motion``. The functions take arrays;
``me_resnet.inference.video`` reads the frames and
``me_resnet.inference.predict.spot_clip`` crops them. docs/predict.md says
what to expect on real recordings.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from me_resnet.inference.spotting_motion import (
    GRID,
    SPOT_SIZE,
    Point,
    Regions,
    cell_positions,
    prepare_crops,
    regions,
    remove_head_motion,
    smooth_in_time,
)

__all__ = [
    "DEFAULT_FPS",
    "GRID",
    "MAX_EPISODE_SECONDS",
    "MIN_CONFIDENCE",
    "SPOT_SIZE",
    "Regions",
    "Spotting",
    "flank_scores",
    "regions",
    "remove_head_motion",
    "smooth_in_time",
    "spot",
]

DEFAULT_FPS = 200.0  # CASME II and SAMM; SMIC-HS is 100
TOP_CELLS = 3  # an expression moves a few regions (a brow pair, a mouth corner)
LOCATE_SMOOTHING = 0.2  # the apex is located on positions smoothed this much less (step 5)
REFERENCE_SECONDS = 0.025  # crops averaged into each reference frame
EDGE_LEVEL = 0.2  # onset/offset: where the displacement falls to this share of the apex's
# A blink drags the cells around the eyes along with a fraction of the lids' motion; an expression of the
# brows moves them more than the eyes: near the eyes a cell counts in full when it moves at least EYE_GUARD[1]
# times as much as the eyes at the same time, not at all below EYE_GUARD[0] times.
EYE_GUARD = (0.6, 0.9)
NOISE_FLOOR_PX = 0.002  # smallest robust spread of the score curve (px), so a still clip does not divide by 0
MIN_CONFIDENCE = 6.0  # peak above the median, in robust spreads, for an episode to stand out
# A micro-expression is over within 0.5 s (the datasets' definition); a longer episode, with margin for the
# onset/offset edges, is a slow change of the face (a macro-expression, posture, drift), not one.
MAX_EPISODE_SECONDS = 1.0


@dataclass(frozen=True)
class Spotting:
    """Result of ``spot``: indices into the frames searched (0 = first frame of the window).

    ``score`` is S(t) (module docstring, step 4; px), ``profile`` the cells'
    displacement from the rest frames projected on their displacement at the
    peak (px; step 5), ``threshold`` the score a peak needs to stand out (step
    6). ``onset``/``apex``/``offset`` are always the strongest candidate's;
    ``stands_out`` says whether it is more than noise; ``cells`` are the
    peak's best cells (row, column of the ``GRID``).
    """

    onset: int
    apex: int
    offset: int
    confidence: float
    stands_out: bool
    message: str
    score: np.ndarray
    profile: np.ndarray
    threshold: float
    cells: tuple[tuple[int, int], ...]
    settings: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "onset_index": self.onset,
            "apex_index": self.apex,
            "offset_index": self.offset,
            "confidence": round(float(self.confidence), 3),
            "stands_out": self.stands_out,
            "message": self.message,
            "threshold": round(float(self.threshold), 6),
            "apex_cells": [list(cell) for cell in self.cells],
            "settings": dict(self.settings),
            "score": [round(float(v), 6) for v in self.score],
        }


def flank_scores(positions: np.ndarray, cells: np.ndarray, flank: int) -> np.ndarray:
    """(T, cells) per-cell score of step 4 for one flank distance ``flank`` (frames)."""
    track = positions[:, cells]  # (T, n, 2)
    index = np.arange(len(track))
    before = track[np.clip(index - flank, 0, len(track) - 1)]
    after = track[np.clip(index + flank, 0, len(track) - 1)]
    agreement = np.sum((track - before) * (track - after), axis=-1)
    return np.sqrt(np.maximum(agreement, 0.0))


def _edges(profile: np.ndarray, apex: int) -> tuple[int, int]:
    level = EDGE_LEVEL * profile[apex]
    onset = apex
    while onset > 0 and profile[onset] > level:
        onset -= 1
    offset = apex
    while offset < len(profile) - 1 and profile[offset] > level:
        offset += 1
    return onset, offset


def _noise(
    score: np.ndarray, raw_track: np.ndarray, onset: int, offset: int, flank: int, sigma: float
) -> tuple[float, float]:
    """``(floor, spread)`` the apex's score is measured against (module docstring, step 5).

    Outside the episode, when at least ``flank`` frames lie there, the score's
    median and robust spread; the spread is never below the score that white
    noise on the cell positions alone would give (``raw_track``'s frame-to-frame
    jitter through the smoothing), which is the unit on a clip the episode fills.
    """
    jitter = 1.4826 * float(np.median(np.abs(np.diff(raw_track, axis=0)))) / np.sqrt(2.0)
    if sigma >= 0.3:
        radius = int(np.ceil(3 * sigma))
        kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
        jitter *= float(np.sqrt(np.sum((kernel / kernel.sum()) ** 2)))
    noise = max(np.sqrt(2.0) * jitter, NOISE_FLOOR_PX)
    outside = np.ones(len(score), bool)
    outside[onset : offset + 1] = False
    outside[0] = False  # no score at the first frame
    if outside.sum() >= flank:
        rest = score[outside]
        floor = float(np.median(rest))
        return floor, max(1.4826 * float(np.median(np.abs(rest - floor))), noise)
    return float(np.percentile(score[1:], 10)), noise


def _frames(seconds: float, fps: float, minimum: int = 1) -> int:
    return max(minimum, int(round(seconds * fps)))


def spot(
    crops: np.ndarray,
    fps: float = DEFAULT_FPS,
    include_eyes: bool = False,
    min_confidence: float = MIN_CONFIDENCE,
    flank_seconds: tuple[float, ...] = (0.15, 0.3),
    smoothing_seconds: float = 0.05,
    anchor_seconds: float = 0.5,
    eyes: tuple[Point, Point] | None = None,
) -> Spotting:
    """Onset, apex and offset of the expression in (T, H, W) grey face crops (module docstring).

    ``fps`` converts the durations to frames (the datasets are 200 fps, SMIC 100;
    a phone video about 30). ``eyes``: the image-left and image-right eye
    landmarks ``(x, y)`` in fractions of the crop (``FaceCropper.box_with_eyes``),
    where the eye cells are placed; None: where the kit's crop usually puts them.
    """
    crops = np.asarray(crops)
    if len(crops) < 3:
        raise ValueError(f"spotting needs at least 3 frames, got {len(crops)}")
    if not fps > 0:
        raise ValueError(f"fps must be > 0, got {fps!r}")
    if not min_confidence > 0:
        raise ValueError(f"min_confidence must be > 0, got {min_confidence!r}")
    if not flank_seconds or min(flank_seconds) <= 0:
        raise ValueError(f"flank_seconds must be positive durations, got {flank_seconds!r}")
    where = regions(include_eyes, eyes)
    cells = where.cells
    both = cell_positions(prepare_crops(crops), where, _frames(anchor_seconds, fps), _frames(REFERENCE_SECONDS, fps))
    positions, eye_positions = (smooth_in_time(part, smoothing_seconds * fps) for part in both)
    flanks = sorted({_frames(seconds, fps) for seconds in flank_seconds})
    per_flank = np.stack([flank_scores(positions, cells, flank) for flank in flanks])  # (K, T, n)
    if where.eye_cells.any():
        eye_scores = np.stack([flank_scores(eye_positions, where.eye_cells, flank).max(axis=-1) for flank in flanks])
        near = where.near_eyes[cells]  # a blink spills over onto the cells around the eyes, not the mouth
        ratio = per_flank / np.maximum(eye_scores[..., None], 1e-9)
        low, high = EYE_GUARD
        kept = np.clip((ratio - low) / (high - low), 0.0, 1.0)
        per_flank = np.where(near, per_flank * kept, per_flank)
    top = min(TOP_CELLS, per_flank.shape[-1])
    by_flank = np.sort(per_flank, axis=-1)[..., -top:].mean(axis=-1) - np.median(per_flank, axis=-1)  # (K, T)
    score = by_flank.max(axis=0)
    apex = 1 + int(np.argmax(score[1:]))  # the first frame has no earlier frame to have moved from
    peak = float(score[apex])
    best_flank = flanks[int(np.argmax(by_flank[:, apex]))]

    # step 5: every cell's displacement from the rest frames, projected on the cells' displacement at the peak
    best_cells = np.argsort(per_flank[flanks.index(best_flank), apex])[-top:]
    cell_index = np.argwhere(cells)[best_cells]
    track = positions[:, cells]  # (T, cells, 2)
    rest = (track[max(apex - best_flank, 0)] + track[min(apex + best_flank, len(track) - 1)]) / 2
    pattern = track[apex] - rest
    pattern /= max(float(np.linalg.norm(pattern)), 1e-9)

    def along_pattern(cell_track: np.ndarray) -> np.ndarray:
        """(T,) displacement of (T, cells, 2) positions from the rest frames, projected on the peak's pattern."""
        return np.sum((cell_track - rest) * pattern, axis=(-2, -1))

    profile = along_pattern(track)
    onset, offset = _edges(profile, apex)
    # the apex from lighter smoothing: a Gaussian pulls the top of an uneven rise and fall towards its longer side
    located = along_pattern(smooth_in_time(both[0], LOCATE_SMOOTHING * smoothing_seconds * fps)[:, cells])
    apex = max(onset + int(np.argmax(located[onset : offset + 1])), 1)
    floor, spread = _noise(score, both[0][:, cells], onset, offset, max(flanks), smoothing_seconds * fps)
    confidence = (peak - floor) / spread
    threshold = floor + min_confidence * spread
    onset = min(onset, apex - 1)

    duration = (offset - onset + 1) / fps
    stands_out = confidence >= min_confidence and duration <= MAX_EPISODE_SECONDS
    if stands_out:
        message = f"an episode stands out: confidence {confidence:.1f} (>= {min_confidence:g})"
    elif confidence >= min_confidence:
        message = (
            f"no episode stands out: the strongest one lasts {duration:.2f} s, longer than a micro-expression "
            f"(at most {MAX_EPISODE_SECONDS:g} s); onset/apex/offset are its frames, not a detected expression"
        )
    else:
        message = (
            f"no episode stands out of the noise: confidence {confidence:.1f} < {min_confidence:g}; "
            f"onset/apex/offset are the strongest candidate's, not a detected expression"
        )
    return Spotting(
        onset=int(onset),
        apex=apex,
        offset=int(offset),
        confidence=float(confidence),
        stands_out=bool(stands_out),
        message=message,
        score=score,
        profile=profile,
        threshold=float(threshold),
        cells=tuple((int(row), int(column)) for row, column in cell_index),
        settings={
            "fps": float(fps),
            "include_eyes": bool(include_eyes),
            "eye_cells": "fixed" if eyes is None else "landmarks",
            "min_confidence": float(min_confidence),
            "flank_frames": flanks,
            "smoothing_frames": round(smoothing_seconds * fps, 3),
            "anchor_frames": _frames(anchor_seconds, fps),
        },
    )
