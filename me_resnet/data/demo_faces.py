"""Synthetic faces for the demo datasets: real photographs, posed with action units.

Identity bases are face photographs that installed packages already ship
(``skimage.data.astronaut()``, matplotlib's ``grace_hopper.jpg`` and the 25x25
faces of ``skimage.data.lfw_subset()``). Each is framed, flipped and relit per
subject (``make_portrait``). Faces move by smooth local displacement fields
(``displacement_field``): sums of Gaussian bumps, one or two per FACS action
unit (``action_units``), placed on the photo's landmarks and scaled per face
side, so that a unit can act on one side only (unilateral, "L12" in a coding
sheet) or more on one side (asymmetric). The landmarks are fixed coordinates,
measured once with MTCNN (``mtcnn`` 1.0) on the shipped photos, so generation
needs no detector and gives the same pixels on every machine.

Clips (micro-expressions over time, head motion, blinks, camera noise) are
rendered by ``me_resnet.data.demo_motion``; this module only poses a face.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np

PHOTOS: tuple[str, ...] = ("astronaut", "grace_hopper", "lfw")
LFW_FACES = 100  # lfw_subset(): the first 100 of its 200 images are faces


@dataclass(frozen=True)
class Landmarks:
    """Five face points (x, y) in pixels, as MTCNN names them (image left / right)."""

    left_eye: tuple[float, float]
    right_eye: tuple[float, float]
    nose: tuple[float, float]
    mouth_left: tuple[float, float]
    mouth_right: tuple[float, float]

    def as_array(self) -> np.ndarray:
        return np.array([self.left_eye, self.right_eye, self.nose, self.mouth_left, self.mouth_right], float)

    @staticmethod
    def from_array(points: np.ndarray) -> "Landmarks":
        return Landmarks(*(tuple(float(v) for v in p) for p in points))

    @property
    def interocular(self) -> float:
        return float(np.hypot(*np.subtract(self.right_eye, self.left_eye)))

    @property
    def midline_x(self) -> float:
        return float(np.mean([p[0] for p in self.as_array()]))

    @property
    def face_centre(self) -> tuple[float, float]:
        eyes = np.mean([self.left_eye, self.right_eye], axis=0)
        mouth = np.mean([self.mouth_left, self.mouth_right], axis=0)
        return tuple((eyes + mouth) / 2)


# MTCNN keypoints on the shipped photos (skimage 0.25 astronaut 512x512, matplotlib
# grace_hopper 512x600) and the median over 20 of the aligned 25x25 lfw_subset faces.
PHOTO_LANDMARKS: dict[str, Landmarks] = {
    "astronaut": Landmarks((204, 100), (245, 102), (224, 126), (202, 139), (244, 140)),
    "grace_hopper": Landmarks((220, 190), (308, 186), (268, 237), (232, 277), (304, 273)),
    "lfw": Landmarks((6.1, 8.5), (15.4, 8.4), (10.5, 13.5), (7.4, 18.4), (14.8, 18.3)),
}


@functools.lru_cache(maxsize=None)
def _photo_pixels(name: str) -> np.ndarray:
    import skimage.data

    if name == "astronaut":
        return skimage.data.astronaut()
    if name == "grace_hopper":
        from matplotlib import cbook

        with cbook.get_sample_data("grace_hopper.jpg") as handle:
            data = np.frombuffer(handle.read(), np.uint8)
        return cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    if name == "lfw":
        return (skimage.data.lfw_subset()[:LFW_FACES] * 255).round().astype(np.uint8)
    raise ValueError(f"unknown demo photo {name!r}; choose one of {PHOTOS}")


def load_photo(name: str, index: int = 0) -> tuple[np.ndarray, Landmarks]:
    """An RGB uint8 face photograph and its landmarks (``index`` picks an lfw face)."""
    pixels = _photo_pixels(name)
    if name == "lfw":
        if not 0 <= index < LFW_FACES:
            raise ValueError(f"lfw face index must be in [0, {LFW_FACES}), got {index}")
        pixels = np.repeat(pixels[index][..., None], 3, axis=2)
    return pixels, PHOTO_LANDMARKS[name]


@dataclass(frozen=True)
class Look:
    """How one synthetic subject is framed and lit from its base photo."""

    photo: str
    index: int = 0  # lfw face number
    framing: float = 4.0  # crop side in interocular distances (larger = more background)
    shift: tuple[float, float] = (0.0, 0.0)  # crop centre offset, fraction of the side
    flip: bool = False
    gain: float = 1.0
    gamma: float = 1.0
    tint: tuple[float, float, float] = (1.0, 1.0, 1.0)  # RGB channel gains


def random_look(rng: np.random.Generator, photo: str, framing: float) -> Look:
    """A subject's appearance: base photo plus random offset, flip, brightness, tint."""
    return Look(
        photo=photo,
        index=int(rng.integers(LFW_FACES)),
        framing=framing * float(rng.uniform(0.92, 1.08)),
        shift=(float(rng.uniform(-0.06, 0.06)), float(rng.uniform(-0.06, 0.06))),
        flip=bool(rng.integers(2)),
        gain=float(rng.uniform(0.8, 1.15)),
        gamma=float(rng.uniform(0.85, 1.2)),
        tint=tuple(float(v) for v in rng.uniform(0.92, 1.08, size=3)),
    )


