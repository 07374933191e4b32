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
   grid inside the face (``FACE_ELLIPSE``); cells over the eyes
   (``EYE_ELLIPSES``) are left out unless ``include_eyes``. Each cell's
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
   ``TOP_CELLS`` best cells, the largest over k.
5. The episode: the frame of highest S and its best cells, followed back and
   forward along their own direction of motion from the rest frames (its
   flanks); onset and offset are where that displacement (``profile``) falls
   to ``EDGE_LEVEL`` of its largest value (or the window ends), the apex
   where it is largest between them, on positions smoothed less
   (``LOCATE_SMOOTHING``) so that an uneven rise and fall does not pull it.
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

The functions take arrays; ``me_resnet.inference.video`` reads the frames and
``me_resnet.inference.predict.spot_clip`` crops them. docs/predict.md says
what to expect on real recordings.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

SPOT_SIZE = 64  # side of the face crops compared for spotting
DEFAULT_FPS = 200.0  # CASME II and SAMM; SMIC-HS is 100
GRID = 8  # cells per side of the crop (8 px cells at SPOT_SIZE)
TOP_CELLS = 3  # an expression moves a few regions (a brow pair, a mouth corner)
LOCATE_SMOOTHING = 0.2  # the apex is located on positions smoothed this much less (step 5)
REFERENCE_SECONDS = 0.025  # crops averaged into each reference frame
EDGE_LEVEL = 0.2  # onset/offset: where the displacement falls to this share of the apex's
# A blink drags the cells around the eyes along with a fraction of the lids' motion; an expression of the
# brows moves them more than the eyes: near the eyes a cell counts in full when it moves at least EYE_GUARD[1]
# times as much as the eyes at the same time, not at all below EYE_GUARD[0] times.
EYE_GUARD = (0.6, 0.9)
BORDER_PX = 4  # the affine fit leaves out the crop's edge, where the flow sees content enter and leave
NOISE_FLOOR_PX = 0.002  # smallest robust spread of the score curve (px), so a still clip does not divide by 0
MIN_CONFIDENCE = 6.0  # peak above the median, in robust spreads, for an episode to stand out
# A micro-expression is over within 0.5 s (the datasets' definition); a longer episode, with margin for the
# onset/offset edges, is a slow change of the face (a macro-expression, posture, drift), not one.
MAX_EPISODE_SECONDS = 1.0
# Where the kit's face crop (MTCNN box, 10 % margin, eyes levelled) puts the face
# and the eyes, as fractions of the crop: centre (x, y) and semi-axes (x, y).
FACE_ELLIPSE = ((0.5, 0.53), (0.42, 0.40))
EYE_ELLIPSES = (((0.34, 0.35), (0.15, 0.11)), ((0.67, 0.35), (0.15, 0.11)))
# Farneback on the 64 px crop: a 9 px window keeps a brow or mouth-corner bump apart from its surroundings.
FARNEBACK = {"pyr_scale": 0.5, "levels": 3, "winsize": 9, "iterations": 3, "poly_n": 5, "poly_sigma": 1.1, "flags": 0}


