"""What names a LOSO run directory: everything that decides what its folds predict.

``seed<s>-<config>-code<code>-stack<stack>-data<data>``: the seed; a hash of the
config; a hash of the code that trains the folds; a hash of the Keras backend
and the versions of Keras, NumPy and the backend library; a hash of the
features (shape, clip ids, the arrays' content) and of the pretrained weights'
content. A rerun with all of them unchanged finds its directory and resumes it;
a change to any (a fixed frame, re-pretrained weights at the same path, other
data under the same config, an upgraded TensorFlow) gives a new directory, so
folds of two different runs are never mixed.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from me_resnet.config import Config
from me_resnet.data.records import Features
from me_resnet.evaluation.run_dir import features_fingerprint, pretrained_sha256
from me_resnet.utils.fingerprint import (
    PACKAGE_ROOT,
    package_fingerprint,
    source_files,
    source_fingerprint,
    stack_versions,
)

# Code that decides what a fold predicts, given its features and config: every module of these
# subpackages (the fold-parallel engine and the compiled-model reuse among them), plus the evaluation
# modules that split and run folds. Paths relative to the package.
TRAINING_CODE = (
    "models",
    "training",
    "evaluation/folds.py",
    "evaluation/runner.py",
    "parallel",
)


def _short_hash(payload) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:10]


def config_hash(config: Config) -> str:
    return hashlib.sha256(config.to_json().encode()).hexdigest()[:10]


def training_code_files(root: Path = PACKAGE_ROOT) -> list[Path]:
    """The ``.py`` files of ``TRAINING_CODE`` under ``root`` that exist, in a fixed order."""
    return source_files(TRAINING_CODE, root)


def code_fingerprint(root: Path = PACKAGE_ROOT) -> str:
    """Hash of the training code on disk (file paths and contents); the installed package's is read once."""
    if Path(root) == PACKAGE_ROOT:
        return package_fingerprint(TRAINING_CODE)
    return source_fingerprint(TRAINING_CODE, root)


def stack_hash() -> str:
    """Hash of ``stack_versions()``: folds trained by another backend or library version are another run."""
    return _short_hash(stack_versions())[:8]


def data_hash(features: Features, config: Config) -> str:
    """Hash of what the folds learn from besides the config: the features and the pretrained weights' content."""
    return _short_hash({"features": features_fingerprint(features), "pretrained_sha256": pretrained_sha256(config)})


def run_dir_name(config: Config, data: str) -> str:
    """The name of the run directory of a LOSO of ``config`` (its seed included) on data ``data_hash`` ``data``."""
    return f"seed{config.seed}-{config_hash(config)}-code{code_fingerprint()}-stack{stack_hash()}-data{data}"
