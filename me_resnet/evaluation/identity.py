"""What names a LOSO run directory: a hash of its config and a hash of the code that trains its folds.

A rerun resumes only folds that the same config and the same training code
computed; changed training code starts fresh run directories instead of mixing
folds of two code versions.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from me_resnet.config import Config

PACKAGE_ROOT = Path(__file__).resolve().parent.parent

# Code that decides what a fold predicts, given its features and config: every module of these
# subpackages, plus the evaluation modules that split and run folds. Paths relative to the package.
TRAINING_CODE = (
    "models",
    "training",
    "evaluation/folds.py",
    "evaluation/runner.py",
    "evaluation/fold_parallel.py",
)


def config_hash(config: Config) -> str:
    return hashlib.sha256(config.to_json().encode()).hexdigest()[:10]


def training_code_files(root: Path = PACKAGE_ROOT) -> list[Path]:
    """The ``.py`` files of ``TRAINING_CODE`` under ``root`` that exist, in a fixed order."""
    files = []
    for entry in TRAINING_CODE:
        path = root / entry
        if path.is_dir():
            files += [file for file in path.rglob("*.py") if "__pycache__" not in file.parts]
        elif path.is_file():
            files.append(path)
    return sorted(files, key=lambda file: file.relative_to(root).as_posix())


def code_fingerprint(root: Path = PACKAGE_ROOT) -> str:
    """Hash of the training code on disk (file paths and contents): part of every run dir's name."""
    digest = hashlib.sha256()
    for file in training_code_files(root):
        digest.update(file.relative_to(root).as_posix().encode() + b"\0")
        digest.update(file.read_bytes() + b"\0")
    return digest.hexdigest()[:8]