@dataclass(frozen=True)
class Spotting:
    """Result of ``spot``: indices into the frames searched (0 = first frame of the window).

    ``score`` is S(t) (module docstring, step 4; px), ``profile`` the episode
    cells' displacement along their own direction from the rest frames (px;
    step 5), ``threshold`` the score a peak needs to stand out (step 6). ``onset``/``apex``/``offset`` are always the
    strongest candidate's; ``stands_out`` says whether it is more than noise.
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


def prepare_crops(crops: np.ndarray) -> np.ndarray:
    """Blurred, brightness-normalised float32 (T, SPOT_SIZE, SPOT_SIZE) copies of (T, H, W) grey crops (step 1)."""
    crops = np.asarray(crops)
    if crops.ndim != 3:
        raise ValueError(f"spotting needs (T, H, W) grey crops, got shape {crops.shape}")
    prepared = np.empty((len(crops), SPOT_SIZE, SPOT_SIZE), dtype=np.float32)
    for index, crop in enumerate(crops):
        image = crop.astype(np.float32)
        if image.shape != (SPOT_SIZE, SPOT_SIZE):
            image = cv2.resize(image, (SPOT_SIZE, SPOT_SIZE), interpolation=cv2.INTER_AREA)
        blurred = cv2.GaussianBlur(image, (0, 0), 1.0)
        prepared[index] = blurred * (128.0 / max(float(blurred.mean()), 1.0))
    return prepared


def _ellipse(centre, axes, size: int = SPOT_SIZE) -> np.ndarray:
    ys, xs = (np.mgrid[0:size, 0:size] + 0.5) / size
    return ((xs - centre[0]) / axes[0]) ** 2 + ((ys - centre[1]) / axes[1]) ** 2 <= 1.0


@dataclass(frozen=True)
class Regions:
    """Where the spotter looks, on the SPOT_SIZE crop and its GRID x GRID cells.

    ``pixels``: measured for the scored cells (the eyes left out unless
    included); ``fit``: the pixels the head's affine motion is fitted on;
    ``cells``: the cells scored; ``eye_pixels``/``eye_cells``: the eyes, whose
    own motion guards the cells around them against a blink (empty when the
    eyes are included).
    """

    pixels: np.ndarray
    fit: np.ndarray
    cells: np.ndarray
    eye_pixels: np.ndarray
    eye_cells: np.ndarray
    near_eyes: np.ndarray


def _cell_share(mask: np.ndarray) -> np.ndarray:
    side = SPOT_SIZE // GRID
    return mask.reshape(GRID, side, GRID, side).mean(axis=(1, 3))


def regions(include_eyes: bool = False) -> Regions:
    """The ``Regions`` (module docstring, step 3): cells centred in the face ellipse, eyes apart unless included."""
    eyes = np.zeros((SPOT_SIZE, SPOT_SIZE), bool)
    for centre, axes in EYE_ELLIPSES:
        eyes |= _ellipse(centre, axes)
    inner = np.zeros_like(eyes)
    inner[BORDER_PX:-BORDER_PX, BORDER_PX:-BORDER_PX] = True
    centres = (np.arange(GRID) + 0.5) / GRID
    ys, xs = np.meshgrid(centres, centres, indexing="ij")
    (cx, cy), (ax, ay) = FACE_ELLIPSE
    face = ((xs - cx) / ax) ** 2 + ((ys - cy) / ay) ** 2 <= 1.0
    if include_eyes:
        everything = np.ones_like(eyes)
        return Regions(everything, inner, face, ~everything, np.zeros_like(face), np.zeros_like(face))
    eye_row = max(centre[1] + axes[1] for centre, axes in EYE_ELLIPSES)
    near = np.broadcast_to((centres < eye_row + 0.5 / GRID)[:, None], face.shape)
    cells = face & (_cell_share(~eyes) >= 0.5)
    return Regions(~eyes, inner & ~eyes, cells, eyes, _cell_share(eyes) >= 0.25, near)


def _flow(reference: np.ndarray, frame: np.ndarray) -> np.ndarray:
    return cv2.calcOpticalFlowFarneback(reference, frame, None, **FARNEBACK)


def _design() -> np.ndarray:
    ys, xs = (np.mgrid[0:SPOT_SIZE, 0:SPOT_SIZE] + 0.5) / SPOT_SIZE * 2 - 1
    return np.stack([np.ones(xs.size), xs.ravel(), ys.ravel()], axis=1)


_DESIGN = _design()


def remove_head_motion(field_: np.ndarray, weights: np.ndarray, iterations: int = 3) -> np.ndarray:
    """``field_`` (H, W, 2) minus a robust affine fit (step 2): re-weighted least squares, Cauchy weights.

    The fit uses the pixels where ``weights`` > 0; the re-weighting lets a
    local motion (an expression) stand apart instead of tilting the fit.
    """
    vectors = field_.reshape(-1, 2).astype(np.float64)
    base = weights.ravel().astype(np.float64)
    current = base.copy()
    for _ in range(iterations):
        root = np.sqrt(current)[:, None]
        coefficients, *_ = np.linalg.lstsq(_DESIGN * root, vectors * root, rcond=None)
        residual = vectors - _DESIGN @ coefficients
        size = np.hypot(residual[:, 0], residual[:, 1])
        scale = 1.4826 * float(np.median(size[base > 0])) + 1e-6
        current = base / (1.0 + (size / (2.0 * scale)) ** 2)
    return residual.reshape(field_.shape).astype(np.float32)


def cell_means(field_: np.ndarray, pixels: np.ndarray) -> np.ndarray:
    """(GRID, GRID, 2) mean of ``field_`` over each cell's measured ``pixels`` (0 where none is)."""
    side = SPOT_SIZE // GRID
    weight = pixels.astype(np.float32)
    total = (field_ * weight[..., None]).reshape(GRID, side, GRID, side, 2).sum(axis=(1, 3))
    count = weight.reshape(GRID, side, GRID, side).sum(axis=(1, 3))
    return total / np.maximum(count, 1.0)[..., None]


def cell_positions(prepared: np.ndarray, where: Regions, anchor_step: int, reference_frames: int) -> np.ndarray:
    """(2, T, GRID, GRID, 2) residual displacement of every cell (steps 2-3), averaged over
    ``where.pixels`` ([0]) and over ``where.eye_pixels`` ([1]).

    Each stretch of ``anchor_step`` frames is measured from a reference: the
    mean of its first ``reference_frames`` crops (averaging keeps the
    reference's own noise out of every field measured from it); the next
    reference's position is that of its frames, measured from the current
    one, so the stretches chain.
    """
    masks = (where.pixels, where.eye_pixels)

    def measure(reference: np.ndarray, index: int) -> np.ndarray:
        residual = remove_head_motion(_flow(reference, prepared[index]), where.fit)
        return np.stack([cell_means(residual, pixels) for pixels in masks])

    positions = np.zeros((2, len(prepared), GRID, GRID, 2), np.float32)
    start, offset = 0, np.zeros((2, GRID, GRID, 2), np.float32)
    while start < len(prepared):
        reference = prepared[start : start + reference_frames].mean(axis=0)
        stop = min(start + anchor_step, len(prepared))
        for index in range(start, stop):
            positions[:, index] = offset + measure(reference, index)
        following = range(stop, min(stop + reference_frames, len(prepared)))
        if len(following):
            offset = offset + np.mean([measure(reference, index) for index in following], axis=0)
        start = stop
    return positions


