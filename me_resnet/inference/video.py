"""Frames of a user's clip: a video file (anything OpenCV reads) or a folder of frame images.

``open_clip(path)`` checks the input and returns a ``FrameSource``. Frames are
numbered as the user sees them: a folder's frames by the number at the end of
each file name when every file has a distinct one (``img46.jpg`` is frame 46,
as in the datasets), else by position in name order; a video's frames from 0.
``FrameSource.frames`` yields ``(number, RGB uint8 frame)`` with a progress bar
for long inputs; ``read`` fetches some frames by number.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import cv2
import numpy as np
from tqdm.auto import tqdm

from me_resnet.preprocessing import frames as frame_io

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".pgm", ".ppm")
PROGRESS_MIN_FRAMES = 300  # inputs at least this long show a progress bar
_TRAILING_NUMBER = re.compile(r"(\d+)$")


def _natural_key(path: Path):
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]


@dataclass(frozen=True)
class FrameSource:
    """A clip to read: ``kind`` is ``"folder"`` or ``"video"``.

    ``numbers`` and ``frame_paths`` are known up front for a folder; for a
    video ``numbers`` is ``range(frame_count)`` from the container's header
    (``expected``: decoding may end earlier, which ``frames`` reports).
    """

    path: Path
    kind: str
    numbers: tuple[int, ...]
    frame_paths: tuple[str, ...] = ()
    fps: float | None = None

    def __len__(self) -> int:
        return len(self.numbers)

    @property
    def name(self) -> str:
        return self.path.stem if self.kind == "video" else self.path.name

    def frames(
        self, first: int | None = None, last: int | None = None, progress: bool = True
    ) -> Iterator[tuple[int, np.ndarray]]:
        """``(number, rgb)`` for the frames numbered ``first..last`` (inclusive; None = open end)."""
        low = self.numbers[0] if first is None else first
        high = self.numbers[-1] if last is None else last
        wanted = [n for n in self.numbers if low <= n <= high]
        show = progress and len(wanted) >= PROGRESS_MIN_FRAMES
        with tqdm(total=len(wanted), desc=f"reading {self.name}", unit="frame", disable=not show) as bar:
            if self.kind == "folder":
                path_of = dict(zip(self.numbers, self.frame_paths))
                for number in wanted:
                    yield number, frame_io.read_rgb(path_of[number])
                    bar.update()
                return
            yield from self._video_frames(set(wanted), bar)

    def _video_frames(self, wanted: set[int], bar) -> Iterator[tuple[int, np.ndarray]]:
        capture = cv2.VideoCapture(str(self.path))
        if not capture.isOpened():
            raise ValueError(f"cannot open video file {self.path} (OpenCV cannot read it)")
        last = max(wanted) if wanted else -1
        number = -1
        try:
            while number < last:
                ok, bgr = capture.read()
                if not ok:
                    break
                number += 1
                if number in wanted:
                    yield number, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
                    bar.update()
        finally:
            capture.release()
        if number < last:
            raise ValueError(
                f"video {self.path} ended after {number + 1} decodable frames; frame {last} was asked for "
                f"(its header announced {len(self.numbers)} frames: the file may be truncated)"
            )

    def read(self, numbers: Iterable[int], progress: bool = False) -> dict[int, np.ndarray]:
        """``{number: rgb}`` for the given frame numbers (each must exist)."""
        numbers = sorted(set(int(n) for n in numbers))
        known = set(self.numbers)
        missing = [n for n in numbers if n not in known]
        if missing:
            raise ValueError(
                f"{self.path} has no frame {missing[0]} (its frames are numbered {self.numbers[0]}..{self.numbers[-1]})"
            )
        if self.kind == "folder":
            path_of = dict(zip(self.numbers, self.frame_paths))
            return {n: frame_io.read_rgb(path_of[n]) for n in numbers}
        wanted = set(numbers)
        with tqdm(total=len(wanted), disable=True) as bar:
            return dict(self._video_frames(wanted, bar))


def _folder_source(folder: Path) -> FrameSource:
    files = sorted(
        (p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES), key=_natural_key
    )
    if not files:
        raise ValueError(f"no frame images ({', '.join(IMAGE_SUFFIXES)}) in folder {folder}")
    numbers = [_TRAILING_NUMBER.search(p.stem) for p in files]
    if all(numbers) and len({int(m.group(1)) for m in numbers}) == len(files):
        order = sorted(zip((int(m.group(1)) for m in numbers), files))
        return FrameSource(folder, "folder", tuple(n for n, _ in order), tuple(str(p) for _, p in order))
    log.info("%s: frame files are not all numbered distinctly; numbering them 0.. in name order", folder)
    return FrameSource(folder, "folder", tuple(range(len(files))), tuple(str(p) for p in files))


def _video_source(path: Path) -> FrameSource:
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            raise ValueError(f"cannot open {path} as a video (OpenCV cannot read it); give a video file or a folder")
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        fps = float(capture.get(cv2.CAP_PROP_FPS)) or None
        ok, _ = capture.read()
    finally:
        capture.release()
    if not ok:
        raise ValueError(f"no frame could be decoded from video {path}")
    if count <= 0:
        raise ValueError(f"video {path} does not report its frame count; convert it to a folder of frames first")
    return FrameSource(path, "video", tuple(range(count)), fps=fps)


def open_clip(path: str | Path) -> FrameSource:
    """The frames of ``path``: a folder of images or a video file; clear errors for anything else."""
    path = Path(path).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"input not found: {path}")
    return _folder_source(path) if path.is_dir() else _video_source(path)


def write_video(frames_rgb: Iterable[np.ndarray], path: str | Path, fps: float = 30.0) -> Path:
    """Write RGB frames to a lossless-enough video (MJPG ``.avi``), e.g. to try ``predict`` on a demo clip."""
    path = Path(path)
    frames_rgb = list(frames_rgb)
    if not frames_rgb:
        raise ValueError("write_video needs at least one frame")
    height, width = frames_rgb[0].shape[:2]
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (width, height))
    if not writer.isOpened():
        raise ValueError(f"OpenCV cannot write video {path}")
    try:
        for frame in frames_rgb:
            writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    finally:
        writer.release()
    return path
