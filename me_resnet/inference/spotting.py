"""Onset and apex of a micro-expression in an unannotated clip.

Frame-to-frame motion over the face, smoothed; the largest motion episode gives
the onset, the frame that differs most from the onset inside it gives the apex:

1. The face box comes from the first frame of the search window (the kit's
   ``FaceCropper``: MTCNN, or the centre square when no face is found, which is
   recorded); every frame is cropped with it and resized to ``SPOT_SIZE``.
2. Each crop is blurred and divided by its mean grey level, so sensor noise
   and global brightness flicker do not count as motion.
3. Motion ``m_t`` between frames t-1 and t: the mean Farneback flow magnitude
   (``measure="flow"``, default; the paper's Farneback parameters) or the mean
   absolute grey difference (``"difference"``: faster, but sensor noise weighs
   more in it), smoothed by a centred moving average of ``smoothing`` frames.
4. Episodes: runs of frames whose motion exceeds ``floor + level * (peak - floor)``
   (floor: the 10th percentile of the curve), runs closer than ``merge_gap``
   frames merged (the motion dips where the face turns at the apex). The largest
   episode (summed motion above the floor) wins; its onset is walked back to
   the motion minimum before it, where the face starts to move.
5. Apex (``apex_rule="displacement"``, default): the frame of the episode whose
   crop differs most from the onset crop, i.e. the peak of the expression;
   ``"motion_peak"`` takes the frame of fastest motion instead (it lies between
   onset and apex, since motion is slowest at the apex itself).

The functions here take arrays; ``me_resnet.inference.video`` reads the frames.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from me_resnet.config import PAPER
from me_resnet.preprocessing import flow

SPOT_SIZE = 64  # side of the face crops compared for spotting
MEASURES = ("difference", "flow")
APEX_RULES = ("displacement", "motion_peak")
FLOOR_PERCENTILE = 10


@dataclass(frozen=True)
class Spotting:
    """Result of ``spot``: indices into the frames searched (0 = first frame of the window).

    ``motion`` is the smoothed frame-to-frame curve (``motion[0] = 0``),
    ``raw_motion`` the unsmoothed one, ``displacement[t]`` the difference of
    frame t from the onset frame inside the episode (NaN outside it).
    """

    onset: int
    apex: int
    episode_end: int
    motion: np.ndarray
    raw_motion: np.ndarray
    displacement: np.ndarray
    threshold: float
    measure: str
    apex_rule: str

    def to_dict(self) -> dict:
        return {
            "onset_index": self.onset,
            "apex_index": self.apex,
            "episode_end_index": self.episode_end,
            "threshold": self.threshold,
            "measure": self.measure,
            "apex_rule": self.apex_rule,
            "motion": [round(float(v), 6) for v in self.motion],
        }


def prepare_crops(crops: np.ndarray) -> np.ndarray:
    """Blurred, brightness-normalised float32 copies of (T, H, W) grey crops (step 2)."""
    crops = np.asarray(crops)
    if crops.ndim != 3:
        raise ValueError(f"spotting needs (T, H, W) grey crops, got shape {crops.shape}")
    prepared = np.empty(crops.shape, dtype=np.float32)
    for index, crop in enumerate(crops):
        blurred = cv2.GaussianBlur(crop.astype(np.float32), (5, 5), 0)
        prepared[index] = blurred * (128.0 / max(float(blurred.mean()), 1.0))
    return prepared


def motion_curve(crops: np.ndarray, measure: str = "flow") -> np.ndarray:
    """Unsmoothed motion between consecutive crops, ``m[0] = 0`` (step 3); (T,) float64."""
    if measure not in MEASURES:
        raise ValueError(f"spotting measure must be one of {MEASURES}, got {measure!r}")
    prepared = prepare_crops(crops)
    curve = np.zeros(len(prepared))
    for t in range(1, len(prepared)):
        if measure == "difference":
            curve[t] = float(np.mean(np.abs(prepared[t] - prepared[t - 1])))
        else:
            previous = np.clip(prepared[t - 1], 0, 255).astype(np.uint8)
            current = np.clip(prepared[t], 0, 255).astype(np.uint8)
            field = flow.farneback(previous, current, PAPER)
            curve[t] = float(np.mean(np.hypot(field[..., 0], field[..., 1])))
    return curve


def smooth(curve: np.ndarray, width: int) -> np.ndarray:
    """Centred moving average of ``width`` frames (edges averaged over the frames that exist)."""
    if int(width) < 1:
        raise ValueError(f"smoothing width must be >= 1 frame, got {width!r}")
    curve = np.asarray(curve, dtype=np.float64)
    kernel = np.ones(min(int(width), max(len(curve), 1)))  # "same" keeps the length only for kernels <= the curve
    total = np.convolve(curve, kernel, mode="same")
    count = np.convolve(np.ones_like(curve), kernel, mode="same")
    return total / count


def motion_episodes(active: np.ndarray, merge_gap: int) -> list[tuple[int, int]]:
    """Inclusive ``(start, end)`` runs of True in ``active``, runs at most ``merge_gap`` frames apart merged."""
    runs: list[list[int]] = []
    for index in np.flatnonzero(active):
        if runs and index - runs[-1][1] - 1 <= merge_gap:
            runs[-1][1] = int(index)
        else:
            runs.append([int(index), int(index)])
    return [(start, end) for start, end in runs]


def spot(
    crops: np.ndarray,
    measure: str = "flow",
    smoothing: int = 3,
    level: float = 0.2,
    merge_gap: int = 4,
    apex_rule: str = "displacement",
) -> Spotting:
    """Onset and apex of the largest motion episode in (T, H, W) grey face crops (module docstring)."""
    if apex_rule not in APEX_RULES:
        raise ValueError(f"apex_rule must be one of {APEX_RULES}, got {apex_rule!r}")
    if not 0 < level < 1:
        raise ValueError(f"spotting level must be in (0, 1), got {level!r}")
    crops = np.asarray(crops)
    if len(crops) < 2:
        raise ValueError(f"spotting needs at least 2 frames, got {len(crops)}")
    raw = motion_curve(crops, measure)
    curve = smooth(raw, smoothing)
    curve[0] = 0.0  # no predecessor: no motion measured
    body = curve[1:]
    floor = float(np.percentile(body, FLOOR_PERCENTILE))
    peak = float(body.max())
    threshold = floor + level * (peak - floor)
    active = np.zeros(len(curve), dtype=bool)
    active[1:] = body > threshold if peak > floor else body >= peak
    episodes = motion_episodes(active, merge_gap)
    start, end = max(episodes, key=lambda run: float(np.sum(curve[run[0] : run[1] + 1] - floor)))
    onset = start - 1  # motion m_t is between frames t-1 and t: the face still rests at frame start-1
    while onset > 0 and curve[onset - 1] <= curve[onset]:
        onset -= 1  # walk back down the rising flank to the motion minimum where the face starts to move
    prepared = prepare_crops(crops[onset : end + 1])
    distance = np.mean(np.abs(prepared - prepared[0]), axis=(1, 2))
    displacement = np.full(len(curve), np.nan)
    displacement[onset : end + 1] = distance
    if apex_rule == "displacement":
        apex = onset + int(np.argmax(distance))
    else:
        apex = start + int(np.argmax(curve[start : end + 1]))
    return Spotting(
        onset=int(onset),
        apex=int(apex),
        episode_end=int(end),
        motion=curve,
        raw_motion=raw,
        displacement=displacement,
        threshold=threshold,
        measure=measure,
        apex_rule=apex_rule,
    )
