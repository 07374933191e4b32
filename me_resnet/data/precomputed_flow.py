"""Reader for the precomputed 28x28 onset->apex flow images the STSTNet authors distributed.

Each image is one clip: 3 channels (u, v, optical strain), 8-bit, 28x28
(github.com/christy1206/STSTNet, input folder ``norm_u_v_os``). Two layouts:

- **per subject** (LOSO-ready): ``<root>/<subject>/u_test/<label>/<name>.png``
  and ``<root>/<subject>/u_train/<label>/<name>.png``; labels ``0`` negative,
  ``1`` positive, ``2`` surprise. A subject's clips are its ``u_test`` files;
  ``u_train`` (the other subjects' clips) is not read, only checked for
  unknown label folders and for test clips of the same subject (a leak).
- **flat**: ``<root>/<subject>_<clip>.png``, labels from the MEGC 2019 list.

File names are ``<subject>_<clip>`` (``sub01_EP02_01f``, ``s01_s01_ne_01``,
``006_006_1_2``) or, for SMIC / SAMM, just the clip (``s1_ne_01``, ``006_1_2``);
some real files have a space before ``.png``, which is stripped. The dataset
follows from the subject: ``subNN`` CASME II, ``sN``/``sNN`` SMIC, three
digits SAMM. Names are compared with the MEGC 2019 list through
``protocols.canonical_subject`` / ``canonical_clip``.

Pixel values: the images store each channel min-max scaled to 0..255 (the
folder is named ``norm_u_v_os``), so the sign of u and v is NOT centred at
zero: sign-flipping augmentation is wrong on these features (``Features.info``
says so). ``value_range="unit"`` (default) divides by 255; ``"raw"`` keeps
0..255 as the authors' PyTorch port fed them. Channel order: OpenCV reads BGR;
the file's RGB = (u, v, strain) order is restored.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from pathlib import Path

import cv2
import numpy as np

from me_resnet.data.protocols import canonical_clip, canonical_subject, read_megc2019_list
from me_resnet.data.records import CLASS_NAMES, Features
from me_resnet.utils.images import read_image

log = logging.getLogger(__name__)

IMAGE_SIZE = 28
CHANNELS = ("u", "v", "strain")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")
LABEL_FOLDERS = {str(index): index for index in range(len(CLASS_NAMES))}
VALUE_RANGES = ("unit", "raw")
_LIST_SHOWN = 20  # names listed in a warning before "... and N more"

# (pattern, dataset); group "subject" is the subject, group "clip" the clip name.
_NAME_PATTERNS = (
    (re.compile(r"^(?P<subject>sub\d+)_(?P<clip>.+)$", re.IGNORECASE), "casme2"),
    (re.compile(r"^(?P<prefix>s\d+)_(?P<clip>(?P<subject>s\d+)_(?:ne|po|sur)_\d+)$", re.IGNORECASE), "smic"),
    (re.compile(r"^(?P<clip>(?P<subject>s\d+)_(?:ne|po|sur)_\d+)$", re.IGNORECASE), "smic"),
    (re.compile(r"^(?P<prefix>\d{3})_(?P<clip>(?P<subject>\d{3})_\d+_\d+)$"), "samm"),
    (re.compile(r"^(?P<clip>(?P<subject>\d{3})_\d+_\d+)$"), "samm"),
)


def clip_stem(path: Path) -> str:
    """File name without extension and without the stray spaces some files carry (``'x .png'``)."""
    return path.name[: -len(path.suffix)].strip() if path.suffix else path.name.strip()


def parse_sample_name(stem: str, source: Path | str = "") -> tuple[str, str, str]:
    """``(dataset, subject, clip)`` as written in a file name stem (see module docstring)."""
    for pattern, dataset in _NAME_PATTERNS:
        match = pattern.match(stem)
        if not match:
            continue
        groups = match.groupdict()
        subject = groups["subject"]
        prefix = groups.get("prefix")
        if prefix is not None and canonical_subject(dataset, prefix) != canonical_subject(dataset, subject):
            raise ValueError(f"{source or stem}: subject prefix {prefix!r} does not match clip {groups['clip']!r}")
        return dataset, prefix or subject, groups["clip"]
    raise ValueError(
        f"{source or stem}: cannot tell dataset/subject/clip from the name {stem!r}; expected e.g. "
        "'sub01_EP02_01f', 's01_s01_ne_01', 's1_ne_01', '006_006_1_2' or '006_1_2'"
    )


def _key(dataset: str, subject: str, clip: str) -> tuple[str, str, str]:
    return dataset, canonical_subject(dataset, subject), canonical_clip(dataset, clip)


def _image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def _read_image(path: Path) -> np.ndarray:
    """One 28x28 (u, v, strain) image as uint8 (H, W, 3); errors name the file."""
    image = read_image(path, cv2.IMREAD_UNCHANGED)
    if image.ndim != 3 or image.shape[2] != 3 or image.shape[:2] != (IMAGE_SIZE, IMAGE_SIZE):
        raise ValueError(
            f"{path}: expected a {IMAGE_SIZE}x{IMAGE_SIZE} 3-channel (u, v, strain) image, got shape {image.shape}"
        )
    if image.dtype != np.uint8:
        raise ValueError(f"{path}: expected 8-bit pixels, got {image.dtype}")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def _label_folders(split_dir: Path) -> list[tuple[int, Path]]:
    folders = []
    for folder in sorted(p for p in split_dir.iterdir() if p.is_dir()):
        if folder.name not in LABEL_FOLDERS:
            raise ValueError(
                f"{folder}: unknown label folder {folder.name!r}; expected {sorted(LABEL_FOLDERS)} "
                f"({', '.join(f'{i} {name}' for i, name in enumerate(CLASS_NAMES))})"
            )
        folders.append((LABEL_FOLDERS[folder.name], folder))
    return folders


def detect_layout(root: Path) -> str:
    """``"per_subject"`` if subject folders hold ``u_test``, ``"flat"`` if root holds images."""
    if any((p / "u_test").is_dir() for p in root.iterdir() if p.is_dir()):
        return "per_subject"
    if _image_files(root):
        return "flat"
    raise ValueError(
        f"{root}: neither layout found: no '<subject>/u_test/<label>/*.png' folders and no images directly in it"
    )


def _scan_per_subject(root: Path) -> list[dict]:
    """One entry per u_test image; checks u_test/u_train label folders and test-in-train leaks."""
    samples: list[dict] = []
    seen: dict[tuple[str, str, str], Path] = {}
    for subject_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        test_dir = subject_dir / "u_test"
        if not test_dir.is_dir():
            raise ValueError(f"{subject_dir}: subject folder without 'u_test' (per-subject layout of {root})")
        test_stems = set()
        for label, folder in _label_folders(test_dir):
            for path in _image_files(folder):
                dataset, subject, clip = parse_sample_name(clip_stem(path), path)
                key = _key(dataset, subject, clip)
                if key in seen:
                    raise ValueError(f"clip {clip!r} appears twice in u_test: {seen[key]} and {path}")
                seen[key] = path
                test_stems.add(clip_stem(path))
                samples.append(
                    dict(key=key, subject=subject_dir.name, clip=clip, dataset=dataset, label=label, path=path)
                )
        train_dir = subject_dir / "u_train"
        if train_dir.is_dir():
            for _, folder in _label_folders(train_dir):
                leaked = sorted(clip_stem(p) for p in _image_files(folder) if clip_stem(p) in test_stems)
                if leaked:
                    raise ValueError(
                        f"{folder}: test clips of subject {subject_dir.name!r} also in its u_train: {leaked}"
                    )
    for sample in samples:  # after the duplicate check, so a misplaced copy is reported with both paths
        dataset, folder_subject = sample["dataset"], sample["path"].parent.parent.parent.name
        if sample["key"][1] != canonical_subject(dataset, folder_subject):
            raise ValueError(
                f"{sample['path']}: clip of subject {sample['key'][1]!r} inside subject folder {folder_subject!r}"
            )
    return samples


def _scan_flat(root: Path) -> list[dict]:
    samples: list[dict] = []
    seen: dict[tuple[str, str, str], Path] = {}
    for path in _image_files(root):
        dataset, subject, clip = parse_sample_name(clip_stem(path), path)
        key = _key(dataset, subject, clip)
        if key in seen:
            raise ValueError(f"clip {clip!r} of subject {subject!r} appears twice: {seen[key]} and {path}")
        seen[key] = path
        samples.append(dict(key=key, subject=subject, clip=clip, dataset=dataset, label=None, path=path))
    return samples


def _shown(names) -> str:
    names = sorted("/".join(name) for name in names)
    more = f" ... and {len(names) - _LIST_SHOWN} more" if len(names) > _LIST_SHOWN else ""
    return ", ".join(names[:_LIST_SHOWN]) + more


def _match_list(samples: list[dict], megc_list, root: Path) -> tuple[list[dict], list, list]:
    """Keep the samples on the MEGC 2019 list, label them from it; warn about missing / extra."""
    entries = read_megc2019_list(megc_list)
    listed = {(dataset, *key): label for dataset, rows in entries.items() for key, label in rows.items()}
    kept, extra = [], []
    for sample in samples:
        label = listed.get(sample["key"])
        if label is None:
            extra.append(sample["key"])
            continue
        if sample["label"] is not None and sample["label"] != label:
            raise ValueError(
                f"{sample['path']}: label folder says {sample['label']} ({CLASS_NAMES[sample['label']]}), "
                f"the MEGC 2019 list says {label} ({CLASS_NAMES[label]})"
            )
        kept.append({**sample, "label": label})
    found = {sample["key"] for sample in samples}
    missing = sorted(key for key in listed if key not in found)
    if missing:
        log.warning("%s: %d clip(s) of the MEGC 2019 list not found: %s", root, len(missing), _shown(missing))
    if extra:
        log.warning("%s: %d clip(s) not on the MEGC 2019 list, skipped: %s", root, len(extra), _shown(extra))
    return kept, missing, extra


def load_precomputed_flow(root, *, megc_list=None, value_range: str = "unit") -> Features:
    """Read precomputed (u, v, strain) 28x28 flow images into ``Features``.

    Args:
        root: folder in the per-subject or the flat layout (module docstring).
        megc_list: path of a ``combined_3class_gt.csv``; ``None`` = the shipped
            list. It labels flat-layout files, and in both layouts decides which
            clips are kept (others are skipped with a warning) and which are
            reported missing. A label folder contradicting it is an error.
        value_range: ``"unit"`` (pixels / 255) or ``"raw"`` (0..255).

    Returns:
        ``Features`` with X float32 (n, 28, 28, 3), channels ``("u", "v", "strain")``,
        subjects as on disk, datasets ``casme2``/``smic``/``samm``, clips; ``info``
        holds the layout, the missing / skipped clip keys and the pixel encoding.
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"precomputed flow folder {str(root)!r} does not exist")
    if value_range not in VALUE_RANGES:
        raise ValueError(f"value_range must be one of {VALUE_RANGES}, got {value_range!r}")
    layout = detect_layout(root)
    samples = _scan_per_subject(root) if layout == "per_subject" else _scan_flat(root)
    samples, missing, extra = _match_list(samples, megc_list, root)
    if not samples:
        raise ValueError(f"{root}: no clip of the MEGC 2019 list found ({layout} layout)")
    X = np.stack([_read_image(sample["path"]) for sample in samples]).astype(np.float32)
    if value_range == "unit":
        X /= 255.0
    counts = Counter(sample["dataset"] for sample in samples)
    log.info("%s: %d clips (%s), %s layout", root, len(samples), dict(counts), layout)
    return Features(
        X=X,
        y=np.array([sample["label"] for sample in samples], dtype=np.int64),
        subjects=np.array([sample["subject"] for sample in samples]),
        datasets=np.array([sample["dataset"] for sample in samples]),
        clips=np.array([sample["clip"] for sample in samples]),
        channels=CHANNELS,
        info={
            "source": "precomputed_flow",
            "root": str(root),
            "layout": layout,
            "value_range": value_range,
            "encoding": "8-bit, each channel min-max scaled per image: u and v are not zero-centred, "
            "do not sign-flip them for augmentation",
            "missing": ["/".join(key) for key in missing],
            "skipped_not_on_list": ["/".join(key) for key in extra],
        },
    )
