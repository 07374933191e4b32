"""Per-clip disk cache of the expensive pre-processing results (docs/method.md).

One ``.npz`` per clip and feature kind under
``paths.feature_cache_dir(cache_dir)/<kind>/<hh>/<hash>.npz``. The file name is
a hash of everything that changes its content: the key frames' paths, sizes and
modification times, N, face detector / margin / alignment, image size, flow method, flow resolution and Farneback
parameters, a hash of the pre-processing code on disk (``PREPROCESSING_CODE``,
read once per process), its declared version (``PREPROCESSING_VERSION``, which
model cards check) and the installed versions of the libraries that compute the
features (OpenCV, mtcnn, NumPy): an edit of that code or an upgrade of any of
them gives new entries, never a silent reuse of old ones. Settings applied at load time (scale factor a, flow_mode,
mask_reading and its mask_sigma / mask_regions, channels, normalise) are deliberately NOT part of the key: the
cache holds the unmasked flow and the grey differences P_i, so a sweep over
them recomputes no flow.

Files are written atomically (temporary file + ``os.replace``) and carry a
checksum of their arrays; a file that fails to load, has the wrong shapes or
the wrong checksum is logged, deleted and recomputed, never used.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
import os
import zlib
from pathlib import Path

import cv2
import numpy as np

from me_resnet.config import FARNEBACK_FIELDS, Config
from me_resnet.preprocessing.face import DETECTION_SIDE
from me_resnet.utils.fingerprint import package_fingerprint
from me_resnet.utils.io import temporary_file

log = logging.getLogger(__name__)

CACHE_FORMAT = 1
PREPROCESSING_VERSION = 1
"""Bump whenever a change to the pre-processing code changes what a cache entry holds (model cards compare it)."""
PREPROCESSING_CODE = ("preprocessing", "utils/images.py")
"""The code that computes a cache entry (relative to the package): any edit to it gives new entries."""
FEATURE_LIBRARIES = ("numpy", "opencv-python-headless", "opencv-contrib-python-headless")
DETECTOR_LIBRARIES = ("mtcnn", "tensorflow")  # MTCNN runs on TensorFlow: both change the face boxes
_CHECKSUM = "checksum"


def library_versions(names=FEATURE_LIBRARIES + DETECTOR_LIBRARIES) -> dict[str, str]:
    """Installed versions of the libraries ``names`` plus the imported ``cv2`` (``"absent"``: not installed)."""
    versions = {}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "absent"
    versions["cv2"] = cv2.__version__  # the module actually imported, whichever wheel provides it
    return versions


def preprocessing_fingerprint() -> str:
    """Hash of the ``PREPROCESSING_CODE`` files on disk (paths and contents), read once per process."""
    return package_fingerprint(PREPROCESSING_CODE)


def settings_for_kind(config: Config, kind: str) -> dict:
    """The settings that change a cached entry of ``kind`` (not the load-time ones)."""
    settings = {
        "format": CACHE_FORMAT,
        "preprocessing_version": PREPROCESSING_VERSION,
        "preprocessing_code": preprocessing_fingerprint(),
        "libraries": library_versions(FEATURE_LIBRARIES),
        "kind": kind,
        "image_size": config.image_size,
        "face_detector": config.face_detector,
    }
    if config.face_detector == "mtcnn":
        settings.update(face_margin=config.face_margin, face_align=config.face_align, detection_side=DETECTION_SIDE)
        settings["libraries"] |= library_versions(DETECTOR_LIBRARIES)
    if kind == "sequence":
        settings["num_frames"] = config.num_frames
    if kind in ("sequence", "apex_flow"):
        settings["flow_method"] = config.flow_method
        if config.flow_resolution != "model":  # only the other value enters, so model-size entries keep their key
            settings["flow_resolution"] = config.flow_resolution
    if kind in ("sequence", "apex_flow") and config.flow_method == "farneback":
        settings.update({name: getattr(config, name) for name in FARNEBACK_FIELDS})
    return settings


def _digest(payload) -> str:
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def settings_hash(config: Config, kind: str) -> str:
    """Short hash of ``settings_for_kind``: the run-level cache key in ``Features.info``."""
    return _digest(settings_for_kind(config, kind))[:16]


def entry_path(root: Path, kind: str, settings: dict, clip_key: str, frame_signatures: list) -> Path:
    """Where the entry for one clip lives; changes whenever its content would."""
    digest = _digest({"settings": settings, "clip": clip_key, "frames": frame_signatures})
    return Path(root) / kind / digest[:2] / f"{digest}.npz"


def _checksum(arrays: dict[str, np.ndarray]) -> str:
    value = 0
    for name in sorted(arrays):
        array = np.ascontiguousarray(arrays[name])
        header = f"{name}:{array.dtype.str}:{array.shape}".encode()
        value = zlib.crc32(memoryview(array).cast("B"), zlib.crc32(header, value))
    return f"{value:08x}"


def save_entry(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write ``arrays`` plus their checksum to ``path`` atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = dict(arrays)
    payload[_CHECKSUM] = np.array(_checksum(arrays))
    handle, temporary = temporary_file(path.parent, prefix=path.stem, suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            np.savez(stream, **payload)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def load_entry(path: Path, expected_shapes: dict[str, tuple[int, ...]]) -> tuple[dict[str, np.ndarray] | None, str]:
    """``(arrays, status)``: status "hit", "miss" (no file) or "corrupt" (logged, deleted, arrays None).

    ``expected_shapes`` names the arrays that must be present with these shapes.
    """
    path = Path(path)
    if not path.is_file():
        return None, "miss"
    try:
        with np.load(path, allow_pickle=False) as stored:
            arrays = {name: stored[name] for name in stored.files}
        stored_checksum = str(arrays.pop(_CHECKSUM))
        problem = None
        for name, shape in expected_shapes.items():
            if name not in arrays:
                problem = f"array {name!r} missing"
            elif arrays[name].shape != tuple(shape):
                problem = f"array {name!r} has shape {arrays[name].shape}, expected {tuple(shape)}"
        if problem is None and _checksum(arrays) != stored_checksum:
            problem = "checksum mismatch"
    except Exception as error:  # truncated zip, bad header, missing checksum...
        problem = f"{type(error).__name__}: {error}"
    if problem is not None:
        log.warning("corrupt feature cache file %s (%s); recomputing", path, problem)
        path.unlink(missing_ok=True)
        return None, "corrupt"
    return arrays, "hit"
