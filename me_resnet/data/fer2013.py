"""FER2013 loader for 2D pre-training (docs/datasets.md, paper: "pretrain on Fer2013").

Accepted forms of ``root``:

- ``fer2013.csv`` (columns ``emotion,pixels,Usage``) or ``icml_face_data.csv``
  (same columns written with leading spaces: names are stripped), or a folder
  holding one of them (2 levels deep);
- the folder release ``train/<class>/*.jpg`` and ``test/<class>/*.jpg`` with
  lower-case class names. ``train`` -> ``Training``. ``test`` files whose name
  starts with ``PublicTest``/``PrivateTest`` keep that usage; the others are
  split deterministically per class in natural file-name order: first half
  ``PublicTest``, second half ``PrivateTest``.

``pixels`` must hold 2304 (48x48) integers 0..255; a bad row raises
``ValueError`` naming the file and its line number.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from tqdm import tqdm

from me_resnet.data.files import IMAGE_SUFFIXES, find_file, natural_key, sub_dirs
from me_resnet.utils.images import read_image

log = logging.getLogger(__name__)

FER2013_CLASSES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
USAGES = ("Training", "PublicTest", "PrivateTest")
CSV_NAMES = ("fer2013.csv", "icml_face_data.csv")
SIDE = 48


@dataclass
class Fer2013Data:
    images: np.ndarray  # (n, 48, 48) uint8
    labels: np.ndarray  # (n,) int, index into FER2013_CLASSES
    usage: np.ndarray  # (n,) str, one of USAGES

    def __len__(self) -> int:
        return len(self.labels)

    def split(self, usage: str) -> "Fer2013Data":
        if usage not in USAGES:
            raise ValueError(f"unknown FER2013 usage {usage!r}; choose one of {list(USAGES)}")
        keep = self.usage == usage
        return Fer2013Data(self.images[keep], self.labels[keep], self.usage[keep])


def _parse_pixels(text, path: Path, line: int) -> np.ndarray:
    text = str(text)
    try:
        values = np.fromstring(text, dtype=np.int64, sep=" ")  # C parser, several times faster than split()
    except ValueError:  # numpy 2: a token that is not an integer
        values = np.empty(0, np.int64)
    if len(values) != SIDE * SIDE:
        raise ValueError(
            f"{path} line {line}: 'pixels' has {len(text.split())} values "
            f"({len(values)} read as integers), expected {SIDE * SIDE} integers"
        )
    if values.min() < 0 or values.max() > 255:
        raise ValueError(f"{path} line {line}: 'pixels' values outside 0..255")
    return values.astype(np.uint8).reshape(SIDE, SIDE)


def load_fer2013_csv(path: Path) -> Fer2013Data:
    try:
        table = pd.read_csv(path, dtype=str)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise ValueError(f"cannot read {path} as a CSV file ({type(error).__name__}: {error})") from None
    table.columns = [str(name).strip() for name in table.columns]
    missing = [name for name in ("emotion", "pixels", "Usage") if name not in table.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {missing}; found {list(table.columns)}")
    images = np.empty((len(table), SIDE, SIDE), np.uint8)
    labels = np.empty(len(table), np.int64)
    rows = zip(table["emotion"], table["pixels"], table["Usage"])
    for index, (emotion, pixels, usage) in enumerate(
        tqdm(rows, total=len(table), desc=path.name, disable=len(table) < 5000 or None)
    ):
        line = index + 2  # header is line 1
        if str(emotion).strip() not in [str(i) for i in range(len(FER2013_CLASSES))]:
            raise ValueError(f"{path} line {line}: emotion {emotion!r} is not an id 0..6")
        if str(usage).strip() not in USAGES:
            raise ValueError(f"{path} line {line}: Usage {usage!r} is not one of {list(USAGES)}")
        labels[index] = int(emotion)
        images[index] = _parse_pixels(pixels, path, line)
    return Fer2013Data(images, labels, table["Usage"].str.strip().to_numpy(dtype=str))


def _test_usages(files: list[Path]) -> list[str]:
    """Usage per test file: from a ``PublicTest_``/``PrivateTest_`` name, else first half / second half."""
    unnamed = [f for f in files if not f.name.startswith(("PublicTest", "PrivateTest"))]
    half = (len(unnamed) + 1) // 2
    position = {f: i for i, f in enumerate(unnamed)}
    return [
        ("PublicTest" if f.name.startswith("PublicTest") else "PrivateTest")
        if f not in position
        else ("PublicTest" if position[f] < half else "PrivateTest")
        for f in files
    ]


def _read_face(path: Path, resized: list) -> np.ndarray:
    image = read_image(path, cv2.IMREAD_GRAYSCALE)
    if image.shape != (SIDE, SIDE):
        resized.append(path)
        image = cv2.resize(image, (SIDE, SIDE), interpolation=cv2.INTER_AREA)
    return image


def load_fer2013_folders(root: Path) -> Fer2013Data:
    images, labels, usage, resized = [], [], [], []
    for split in ("train", "test"):
        for class_dir in sub_dirs(root / split):
            name = class_dir.name.lower()
            if name not in FER2013_CLASSES:
                raise ValueError(
                    f"{class_dir}: unknown FER2013 class folder {class_dir.name!r}; expected {list(FER2013_CLASSES)}"
                )
            files = sorted(
                (p for p in class_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES),
                key=lambda p: natural_key(p.name),
            )
            usages = ["Training"] * len(files) if split == "train" else _test_usages(files)
            for path, file_usage in zip(tqdm(files, desc=f"{split}/{name}", disable=len(files) < 2000 or None), usages):
                images.append(_read_face(path, resized))
                labels.append(FER2013_CLASSES.index(name))
                usage.append(file_usage)
    if resized:
        log.warning("FER2013: %d images were not 48x48 and were resized (first: %s)", len(resized), resized[0])
    if not images:
        raise FileNotFoundError(f"no images in {root}/train/<class>/ or {root}/test/<class>/")
    return Fer2013Data(np.stack(images), np.array(labels, np.int64), np.array(usage, dtype=str))


def load_fer2013(root) -> Fer2013Data:
    """FER2013 faces (48x48 grey), labels (ids of ``FER2013_CLASSES``) and usage per image."""
    root = Path(root).expanduser()
    if root.is_file():
        return load_fer2013_csv(root)
    if not root.is_dir():
        raise FileNotFoundError(f"FER2013 path {str(root)!r} does not exist")
    if (root / "train").is_dir() and (root / "test").is_dir():
        return load_fer2013_folders(root)
    found = find_file(root, CSV_NAMES)
    if found is None:
        raise FileNotFoundError(f"no {list(CSV_NAMES)} (2 levels deep) and no train/ + test/ folders in {str(root)!r}")
    return load_fer2013_csv(found)
