"""Where the spotter looks on a face crop and how it measures motion there (``spotting``, steps 1-3).

The crop is the kit's face crop (MTCNN box, 10 % margin, eyes levelled),
resized to ``SPOT_SIZE`` and cut into a ``GRID`` x ``GRID`` grid of cells.
The cells scored lie inside the face (``FACE_ELLIPSE``); those over the eyes
are left out unless asked for, their own motion guarding the cells around
them against a blink. The eyes are placed from MTCNN's eye landmarks when the
face crop gives them (``FaceCropper.box_with_eyes``): faces sit differently
in their crops from one dataset to another (SMIC's eyes higher than CASME
II's), and a blink measured outside fixed eye cells reaches the brows. Without
landmarks (the centre-square fallback, or crops from elsewhere) the eyes are
where the kit's crop usually puts them (``EYE_ELLIPSES``).

Motion is Farneback flow from a reference frame, minus the head's part of it
(a robust affine fit), averaged per cell.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

SPOT_SIZE = 64  # side of the face crops compared for spotting
GRID = 8  # cells per side of the crop (8 px cells at SPOT_SIZE)
BORDER_PX = 4  # the affine fit leaves out the crop's edge, where the flow sees content enter and leave
# Where the kit's face crop (MTCNN box, 10 % margin, eyes levelled) usually puts the face
# and the eyes, as fractions of the crop: centre (x, y) and semi-axes (x, y).
FACE_ELLIPSE = ((0.5, 0.53), (0.42, 0.40))
EYE_ELLIPSES = (((0.34, 0.35), (0.15, 0.11)), ((0.67, 0.35), (0.15, 0.11)))
# Farneback on the 64 px crop: a 9 px window keeps a brow or mouth-corner bump apart from its surroundings.
FARNEBACK = {"pyr_scale": 0.5, "levels": 3, "winsize": 9, "iterations": 3, "poly_n": 5, "poly_sigma": 1.1, "flags": 0}

Point = tuple[float, float]


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


def eye_ellipses(eyes: tuple[Point, Point] | None = None) -> tuple[tuple[Point, Point], ...]:
    """The two eye ellipses ``(centre, semi-axes)`` in crop fractions: ``EYE_ELLIPSES``, or placed on ``eyes``.

    ``eyes`` is ``(left, right)``, the image-left and image-right eye landmarks
    ``(x, y)`` as fractions of the crop (``face.CropEyes``). Each ellipse is
    centred on its landmark and sized like ``EYE_ELLIPSES`` relative to the
    distance between the eyes.
    """
    if eyes is None:
        return EYE_ELLIPSES
    points = np.asarray(eyes, dtype=np.float64)
    if points.shape != (2, 2) or not np.isfinite(points).all():
        raise ValueError(f"eyes must be two (x, y) points in crop fractions, got {eyes!r}")
    distance = float(np.hypot(*(points[1] - points[0])))
    if distance < 1.0 / SPOT_SIZE:
        raise ValueError(f"eyes must be apart (at least one pixel of the {SPOT_SIZE} px crop), got {eyes!r}")
    scale = distance / (EYE_ELLIPSES[1][0][0] - EYE_ELLIPSES[0][0][0])
    return tuple(
        ((float(x), float(y)), (axes[0] * scale, axes[1] * scale)) for (x, y), (_, axes) in zip(points, EYE_ELLIPSES)
    )


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
    eyes are included); ``near_eyes``: the cells down to the eyes' lower edge,
    which a blink can drag along.
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


def regions(include_eyes: bool = False, eyes: tuple[Point, Point] | None = None) -> Regions:
    """The ``Regions`` (``spotting``, step 3): cells centred in the face ellipse, the eyes apart unless included.

    ``eyes``: the eye landmarks in crop fractions (``eye_ellipses``); None: the usual eye positions.
    """
    ellipses = eye_ellipses(eyes)
    eye_mask = np.zeros((SPOT_SIZE, SPOT_SIZE), bool)
    for centre, axes in ellipses:
        eye_mask |= _ellipse(centre, axes)
    inner = np.zeros_like(eye_mask)
    inner[BORDER_PX:-BORDER_PX, BORDER_PX:-BORDER_PX] = True
    centres = (np.arange(GRID) + 0.5) / GRID
    ys, xs = np.meshgrid(centres, centres, indexing="ij")
    (cx, cy), (ax, ay) = FACE_ELLIPSE
    face = ((xs - cx) / ax) ** 2 + ((ys - cy) / ay) ** 2 <= 1.0
    if include_eyes:
        everything = np.ones_like(eye_mask)
        return Regions(everything, inner, face, ~everything, np.zeros_like(face), np.zeros_like(face))
    eye_row = max(centre[1] + axes[1] for centre, axes in ellipses)
    near = np.broadcast_to((centres < eye_row + 0.5 / GRID)[:, None], face.shape)
    cells = face & (_cell_share(~eye_mask) >= 0.5)
    return Regions(~eye_mask, inner & ~eye_mask, cells, eye_mask, _cell_share(eye_mask) >= 0.25, near)


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
