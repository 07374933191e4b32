"""Where the kit keeps generated data: caches, demo datasets, run directories.

Nothing here is ever committed. The root is ``$ME_RESNET_CACHE`` if set, else
``~/.cache/me_resnet`` (``$XDG_CACHE_HOME`` respected).
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
PACKAGE_DATA = Path(__file__).resolve().parents[1] / "data"
RESULTS_DIR = REPO_ROOT / "results"

DATASET_ENV_VARS = {
    "casme2": "ME_RESNET_CASME2",
    "samm": "ME_RESNET_SAMM",
    "smic": "ME_RESNET_SMIC",
    "fer2013": "ME_RESNET_FER2013",
}


def cache_root() -> Path:
    if os.environ.get("ME_RESNET_CACHE"):
        return Path(os.environ["ME_RESNET_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "me_resnet"


def feature_cache_dir(override: str | os.PathLike | None = None) -> Path:
    return Path(override).expanduser() if override else cache_root() / "features"


def demo_data_dir() -> Path:
    return cache_root() / "demo"


def runs_dir() -> Path:
    return cache_root() / "runs"


def dataset_root_from_env(dataset: str) -> Path | None:
    value = os.environ.get(DATASET_ENV_VARS[dataset])
    return Path(value).expanduser() if value else None
