"""Face crop and alignment for a clip (paper §2 "人脸裁剪对齐", §2.1 step 2; docs/method.md).

MTCNN (package ``mtcnn``, weights shipped inside the package) runs once per
clip on the onset frame; the same square box and the same rotation are applied
to every key frame so the crop does not jitter. The box is grown by ``margin``
of its size on each side, made square about its centre (side = the longer
side), shifted inside the image and, only if still larger than the image,
shrunk to fit. With ``align`` (the default, the paper's "crop and align") the
frame is rotated about the box centre by the angle of the line through MTCNN's
two eye landmarks, so the eyes are level in the crop. The crop is resized to
``image_size`` and kept grey. When no face is found the largest centred square
is used, unrotated; callers count these fallbacks.

One detector per process: ``get_detector()`` builds it lazily at first use
(importing TensorFlow takes seconds), never per clip. ``FaceCropper.boxes``
detects many onset frames in batched MTCNN calls (``detect_faces``).
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from dataclasses import dataclass
from typing import NamedTuple, Sequence

import cv2
import numpy as np

log = logging.getLogger(__name__)

_DETECTOR = None
DETECTORS = ("mtcnn", "center")
BATCH_SIZE = 16  # onset frames per MTCNN call
DETECTION_SIDE = 240
"""MTCNN sees the onset frame downscaled so its shorter side is at most this.