def smooth_in_time(positions: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian smoothing along axis 0 (sigma < 0.3: unchanged); beyond its ends the series is mirrored
    about its first / last frame, or, when it is shorter than the kernel (2 x 3 sigma), held at them.

    Mirroring averages the frames next to an end into it; holding the end
    frame repeats that one frame's noise (or tremor phase) across the kernel,
    a spurious bump at the window's start or end. A series shorter than the
    kernel (an annotated onset..offset clip at a high frame rate) would have
    its own expression mirrored in as its surroundings: its ends are held, so
    the frames past them count as its first or last frame (step 4).
    """
    if sigma < 0.3:
        return positions.copy()
    radius = int(np.ceil(3 * sigma))
    kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    kernel /= kernel.sum()
    if len(positions) > 2 * radius:
        before, after = positions[radius:0:-1], positions[-2 : -radius - 2 : -1]
    else:
        before, after = np.repeat(positions[:1], radius, 0), np.repeat(positions[-1:], radius, 0)
    padded = np.concatenate([before, positions, after])
    smoothed = np.zeros_like(positions)
    for offset, weight in enumerate(kernel):
        smoothed += weight * padded[offset : offset + len(positions)]
    return smoothed


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
) -> Spotting:
    """Onset, apex and offset of the expression in (T, H, W) grey face crops (module docstring).

    ``fps`` converts the durations to frames (the datasets are 200 fps, SMIC 100;
    a phone video about 30).
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
    where = regions(include_eyes)
    cells = where.cells
    both = cell_positions(prepare_crops(crops), where, _frames(anchor_seconds, fps), _frames(REFERENCE_SECONDS, fps))
    positions, eye_positions = (smooth_in_time(part, smoothing_seconds * fps) for part in both)
    flanks = sorted({_frames(seconds, fps) for seconds in flank_seconds})
    per_flank = np.stack([flank_scores(positions, cells, flank) for flank in flanks])  # (K, T, n)
    if where.eye_cells.any():
        eyes = np.stack([flank_scores(eye_positions, where.eye_cells, flank).max(axis=-1) for flank in flanks])
        near = where.near_eyes[cells]  # a blink spills over onto the cells around the eyes, not the mouth
        ratio = per_flank / np.maximum(eyes[..., None], 1e-9)
        low, high = EYE_GUARD
        kept = np.clip((ratio - low) / (high - low), 0.0, 1.0)
        per_flank = np.where(near, per_flank * kept, per_flank)
    top = min(TOP_CELLS, per_flank.shape[-1])
    by_flank = np.sort(per_flank, axis=-1)[..., -top:].mean(axis=-1)  # (K, T)
    score = by_flank.max(axis=0)
    apex = 1 + int(np.argmax(score[1:]))  # the first frame has no earlier frame to have moved from
    peak = float(score[apex])
    best_flank = flanks[int(np.argmax(by_flank[:, apex]))]

    # step 5: the peak's best cells, followed along their own direction from the rest frames
    order = np.argsort(per_flank[flanks.index(best_flank), apex])[-top:]
    cell_index = np.argwhere(cells)[order]

    def displacement(track: np.ndarray, rest: np.ndarray, direction: np.ndarray) -> np.ndarray:
        return np.sum((track - rest) * direction, axis=-1).mean(axis=-1)

    track = positions[:, cells][:, order]  # (T, top, 2)
    rest = (track[max(apex - best_flank, 0)] + track[min(apex + best_flank, len(track) - 1)]) / 2
    direction = track[apex] - rest
    direction /= np.maximum(np.linalg.norm(direction, axis=-1, keepdims=True), 1e-9)
    profile = displacement(track, rest, direction)
    onset, offset = _edges(profile, apex)
    # the apex from lighter smoothing: a Gaussian pulls the top of an uneven rise and fall towards its longer side
    located = smooth_in_time(both[0], LOCATE_SMOOTHING * smoothing_seconds * fps)[:, cells][:, order]
    apex = max(onset + int(np.argmax(displacement(located, rest, direction)[onset : offset + 1])), 1)
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
            "min_confidence": float(min_confidence),
            "flank_frames": flanks,
            "smoothing_frames": round(smoothing_seconds * fps, 3),
            "anchor_frames": _frames(anchor_seconds, fps),
        },
    )
