"""Key frames of a clip and image reading (paper §2.1 step 1).

The paper takes N frames at equal intervals from the onset frame to the apex
frame, inclusive. ``key_frame_indices`` returns their frame *numbers*
(``numpy.linspace(onset, apex, N)`` rounded half-up, then snapped to the
nearest frame that exists on disk); ``key_frames`` maps them to the record's
files. A clip with fewer than N distinct frames between onset and apex gets
repeated (nearest) frames, which is logged and reported back so callers can
count it; apex == onset gives N copies of the onset frame (zero flow).
Frames are read with ``me_resnet.utils.images.read_image``: a truncated or
damaged file is an error naming it, never a frame with grey rows.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np

from me_resnet.data.records import ClipRecord
from me_resnet.utils.images import read_image

log = logging.getLogger(__name__)


def key_frame_indices(onset: int, apex: int, num_frames: int, frame_numbers: Sequence[int] | None = None) -> np.ndarray:
    """Frame numbers of the N key frames, onset -> apex inclusive (paper §2.1 step 1).

    ``numpy.linspace(onset, apex, num_frames)`` rounded half-up (so the result
    does not depend on banker's rounding), then each number is snapped to the
    nearest entry of ``frame_numbers`` (the frames that exist; ties go to the
    earlier frame). Repeated numbers appear when the clip is too short.
    """
    if num_frames < 2:
        raise ValueError(f"num_frames must be >= 2 (N key frames give N-1 flow fields), got {num_frames}")
    if apex < onset:
        raise ValueError(f"apex frame {apex} is before onset frame {onset}")
    wanted = np.floor(np.linspace(onset, apex, num_frames) + 0.5).astype(np.int64)
    if frame_numbers is None:
        return wanted
    available = np.asarray(sorted(frame_numbers), dtype=np.int64)
    available = available[(available >= onset) & (available <= apex)]
    if available.size == 0:
        raise ValueError(f"no frame numbered between onset {onset} and apex {apex} exists")
    position = np.clip(np.searchsorted(available, wanted), 1, max(available.size - 1, 1))
    before = available[position - 1]
    after = available[np.minimum(position, available.size - 1)]
    return np.where(wanted - before <= after - wanted, before, after)


@dataclass(frozen=True)
class KeyFrames:
    """The key frames of one clip: numbers, files, and whether any repeat."""

    numbers: tuple[int, ...]
    paths: tuple[str, ...]
    repeated: bool


def key_frames(record: ClipRecord, num_frames: int) -> KeyFrames:
    """Key frames of ``record`` (see ``key_frame_indices``); logs repeated frames."""
    numbers = key_frame_indices(record.onset, record.apex, num_frames, record.frame_numbers)
    path_of = dict(zip(record.frame_numbers, record.frame_paths))
    paths = tuple(path_of[int(n)] for n in numbers)
    repeated = len(set(numbers.tolist())) < num_frames
    if repeated:
        log.info(
            "%s: only %d distinct frames between onset %d and apex %d for N=%d; nearest frames repeated",
            record.key,
            len(set(numbers.tolist())),
            record.onset,
            record.apex,
            num_frames,
        )
    return KeyFrames(tuple(int(n) for n in numbers), paths, repeated)


def apex_pair(record: ClipRecord) -> KeyFrames:
    """The onset and apex frames (N = 2), for the single onset->apex flow field."""
    return key_frames(record, 2)


def _read(path: str | os.PathLike, flag: int) -> np.ndarray:
    try:
        return read_image(path, flag)
    except FileNotFoundError:
        raise FileNotFoundError(f"frame file not found: {path}") from None


def read_grey(path: str | os.PathLike) -> np.ndarray:
    """The image at ``path`` as a 2-D uint8 grey array; clear error if missing, truncated or unreadable."""
    return _read(path, cv2.IMREAD_GRAYSCALE)


def read_rgb(path: str | os.PathLike) -> np.ndarray:
    """The image at ``path`` as (H, W, 3) uint8 RGB; grey files (SAMM) come back stacked to 3 channels."""
    return cv2.cvtColor(_read(path, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def file_signature(path: str | os.PathLike) -> tuple[str, int, int]:
    """(path, size, mtime_ns) of a frame file: what the feature cache key hashes."""
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        raise FileNotFoundError(f"frame file not found: {path}") from None
    return os.fspath(path), stat.st_size, stat.st_mtime_ns