def make_portrait(look: Look, size: int) -> tuple[np.ndarray, Landmarks]:
    """Frame, flip and relight the base photo into a ``size`` x ``size`` RGB float32 image."""
    if size < 32:
        raise ValueError(f"portrait size must be >= 32 px, got {size}")
    photo, marks = load_photo(look.photo, look.index)
    height, width = photo.shape[:2]
    side = min(look.framing * marks.interocular, float(min(height, width)))
    centre = np.add(marks.face_centre, np.multiply(look.shift, side))
    centre = np.clip(centre, side / 2, [width - side / 2, height - side / 2])  # stay inside small photos
    scale = size / side
    matrix = np.array([[scale, 0, size / 2 - scale * centre[0]], [0, scale, size / 2 - scale * centre[1]]])
    if look.flip:
        matrix = np.array([[-1, 0, size - 1], [0, 1, 0]]) @ np.vstack([matrix, [0, 0, 1]])
    source = photo.astype(np.float32)
    if scale < 1:  # anti-alias before shrinking
        source = cv2.GaussianBlur(source, (0, 0), sigmaX=0.45 / scale)
    interpolation = cv2.INTER_CUBIC if scale > 1 else cv2.INTER_LINEAR
    image = cv2.warpAffine(source, matrix, (size, size), flags=interpolation, borderMode=cv2.BORDER_REFLECT101)
    image = 255.0 * (np.clip(image, 0, 255) / 255.0) ** look.gamma * look.gain * np.array(look.tint, np.float32)
    points = np.hstack([marks.as_array(), np.ones((5, 1))]) @ matrix.T
    if look.flip:  # image-left is now what was image-right
        points = points[[1, 0, 2, 4, 3]]
    return np.clip(image, 0, 255).astype(np.float32), Landmarks.from_array(points)


def action_units(marks: Landmarks) -> dict[str, list[tuple[tuple[float, float], float, tuple[float, float]]]]:
    """FACS-like local motions: AU name -> list of (centre, sigma, unit displacement).

    Positions and sizes are in interocular distances ``d`` from the landmarks;
    "inward" points to the face midline. Image y grows downwards. ``BLINK`` is
    no action unit of an expression: the upper lids closing, for distractor blinks.
    """
    d, mid = marks.interocular, marks.midline_x
    inward = lambda x: float(np.sign(mid - x))  # noqa: E731
    names = ("AU1", "AU2", "AU4", "AU5", "AU6", "AU7", "AU9", "AU10", "AU12", "AU14", "AU15", "AU17", "AU20")
    units = {name: [] for name in (*names, "AU24", "AU25", "AU26", "BLINK")}
    for x, y in (marks.left_eye, marks.right_eye):
        brow = y - 0.38 * d
        units["AU1"].append(((x + inward(x) * 0.2 * d, brow), 0.26 * d, (0.0, -1.0)))
        units["AU2"].append(((x - inward(x) * 0.2 * d, brow), 0.26 * d, (0.0, -1.0)))
        units["AU4"].append(((x + inward(x) * 0.1 * d, brow), 0.31 * d, (0.6 * inward(x), 0.8)))
        units["AU5"].append(((x, y - 0.12 * d), 0.16 * d, (0.0, -1.0)))
        units["AU6"].append(((x, y + 0.45 * d), 0.39 * d, (0.0, -1.0)))
        units["AU7"].append(((x, y + 0.12 * d), 0.18 * d, (0.3 * inward(x), -0.95)))
        units["BLINK"].append(((x, y - 0.06 * d), 0.13 * d, (0.0, 1.0)))
    for x, y in (marks.mouth_left, marks.mouth_right):
        units["AU12"].append(((x, y), 0.29 * d, (-0.6 * inward(x), -0.8)))
        units["AU14"].append(((x, y), 0.21 * d, (-0.95 * inward(x), -0.3)))
        units["AU15"].append(((x, y), 0.29 * d, (0.0, 1.0)))
        units["AU20"].append(((x, y), 0.29 * d, (-inward(x), 0.0)))
    nose_x, nose_y = marks.nose
    mouth_x, mouth_y = np.mean([marks.mouth_left, marks.mouth_right], axis=0)
    units["AU9"].append(((nose_x, nose_y - 0.35 * d), 0.33 * d, (0.0, -1.0)))
    units["AU10"].append(((mouth_x, mouth_y - 0.15 * d), 0.29 * d, (0.0, -1.0)))
    units["AU17"].append(((mouth_x, mouth_y + 0.45 * d), 0.33 * d, (0.0, -1.0)))
    units["AU24"].append(((mouth_x, mouth_y - 0.08 * d), 0.16 * d, (0.0, 1.0)))
    units["AU24"].append(((mouth_x, mouth_y + 0.1 * d), 0.16 * d, (0.0, -1.0)))
    units["AU25"].append(((mouth_x, mouth_y + 0.1 * d), 0.2 * d, (0.0, 1.0)))
    units["AU26"].append(((mouth_x, mouth_y + 0.3 * d), 0.39 * d, (0.0, 1.0)))
    return units


