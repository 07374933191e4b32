"""Tiny synthetic clips with a known onset and apex, for the spotting and inference tests."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


def ramp(length: int, apex: int) -> np.ndarray:
    """Motion intensity 0 at frame 0, 1 at ``apex``, back to 0 at the last frame (smoothstep)."""
    t = np.arange(length, dtype=float)
    phase = np.where(t <= apex, t / apex, (length - 1 - t) / max(length - 1 - apex, 1))
    return phase * phase * (3 - 2 * phase)


def blob_clip(
    motion: int = 12,
    apex: int = 6,
    before: int = 0,
    after: int = 0,
    size: int = 48,
    shift=(4.0, 0.0),
    noise: float = 1.0,
    seed: int = 0,
) -> np.ndarray:
    """(before + motion + after, size, size) uint8 grey frames: a textured face-like patch whose bright blob
    moves by ``shift`` pixels at the apex (``before + apex``) and back; still frames before and after."""
    rng = np.random.default_rng(seed)
    background = cv2.GaussianBlur(rng.uniform(60, 190, (size, size)).astype(np.float32), (0, 0), 2.0)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    intensity = np.concatenate([np.zeros(before), ramp(motion, apex), np.zeros(after)])
    frames = []
    for value in intensity:
        cx, cy = size / 2 + shift[0] * value, size / 2 + shift[1] * value
        blob = 70.0 * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * (size / 8) ** 2))
        frame = background + blob + rng.normal(0.0, noise, (size, size))
        frames.append(np.clip(frame, 0, 255).round().astype(np.uint8))
    return np.stack(frames)


def write_clip(folder: Path, grey_frames: np.ndarray, first_number: int = 1, prefix: str = "img") -> Path:
    """Write frames as ``<prefix><number>.png`` (RGB files), numbered from ``first_number``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for offset, frame in enumerate(grey_frames):
        cv2.imwrite(str(folder / f"{prefix}{first_number + offset}.png"), cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR))
    return folder


def tiny_cbam_build(name, input_shape, num_classes, config):
    """One Conv3D, a CBAM named like ME-ResNet's last one, pooling, softmax: trains in seconds."""
    import keras

    from me_resnet.models.cbam import CBAM

    inputs = keras.Input(input_shape)
    x = keras.layers.Conv3D(4, 3, padding="same", activation="relu", name="conv1_conv")(inputs)
    x = CBAM(rank=3, reduction=2, spatial_kernel=3, name="conv5_block1_cbam")(x)
    x = keras.layers.GlobalAveragePooling3D(name="avg_pool")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name=name)
