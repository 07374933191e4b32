"""Reading image files so that a damaged one is an error naming it, never a partly grey frame.

OpenCV decodes a truncated JPEG without an error: the missing rows come back
grey and libjpeg only prints a warning on stderr. ``read_image`` therefore
checks the file's structure before decoding: a JPEG must close its last scan
with the end-of-image marker, a PNG must end with its ``IEND`` chunk, a BMP
must be as long as its header says.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

_JPEG_START, _JPEG_SCAN, _JPEG_END = b"\xff\xd8", b"\xff\xda", b"\xff\xd9"
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def image_problem(data: bytes) -> str | None:
    """Why the encoded image ``data`` is truncated or damaged, or None when its structure is whole."""
    if not data:
        return "empty file"
    if data.startswith(_JPEG_START):
        scan = data.rfind(_JPEG_SCAN)
        if scan < 0:
            return "JPEG without image data (no start-of-scan marker)"
        if data.rfind(_JPEG_END) < scan:
            return "truncated JPEG (no end-of-image marker after the last scan)"
    elif data.startswith(_PNG_SIGNATURE):
        if b"IEND" not in data[-16:]:
            return "truncated PNG (no IEND chunk at the end)"
    elif data.startswith(b"BM") and len(data) >= 6:
        declared = int.from_bytes(data[2:6], "little")
        if declared and len(data) < declared:
            return f"truncated BMP ({len(data)} bytes, header declares {declared})"
    return None


def read_image(path: str | os.PathLike, flag: int = cv2.IMREAD_GRAYSCALE) -> np.ndarray:
    """The image at ``path`` decoded with OpenCV ``flag``; ``FileNotFoundError``/``ValueError`` naming the file."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"image file not found: {path}")
    data = Path(path).read_bytes()
    problem = image_problem(data)
    if problem is not None:
        raise ValueError(f"damaged image file {path}: {problem}")
    image = cv2.imdecode(np.frombuffer(data, np.uint8), flag)
    if image is None or image.size == 0 or image.ndim not in (2, 3):
        raise ValueError(f"cannot decode image file {path} (unreadable or not an image)")
    return image


def check_image_file(path: str | os.PathLike) -> str | None:
    """None if ``path`` reads as a whole image, else the reason (for checks over many files)."""
    try:
        read_image(path, cv2.IMREAD_UNCHANGED)
    except (OSError, ValueError) as error:
        return str(error)
    return None
