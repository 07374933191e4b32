"""Clips of a synthetic face as a camera records them: the demo's motion and noise model.

``render_stretch`` renders ``num_frames`` frames of one portrait
(``demo_faces.make_portrait``). Every frame is the portrait warped by the sum of

- the expression (``Expression``): action units (``demo_faces.action_units``)
  whose displacement rises smoothly from rest at ``start`` to its peak at
  ``apex`` and back to rest at ``end`` (``demo_faces.motion_ramp``); outside
  ``start..end`` the face is at rest;
- the head (``HeadMotion``): a slow drift at constant velocity with a slow
  sinusoidal sway and a slow rotation about the face centre, a small rigid
  jitter drawn independently per frame, and a weak non-rigid residual motion
  over the whole face (skin, breathing, what a registration leaves): smooth
  random fields (``residual_fields``) that swing back and forth slowly;
- distractor events (``Event``): a ``"blink"`` (the upper lids close and open)
  or a ``"head_move"`` (a quick rigid shift there and back);

then seen through the camera (``Camera``): a global gain ``1 + N(0, flicker)``
per frame (illumination flicker) and Gaussian luminance noise of ``noise`` grey
levels at mid grey, growing with the brightness. JPEG compression at ``Camera.jpeg_quality`` happens when a
frame is written (``encode_frame``), as in a recording stored as JPEG files.

A stretch without an expression is still video (head, events and camera
only); an expression can sit anywhere inside a long stretch, so a caller can
build long clips with still or distractor context around it::

    style = Camera(noise=2.0, flicker=0.004, jpeg_quality=85)
    expression = Expression(label=1, action_units=(("AU12", 1.0),), amplitude=1.5, start=120, apex=150, end=190)
    blink = Event("blink", start=30, end=52, size=3.0)
    rendering = render_stretch(portrait, marks, 300, rng, style, HEAD_STILL, expression, [blink])

``Rendering.expression_field`` is the expression's displacement at its apex
(pixels, no head motion): the ground truth of ``me_resnet.data.demo_truth``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np

from me_resnet.data.demo_faces import Landmarks, displacement_field, motion_ramp

EVENT_KINDS = ("blink", "head_move")


@dataclass(frozen=True)
class Expression:
    """One micro-expression inside a stretch; ``start``/``apex``/``end`` are frame indices of the stretch.

    ``action_units`` are ``(AU name, weight)`` pairs; ``sides`` scales the
    image-left and image-right half of the face; ``amplitude`` is the
    displacement in pixels of a unit at weight 1 (before its bumps add up).
    """

    label: int
    action_units: tuple[tuple[str, float], ...]
    start: int
    apex: int
    end: int
    amplitude: float
    sides: tuple[float, float] = (1.0, 1.0)
    ambiguous: bool = False

    def __post_init__(self):
        if not 0 <= self.start < self.apex < self.end:
            raise ValueError(f"expression needs 0 <= start < apex < end, got {self.start}, {self.apex}, {self.end}")

    def coding(self) -> str:
        """FACS-style code of the action units, e.g. ``4+L7`` (L/R: one side only, A: asymmetric)."""
        left, right = self.sides
        prefix = "" if left == right else ("L" if right == 0 else "R" if left == 0 else "A")
        return "+".join(prefix + name[2:] for name, _ in self.action_units)


@dataclass(frozen=True)
class Event:
    """A non-expression motion from frame index ``start`` to ``end`` (inclusive) of a stretch.

    ``size``: lid travel (blink) or shift (head move) in pixels; ``direction``:
    angle of a head move in radians (image axes).
    """

    kind: str
    start: int
    end: int
    size: float
    direction: float = 0.0

    def __post_init__(self):
        if self.kind not in EVENT_KINDS:
            raise ValueError(f"event kind must be one of {EVENT_KINDS}, got {self.kind!r}")
        if not 0 <= self.start < self.end:
            raise ValueError(f"event needs 0 <= start < end, got {self.start}, {self.end}")


@dataclass(frozen=True)
class HeadMotion:
    """Head motion: ``velocity`` (px per frame), ``rotation`` (degrees per frame), a sway of ``sway`` px
    with a period of ``sway_period`` frames and phase ``sway_phase``, per-frame jitter of ``jitter`` px
    (standard deviation per axis), and a non-rigid residual of ``residual`` px (RMS over the frame)
    swinging with periods around ``residual_period`` frames."""

    velocity: tuple[float, float] = (0.0, 0.0)
    rotation: float = 0.0
    sway: float = 0.0
    sway_period: float = 400.0
    sway_phase: float = 0.0
    jitter: float = 0.0
    residual: float = 0.0
    residual_period: float = 100.0


HEAD_STILL = HeadMotion()


@dataclass(frozen=True)
class Camera:
    """Sensor noise (grey levels at mid grey, the same in every channel), flicker (std of the per-frame
    gain) and JPEG quality (None: the frames are stored losslessly).

    The noise grows with the brightness as photon noise does: its standard
    deviation at intensity I is ``noise * sqrt(dark**2 + (1 - dark**2) * I / 128)``,
    ``dark`` times ``noise`` in black areas.
    """

    noise: float = 0.0
    flicker: float = 0.0
    jpeg_quality: int | None = None
    dark: float = 0.4

    def noise_map(self, image: np.ndarray) -> np.ndarray:
        """Per-pixel noise standard deviation for ``image`` (same shape, float32)."""
        level = self.dark**2 + (1.0 - self.dark**2) * np.clip(image, 0, 255) / 128.0
        return (self.noise * np.sqrt(level)).astype(np.float32)


NOISE_FREE = Camera()


@dataclass(frozen=True)
class Rendering:
    """Frames (uint8 RGB, before any JPEG) and the expression's apex displacement (H, W, 2) float32."""

    frames: list[np.ndarray]
    expression_field: np.ndarray