def side_of(x: float, marks: Landmarks) -> int | None:
    """0 for the image-left half of the face, 1 for the image-right half, None on the midline."""
    offset = x - marks.midline_x
    return None if abs(offset) < 0.05 * marks.interocular else int(offset > 0)


# The 7 FER2013 classes as AU weights (micro-expressions draw theirs per clip: demo_motion).
FER_EXPRESSIONS: dict[int, dict[str, float]] = {
    0: {"AU4": 1.0, "AU15": 0.3},  # Angry
    1: {"AU9": 1.0, "AU10": 1.0, "AU4": 0.4},  # Disgust
    2: {"AU1": 1.0, "AU4": 0.5, "AU20": 1.0},  # Fear
    3: {"AU12": 1.0, "AU6": 0.6},  # Happy
    4: {"AU1": 0.8, "AU15": 1.0},  # Sad
    5: {"AU1": 1.0, "AU2": 1.0, "AU26": 1.0},  # Surprise
    6: {},  # Neutral
}


def displacement_field(
    expression: dict[str, float],
    marks: Landmarks,
    shape: tuple[int, int],
    amplitude: float,
    sides: tuple[float, float] = (1.0, 1.0),
) -> np.ndarray:
    """Sum of Gaussian bumps: a (H, W, 2) float32 field of (dx, dy) pixels, peak ~``amplitude``.

    ``expression`` maps action units (``action_units``) to weights; ``sides``
    scales the bumps on the image-left and image-right half of the face (a bump
    on the midline gets their mean).
    """
    units = action_units(marks)
    unknown = sorted(set(expression) - set(units))
    if unknown:
        raise ValueError(f"unknown action unit(s) {unknown}; known: {sorted(units)}")
    ys, xs = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float32)
    field = np.zeros((*shape, 2), np.float32)
    for name, weight in expression.items():
        for (cx, cy), sigma, (vx, vy) in units[name]:
            side = side_of(cx, marks)
            gain = float(np.mean(sides)) if side is None else sides[side]
            if weight * gain == 0:
                continue
            bump = np.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / (2 * sigma**2)) * (weight * gain * amplitude)
            field[..., 0] += bump * vx
            field[..., 1] += bump * vy
    return field


def warp(image: np.ndarray, field: np.ndarray) -> np.ndarray:
    """Move image content by ``field`` (backward map: out(p) = in(p - field(p)))."""
    ys, xs = np.mgrid[0 : image.shape[0], 0 : image.shape[1]].astype(np.float32)
    field = field.astype(np.float32, copy=False)
    return cv2.remap(image, xs - field[..., 0], ys - field[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)


def motion_ramp(num_frames: int, apex_index: int) -> np.ndarray:
    """Motion intensity per frame: 0 at onset, 1 at the apex, back to 0 at the offset (smoothstep)."""
    if num_frames < 3 or not 0 < apex_index < num_frames - 1:
        raise ValueError(f"need 3+ frames and an apex strictly inside; got {num_frames} frames, apex {apex_index}")
    t = np.arange(num_frames, dtype=float)
    phase = np.where(t <= apex_index, t / apex_index, (num_frames - 1 - t) / (num_frames - 1 - apex_index))
    return phase * phase * (3 - 2 * phase)


def render_fer_face(label: int, rng: np.random.Generator, faces: range | None = None, size: int = 48) -> np.ndarray:
    """One 48x48 grey FER2013-style face: an lfw face posed with the class's AUs (macro amplitude)."""
    if label not in FER_EXPRESSIONS:
        raise ValueError(f"FER2013 label must be one of {sorted(FER_EXPRESSIONS)}, got {label!r}")
    faces = faces if faces is not None else range(LFW_FACES)
    look = Look(
        "lfw",
        index=int(rng.choice(faces)),
        framing=25.0 / PHOTO_LANDMARKS["lfw"].interocular,
        flip=bool(rng.integers(2)),
        gain=float(rng.uniform(0.8, 1.15)),
        gamma=float(rng.uniform(0.85, 1.2)),
    )
    portrait, marks = make_portrait(look, 96)  # the whole 25x25 face, warped at 96 px then shrunk
    amplitude = float(rng.uniform(0.15, 0.22)) * marks.interocular
    image = warp(portrait, displacement_field(FER_EXPRESSIONS[label], marks, portrait.shape[:2], amplitude))
    grey = cv2.cvtColor(np.clip(image, 0, 255).astype(np.uint8), cv2.COLOR_RGB2GRAY)
    grey = cv2.resize(grey, (size, size), interpolation=cv2.INTER_AREA).astype(np.float32)
    return np.clip(grey + rng.normal(0.0, 3.0, grey.shape), 0, 255).round().astype(np.uint8)
