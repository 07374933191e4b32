"""Atomic writes: the old file or the new one, with the mode an ordinary ``open`` gives under the umask."""

from __future__ import annotations

import os
import stat

import numpy as np
import pandas as pd
import pytest

from me_resnet.preprocessing.cache import save_entry
from me_resnet.reporting.outputs import write_csv, write_json
from me_resnet.utils.io import current_umask, write_json_atomic


@pytest.fixture
def umask():
    """Set the process umask for one test and put the old one back."""
    saved = os.umask(0o022)
    os.umask(saved)
    yield lambda mask: os.umask(mask)
    os.umask(saved)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize("mask, expected", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_result_run_and_cache_files_follow_the_umask(tmp_path, umask, mask, expected):
    umask(mask)
    assert current_umask() == mask
    write_json_atomic(tmp_path / "manifest.json", {"a": 1})
    write_json(tmp_path / "metrics.json", {"a": 1})
    write_csv(tmp_path / "predictions.csv", pd.DataFrame({"clip": ["c1"]}))
    save_entry(tmp_path / "entry.npz", {"flow": np.zeros(3, np.float32)})
    assert {path.name: mode(path) for path in tmp_path.iterdir()} == {
        name: expected for name in ("manifest.json", "metrics.json", "predictions.csv", "entry.npz")
    }