def expression_intensity(expression: Expression | None, num_frames: int) -> np.ndarray:
    """Per frame of the stretch, the fraction of the apex displacement the expression shows."""
    intensity = np.zeros(num_frames)
    if expression is None:
        return intensity
    if expression.end >= num_frames:
        raise ValueError(f"expression ends at frame index {expression.end}, past the stretch of {num_frames} frames")
    length = expression.end - expression.start + 1
    intensity[expression.start : expression.end + 1] = motion_ramp(length, expression.apex - expression.start)
    return intensity


def event_intensity(event: Event, num_frames: int) -> np.ndarray:
    """0 outside the event, rising to 1 at its middle and back (blinks close fast, head moves turn back)."""
    if event.end >= num_frames:
        raise ValueError(f"{event.kind} ends at frame index {event.end}, past the stretch of {num_frames} frames")
    intensity = np.zeros(num_frames)
    length = event.end - event.start + 1
    peak = max(1, min(length - 2, length // 3 if event.kind == "blink" else length // 2))
    intensity[event.start : event.end + 1] = motion_ramp(length, peak) if length >= 3 else 0.0
    return intensity


def head_pose(head: HeadMotion, num_frames: int, rng: np.random.Generator) -> np.ndarray:
    """(num_frames, 3): x shift, y shift (px) and rotation (degrees) of the head per frame."""
    t = np.arange(num_frames, dtype=float)
    sway = head.sway * np.sin(2 * math.pi * t / head.sway_period + head.sway_phase)
    pose = np.stack([head.velocity[0] * t + sway, head.velocity[1] * t + 0.5 * sway, head.rotation * t], axis=1)
    if head.jitter > 0:
        pose[:, :2] += rng.normal(0.0, head.jitter, size=(num_frames, 2))
    return pose


RESIDUAL_FIELDS = 3  # independent residual patterns per stretch
RESIDUAL_GRID = 5  # their detail: random vectors on a 5 x 5 grid, interpolated smoothly


def residual_fields(rng: np.random.Generator, shape: tuple[int, int], count: int = RESIDUAL_FIELDS) -> np.ndarray:
    """(count, H, W, 2) smooth random displacement patterns of zero mean (no rigid shift), unit RMS magnitude."""
    coarse = rng.normal(size=(count, RESIDUAL_GRID, RESIDUAL_GRID, 2)).astype(np.float32)
    fields = np.stack([cv2.resize(grid, shape[::-1], interpolation=cv2.INTER_CUBIC) for grid in coarse])
    fields -= fields.mean(axis=(1, 2), keepdims=True)
    rms = np.sqrt(np.mean(np.sum(fields**2, axis=-1), axis=(1, 2)))
    return fields / rms[:, None, None, None]


def residual_weights(rng: np.random.Generator, head: HeadMotion, num_frames: int, count: int) -> np.ndarray:
    """(num_frames, count) slow oscillations of the residual patterns, scaled to ``head.residual`` px."""
    t = np.arange(num_frames, dtype=float)[:, None]
    periods = head.residual_period * rng.uniform(0.5, 1.5, size=count)
    phases = rng.uniform(0, 2 * math.pi, size=count)
    return head.residual / math.sqrt(count / 2) * np.sin(2 * math.pi * t / periods + phases)


def _event_offsets(events: Sequence[Event], num_frames: int) -> np.ndarray:
    """(num_frames, 2) rigid shift of the head-move events per frame."""
    offsets = np.zeros((num_frames, 2))
    for event in events:
        if event.kind == "head_move":
            direction = np.array([math.cos(event.direction), math.sin(event.direction)])
            offsets += event_intensity(event, num_frames)[:, None] * event.size * direction
    return offsets


def render_stretch(
    portrait: np.ndarray,
    marks: Landmarks,
    num_frames: int,
    rng: np.random.Generator,
    camera: Camera = NOISE_FREE,
    head: HeadMotion = HEAD_STILL,
    expression: Expression | None = None,
    events: Sequence[Event] = (),
) -> Rendering:
    """``num_frames`` frames of ``portrait`` with the expression, head motion, events and camera given.

    ``rng`` draws the residual motion, jitter, flicker and noise, in this order
    (same ``rng`` state -> same frames).
    """
    if num_frames < 1:
        raise ValueError(f"num_frames must be >= 1, got {num_frames}")
    shape = portrait.shape[:2]
    if expression is not None:
        units = dict(expression.action_units)
        field = displacement_field(units, marks, shape, expression.amplitude, expression.sides)
    else:
        field = np.zeros((*shape, 2), np.float32)
    intensity = expression_intensity(expression, num_frames)
    blinks = [(event_intensity(e, num_frames), e.size) for e in events if e.kind == "blink"]
    blink_field = displacement_field({"BLINK": 1.0}, marks, shape, 1.0) if blinks else None
    residual = residual_fields(rng, shape) if head.residual > 0 else np.zeros((0, *shape, 2), np.float32)
    residual_weight = residual_weights(rng, head, num_frames, len(residual)) if len(residual) else None
    pose = head_pose(head, num_frames, rng)
    pose[:, :2] += _event_offsets(events, num_frames)
    gains = 1.0 + rng.normal(0.0, camera.flicker, size=num_frames) if camera.flicker > 0 else np.ones(num_frames)
    ys, xs = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float32)
    noise = camera.noise_map(cv2.cvtColor(portrait, cv2.COLOR_RGB2GRAY)) if camera.noise > 0 else None
    local = [
        (residual_weight[:, k] if residual_weight is not None else None, residual[k]) for k in range(len(residual))
    ]
    local += [(intensity, field)] + [(blink * size, blink_field) for blink, size in blinks]
    frames = []
    for index in range(num_frames):
        map_x, map_y = _rigid_maps(xs, ys, marks.face_centre, pose[index])
        for weights, pattern in local:
            if weights[index]:
                map_x -= np.float32(weights[index]) * pattern[..., 0]
                map_y -= np.float32(weights[index]) * pattern[..., 1]
        frame = cv2.remap(portrait, map_x, map_y, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT101)
        frame *= np.float32(gains[index])
        if noise is not None:  # luminance noise: the same in every channel
            frame += (rng.standard_normal(shape, dtype=np.float32) * noise)[..., None]
        frames.append(np.clip(frame, 0, 255).round().astype(np.uint8))
    return Rendering(frames, field)


def _rigid_maps(xs: np.ndarray, ys: np.ndarray, centre, pose) -> tuple[np.ndarray, np.ndarray]:
    """Backward maps (where each output pixel reads) of a rotation about ``centre`` and a shift: ``pose`` =
    (x shift, y shift, degrees)."""
    angle = math.radians(pose[2])
    cos, sin = np.float32(math.cos(angle) - 1.0), np.float32(math.sin(angle))
    dx, dy = xs - np.float32(centre[0]), ys - np.float32(centre[1])
    map_x = xs - (cos * dx - sin * dy + np.float32(pose[0]))
    map_y = ys - (sin * dx + cos * dy + np.float32(pose[1]))
    return map_x, map_y


def encode_frame(frame: np.ndarray, suffix: str, quality: int | None) -> bytes:
    """The bytes of ``frame`` (uint8 grey or BGR) as a ``suffix`` image file; JPEG at ``quality``."""
    params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)] if suffix == ".jpg" and quality is not None else []
    ok, data = cv2.imencode(suffix, frame, params)
    if not ok:
        raise OSError(f"could not encode a {frame.shape} frame as {suffix}")
    return data.tobytes()
