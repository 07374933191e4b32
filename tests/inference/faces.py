"""Synthetic face crops with known motions, for the spotter's tests.

A smooth random texture with dark eyes and a mouth, ``SIZE`` px square like the
spotter's crops, moved by displacement fields: a local expression (a Gaussian
bump at a mouth corner rising to its apex and back), a blink (bumps over both
eyes, fast), a head move (the whole crop shifted and back), a drift or a
tremor of the skin (a smooth non-rigid pattern over the whole face that no
affine fit takes out, swinging back and forth); camera noise on every frame.
"""

from __future__ import annotations

import cv2
import numpy as np

SIZE = 64
EYES = ((0.34, 0.35), (0.67, 0.35))
MOUTH_CORNER = (0.36, 0.74)


def textured_face(seed: int = 0, eyes=EYES) -> np.ndarray:
    rng = np.random.default_rng(seed)
    face = cv2.GaussianBlur(rng.uniform(70, 200, (SIZE, SIZE)).astype(np.float32), (0, 0), 1.5)
    ys, xs = (np.mgrid[0:SIZE, 0:SIZE] + 0.5) / SIZE
    for x, y in eyes:
        face -= 60 * np.exp(-((xs - x) ** 2 / 0.004 + (ys - y) ** 2 / 0.0015))
    face -= 50 * np.exp(-((xs - 0.5) ** 2 / 0.02 + (ys - 0.74) ** 2 / 0.001))
    return face


def ramp(length: int, apex: int) -> np.ndarray:
    """0 at index 0, 1 at ``apex``, 0 at ``length - 1`` (smoothstep up and down)."""
    t = np.arange(length, dtype=float)
    phase = np.where(t <= apex, t / apex, (length - 1 - t) / (length - 1 - apex))
    return phase * phase * (3 - 2 * phase)


def timeline(frames: int, start: int, length: int, apex: int) -> np.ndarray:
    """Per frame of the clip, the event's intensity: ``ramp(length, apex)`` from frame ``start``."""
    intensity = np.zeros(frames)
    intensity[start : start + length] = ramp(length, apex)
    return intensity


def bump(centre: tuple[float, float], sigma: float, vector: tuple[float, float]) -> np.ndarray:
    """(SIZE, SIZE, 2) field: ``vector`` px at ``centre`` (crop fractions), Gaussian of ``sigma`` px around it."""
    ys, xs = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    weight = np.exp(-((xs - centre[0] * SIZE) ** 2 + (ys - centre[1] * SIZE) ** 2) / (2 * sigma**2))
    return np.stack([weight * vector[0], weight * vector[1]], axis=-1).astype(np.float32)


def expression_field(amplitude: float = 1.0) -> np.ndarray:
    """A mouth-corner pull (up and outward), ``amplitude`` px at its centre."""
    return bump(MOUTH_CORNER, 4.0, (-0.6 * amplitude, -0.8 * amplitude))


def blink_field(size: float = 3.0, eyes=EYES) -> np.ndarray:
    """Both upper lids (of eyes at ``eyes``, crop fractions) down by ``size`` px."""
    return sum(bump((x, y - 0.02), 3.0, (0.0, size)) for x, y in eyes)


def tremor_field(amplitude: float = 0.15) -> np.ndarray:
    """(SIZE, SIZE, 2) smooth non-rigid pattern over the whole crop, at most ``amplitude`` px."""
    ys, xs = (np.mgrid[0:SIZE, 0:SIZE] + 0.5) / SIZE
    return amplitude * np.stack(
        [np.sin(3 * np.pi * xs) * np.cos(2 * np.pi * ys), np.cos(2 * np.pi * xs) * np.sin(3 * np.pi * ys)], axis=-1
    ).astype(np.float32)


def swing(frames: int, period: float) -> np.ndarray:
    """Per frame, a sine of ``period`` frames: the intensity of a tremor."""
    return np.sin(2 * np.pi * np.arange(frames) / period)


def render(
    frames: int,
    local: list[tuple[np.ndarray, np.ndarray]] = (),
    shift: np.ndarray | None = None,
    noise: float = 1.5,
    seed: int = 0,
    eyes=EYES,
) -> np.ndarray:
    """(frames, SIZE, SIZE) uint8 crops: the face moved by ``sum(intensity[t] * field)`` over ``local``
    (field, per-frame intensity) pairs and shifted rigidly by ``shift[t]`` (x, y) px, plus noise; the
    face's eyes at ``eyes`` (crop fractions)."""
    rng = np.random.default_rng(seed + 1)
    face = textured_face(seed, eyes)
    ys, xs = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    clip = []
    for t in range(frames):
        total = np.zeros((SIZE, SIZE, 2), np.float32)
        for field, intensity in local:
            total += np.float32(intensity[t]) * field
        if shift is not None:
            total += np.asarray(shift[t], np.float32)
        frame = cv2.remap(face, xs - total[..., 0], ys - total[..., 1], cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
        frame = frame + rng.normal(0.0, noise, frame.shape)
        clip.append(np.clip(frame, 0, 255).round().astype(np.uint8))
    return np.stack(clip)
