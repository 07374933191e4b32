"""A cheap check that a file is a Keras 3 ``.keras`` model, made before any expensive work.

A ``.keras`` file is a zip archive holding ``config.json`` (the model's
architecture), ``metadata.json`` and the weights (``model.weights.h5``). Reading
the archive's directory and its small ``config.json`` tells a model file from a
truncated download or a file of another format in milliseconds, without
importing Keras or building the model (a ResNet50 in the driver process would
hold its memory for the whole run). Whether the model fits the one it is
inflated into is checked where it is loaded (``models.resnet.load_inflated``).
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

CONFIG_MEMBER = "config.json"
WEIGHTS_PREFIX = "model.weights"


def check_keras_file(path, what: str = "model file") -> Path:
    """``path`` (user folder expanded) if it is a ``.keras`` model file; else an error naming ``what`` and the path.

    ``FileNotFoundError`` when there is no such file; ``ValueError`` when it is not a zip
    archive, lacks the architecture or the weights, or its ``config.json`` is not a model config.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"{what} {str(path)!r} does not exist")
    problem = _archive_problem(path)
    if problem:
        raise ValueError(f"{what} {str(path)!r} is not a Keras .keras model file: {problem}")
    return path


def _archive_problem(path: Path) -> str:
    """What is wrong with ``path`` as a ``.keras`` archive ("" if nothing)."""
    if not zipfile.is_zipfile(path):
        return "not a zip archive (truncated, or saved in another format?)"
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            if CONFIG_MEMBER not in names:
                return f"no {CONFIG_MEMBER} (the architecture) in the archive"
            if not any(name.startswith(WEIGHTS_PREFIX) for name in names):
                return f"no {WEIGHTS_PREFIX}.* (the weights) in the archive"
            config = json.loads(archive.read(CONFIG_MEMBER))
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        return f"unreadable archive ({type(error).__name__}: {error})"
    if not isinstance(config, dict) or "class_name" not in config:
        return f"its {CONFIG_MEMBER} is not a Keras model config"
    return ""