Faces in CASME II / SAMM / SMIC fill a large part of the frame; MTCNN finds
faces down to 20 px (1/12 of 240), and a smaller image makes detection several
times faster. (mtcnn 1.0's own ``min_face_size`` cannot be used for this: a
larger value shifts its scale pyramid below the network's 12 px input and it
then finds nothing.)"""


def get_detector():
    """The process-wide MTCNN instance (built on first call)."""
    global _DETECTOR
    if _DETECTOR is None:
        from mtcnn import MTCNN

        _DETECTOR = MTCNN(stages="face_and_landmarks_detection")
    return _DETECTOR


def _detector_input(rgb: np.ndarray) -> tuple[np.ndarray, float]:
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"face detection needs an (H, W, 3) uint8 RGB image, got shape {rgb.shape} dtype {rgb.dtype}")
    scale = min(1.0, DETECTION_SIDE / min(rgb.shape[:2]))
    if scale < 1.0:
        rgb = cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(rgb), scale


class Detection(NamedTuple):
    """One MTCNN face: ``box`` ``(x, y, w, h)`` and the eye landmarks ``(x, y)`` (None if not given).

    ``left_eye`` is the eye on the image's left (MTCNN's ``left_eye`` key).
    """

    box: tuple[int, int, int, int]
    left_eye: tuple[float, float] | None = None
    right_eye: tuple[float, float] | None = None


class FaceBox(NamedTuple):
    """A square crop ``(x0, y0, x1, y1)`` and the rotation (degrees, counter-clockwise) applied before cropping."""

    x0: int
    y0: int
    x1: int
    y1: int
    angle: float = 0.0


def _best_face(faces: list, scale: float) -> Detection | None:
    faces = [f for f in faces if f["box"][2] > 0 and f["box"][3] > 0]
    if not faces:
        return None
    best = max(faces, key=lambda f: float(f["confidence"]))
    x, y, w, h = (int(round(float(value) / scale)) for value in best["box"])
    keypoints = best.get("keypoints") or {}
    eyes = [keypoints.get(name) for name in ("left_eye", "right_eye")]
    if any(eye is None for eye in eyes):
        return Detection((x, y, w, h))
    left, right = (tuple(float(value) / scale for value in eye) for eye in eyes)
    return Detection((x, y, w, h), left, right)


def detect_faces_with_eyes(rgbs: Sequence[np.ndarray], batch_size: int = BATCH_SIZE) -> list[Detection | None]:
    """Most confident MTCNN face (box and eye landmarks, in the input's pixels) or None, per RGB uint8 image.

    Images of equal (downscaled) size go through MTCNN together in batches:
    about 5x faster than one call per image, with the same boxes.
    """
    prepared = [_detector_input(rgb) for rgb in rgbs]
    by_shape: dict[tuple, list[int]] = defaultdict(list)
    for index, (image, _) in enumerate(prepared):
        by_shape[image.shape].append(index)
    boxes: list = [None] * len(prepared)
    for indices in by_shape.values():
        for start in range(0, len(indices), batch_size):
            chunk = indices[start : start + batch_size]
            found = get_detector().detect_faces([prepared[i][0] for i in chunk])
            if len(found) != len(chunk):  # defensive: mtcnn answered for fewer images
                found = [get_detector().detect_faces(prepared[i][0]) for i in chunk]
            for i, faces in zip(chunk, found):
                boxes[i] = _best_face(faces, prepared[i][1])
    return boxes


def detect_faces(rgbs: Sequence[np.ndarray], batch_size: int = BATCH_SIZE) -> list[tuple[int, int, int, int] | None]:
    """Most confident MTCNN box ``(x, y, w, h)`` (or None) for each RGB uint8 image."""
    return [None if found is None else found.box for found in detect_faces_with_eyes(rgbs, batch_size)]


LANDMARK_SIDE = 240
"""Side of the face crop on which the eye landmarks for alignment are detected.

MTCNN gives landmarks in whole pixels of the image it sees; in the downscaled
detection image the eyes are ~20 px apart, so one pixel is ~3 degrees. A second
pass on the face alone at this size puts them ~80 px apart (under a degree)."""
LANDMARK_MARGIN = 0.25  # context around the face box for the landmark pass


def refine_eyes(rgbs: Sequence[np.ndarray], detections: Sequence[Detection]) -> list[Detection]:
    """``detections`` with eye landmarks re-detected on each face's crop at ``LANDMARK_SIDE`` (batched).

    A face MTCNN does not find again in its own crop keeps its first landmarks.
    """
    crops, transforms = [], []
    for rgb, detection in zip(rgbs, detections):
        x0, y0, x1, y1 = square_box(detection.box, LANDMARK_MARGIN, rgb.shape)
        scale = LANDMARK_SIDE / (x1 - x0)
        interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        crops.append(cv2.resize(rgb[y0:y1, x0:x1], (LANDMARK_SIDE, LANDMARK_SIDE), interpolation=interpolation))
        transforms.append((x0, y0, scale))
    refined = []
    for detection, again, (x0, y0, scale) in zip(detections, detect_faces_with_eyes(crops), transforms):
        if again is None or again.left_eye is None:
            refined.append(detection)
            continue
        left, right = ((x0 + x / scale, y0 + y / scale) for x, y in (again.left_eye, again.right_eye))
        refined.append(Detection(detection.box, left, right))
    return refined


def eye_angle(left_eye: tuple[float, float], right_eye: tuple[float, float]) -> float:
    """Angle in degrees of the line from the image-left eye to the image-right eye (0 = level).

    Positive when the right eye sits lower (image y points down); rotating the
    frame counter-clockwise by this angle (``cv2.getRotationMatrix2D``'s sign)
    levels the eyes.
    """
    return math.degrees(math.atan2(right_eye[1] - left_eye[1], right_eye[0] - left_eye[0]))


def rotate_frame(image: np.ndarray, angle: float, centre: tuple[float, float]) -> np.ndarray:
    """``image`` rotated counter-clockwise by ``angle`` degrees about ``centre``, same size, edges replicated."""
    if angle == 0:
        return image
    matrix = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), float(angle), 1.0)
    height, width = image.shape[:2]
    return cv2.warpAffine(image, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def detect_face(rgb: np.ndarray) -> tuple[int, int, int, int] | None:
    """Most confident MTCNN face box ``(x, y, w, h)`` in an RGB uint8 image, or None."""
    return detect_faces([rgb])[0]


def square_box(
    box: tuple[int, int, int, int], margin: float, image_shape: tuple[int, ...]
) -> tuple[int, int, int, int]:
    """Grow ``(x, y, w, h)`` by ``margin`` per side, make it square and keep it inside the image.

    Returns ``(x0, y0, x1, y1)`` with ``x1 - x0 == y1 - y0``.
    """
    if margin < 0:
        raise ValueError(f"face_margin must be >= 0, got {margin}")
    height, width = image_shape[:2]
    x, y, w, h = box
    side = int(round(max(w, h) * (1 + 2 * margin)))
    side = max(1, min(side, height, width))
    centre_x, centre_y = x + w / 2.0, y + h / 2.0
    x0 = int(round(centre_x - side / 2.0))
    y0 = int(round(centre_y - side / 2.0))
    x0 = min(max(x0, 0), width - side)
    y0 = min(max(y0, 0), height - side)
    return x0, y0, x0 + side, y0 + side


def centre_box(image_shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """The largest centred square ``(x0, y0, x1, y1)``: the no-face fallback."""
    height, width = image_shape[:2]
    side = min(height, width)
    x0, y0 = (width - side) // 2, (height - side) // 2
    return x0, y0, x0 + side, y0 + side


def crop(grey: np.ndarray, box: tuple, image_size: int) -> np.ndarray:
    """Crop ``box`` out of a grey frame and resize to ``image_size`` square (uint8).

    ``box`` is ``(x0, y0, x1, y1)`` or a ``FaceBox``, whose ``angle`` rotates
    the frame about the box centre first (``rotate_frame``).
    """
    x0, y0, x1, y1 = box[:4]
    if grey.ndim != 2:
        raise ValueError(f"crop expects a 2-D grey frame, got shape {grey.shape}")
    if x1 > grey.shape[1] or y1 > grey.shape[0]:
        raise ValueError(
            f"face box {box} lies outside a frame of shape {grey.shape} (frames of a clip differ in size?)"
        )
    angle = float(box[4]) if len(box) > 4 else 0.0
    if angle:
        grey = rotate_frame(grey, angle, ((x0 + x1 - 1) / 2.0, (y0 + y1 - 1) / 2.0))
    patch = grey[y0:y1, x0:x1]
    interpolation = cv2.INTER_AREA if patch.shape[0] > image_size else cv2.INTER_LINEAR
    return cv2.resize(patch, (image_size, image_size), interpolation=interpolation)


class CropEyes(NamedTuple):
    """Eye landmarks ``(x, y)`` as fractions of a crop's side (0..1 inside it); ``left`` is the image-left eye."""

    left: tuple[float, float]
    right: tuple[float, float]


def crop_eyes(box: tuple, left_eye: tuple[float, float], right_eye: tuple[float, float]) -> CropEyes:
    """Where eye landmarks in frame pixels land in the crop of ``box`` (``crop``: rotated, then cut out)."""
    x0, y0, x1, y1 = box[:4]
    angle = float(box[4]) if len(box) > 4 else 0.0
    centre = ((x0 + x1 - 1) / 2.0, (y0 + y1 - 1) / 2.0)
    matrix = cv2.getRotationMatrix2D(centre, angle, 1.0)
    side = float(x1 - x0)

    def place(point):
        x, y = matrix @ np.array([point[0], point[1], 1.0])
        return (float((x - x0 + 0.5) / side), float((y - y0 + 0.5) / side))

    return CropEyes(place(left_eye), place(right_eye))


@dataclass(frozen=True)
class FaceCropper:
    """Finds the crop box (and rotation) on a clip's onset frame and crops frames with it.

    Args:
        detector: "mtcnn" (default) or "center" (skip detection, centre square, no rotation).
        margin: box growth per side as a fraction of the box size (default 0.10).
        image_size: side of the resized square crop.
        align: rotate so MTCNN's eye landmarks are level (default True; paper §2).
    """

    detector: str = "mtcnn"
    margin: float = 0.10
    image_size: int = 112
    align: bool = True

    def __post_init__(self):
        if self.detector not in DETECTORS:
            raise ValueError(f"face_detector must be one of {DETECTORS}, got {self.detector!r}")
        if self.image_size < 8:
            raise ValueError(f"image_size must be >= 8, got {self.image_size}")
        if not isinstance(self.align, bool):
            raise ValueError(f"face_align must be True or False, got {self.align!r}")

    @classmethod
    def from_config(cls, config) -> "FaceCropper":
        """The cropper of ``config.face_detector``, ``face_margin``, ``image_size`` and ``face_align``."""
        return cls(config.face_detector, config.face_margin, config.image_size, config.face_align)

    def box(self, rgb: np.ndarray, name: str = "") -> tuple[FaceBox, bool]:
        """``(box, found)`` for an onset frame; ``found`` is False on the centre fallback."""
        return self.boxes([rgb], [name])[0]

    def boxes(self, rgbs: Sequence[np.ndarray], names: Sequence[str] = ()) -> list[tuple[FaceBox, bool]]:
        """``box`` for many onset frames, detected in batches (one detector per process)."""
        return [(box, found) for box, found, _ in self.boxes_with_eyes(rgbs, names)]

    def box_with_eyes(self, rgb: np.ndarray, name: str = "") -> tuple[FaceBox, bool, CropEyes | None]:
        """``box`` and where MTCNN's eye landmarks fall in the crop (``crop_eyes``; None without landmarks)."""
        return self.boxes_with_eyes([rgb], [name])[0]

    def boxes_with_eyes(
        self, rgbs: Sequence[np.ndarray], names: Sequence[str] = ()
    ) -> list[tuple[FaceBox, bool, CropEyes | None]]:
        """``box_with_eyes`` for many onset frames, detected in batches."""
        if self.detector == "center":
            return [(FaceBox(*centre_box(rgb.shape)), True, None) for rgb in rgbs]
        detections = detect_faces_with_eyes(rgbs)
        if self.align:
            found = [index for index, detection in enumerate(detections) if detection is not None]
            for index, detection in zip(found, refine_eyes([rgbs[i] for i in found], [detections[i] for i in found])):
                detections[index] = detection
        results = []
        for index, (rgb, face) in enumerate(zip(rgbs, detections)):
            name = names[index] if index < len(names) and names[index] else "onset frame"
            if face is None:
                log.warning("no face found by MTCNN in %s; using the centre crop", name)
                results.append((FaceBox(*centre_box(rgb.shape)), False, None))
                continue
            angle = 0.0
            if self.align and face.left_eye is not None:
                angle = eye_angle(face.left_eye, face.right_eye)
            elif self.align:
                log.warning("MTCNN gave no eye landmarks in %s; face not aligned", name)
            box = FaceBox(*square_box(face.box, self.margin, rgb.shape), angle)
            eyes = None if face.left_eye is None else crop_eyes(box, face.left_eye, face.right_eye)
            results.append((box, True, eyes))
        return results

    def crop(self, grey: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
        return crop(grey, box, self.image_size)
