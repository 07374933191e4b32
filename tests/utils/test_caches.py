"""What the kit keeps under its cache root, and removing it (me_resnet/utils/caches.py).

``tests/cli/test_cache.py`` runs ``me-resnet cache`` over the same entries, locked run directories included.
"""

from __future__ import annotations

import os
import time

import pytest

from me_resnet.utils import caches


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ME_RESNET_CACHE", str(tmp_path))
    feature = tmp_path / "features" / "sequence" / "ab" / "ab12.npz"
    feature.parent.mkdir(parents=True)
    feature.write_bytes(b"x" * 300)
    (feature.parent / "ab12.npz.tmp").write_bytes(b"partial")  # not an entry
    for name, manifest in (("done", '{"status": "finished"}'), ("broken", "{not json")):
        run = tmp_path / "runs" / "demo" / name
        (run / "fold_01").mkdir(parents=True)
        (run / "config.json").write_text("{}")
        (run / "fold_01" / "predictions.csv").write_bytes(b"y" * 100)
        (run / "manifest.json").write_text(manifest)
    return tmp_path


def test_entries_per_kind_with_sizes_and_run_status(cache):
    (feature,) = caches.entries("features")
    assert (feature.path.name, feature.size, feature.status) == ("ab12.npz", 300, "")
    runs = {entry.path.name: entry for entry in caches.entries("runs")}
    assert {name: entry.status for name, entry in runs.items()} == {"broken": "no manifest", "done": "finished"}
    assert runs["done"].size == 2 + 100 + len('{"status": "finished"}')  # every file below the run dir
    assert caches.entries("pretrained") == [] and caches.entries("demo") == []  # roots not there


def test_prune_only_what_is_older_than_asked_and_dry_run_removes_nothing(cache):
    feature = cache / "features" / "sequence" / "ab" / "ab12.npz"
    old = time.time() - 10 * 86400
    os.utime(feature, (old, old))
    removed, skipped = caches.prune(["features", "runs"], older_than_days=5, dry_run=True)
    assert [entry.path for entry in removed] == [feature] and skipped == [] and feature.exists()
    removed, _ = caches.prune(["features", "runs"], older_than_days=5)
    assert [entry.path for entry in removed] == [feature] and not feature.exists()
    assert len(caches.entries("runs")) == 2


def test_an_unknown_kind_is_refused_before_anything_is_removed(cache):
    with pytest.raises(ValueError, match=r"unknown cache kind 'model'; choose from \['features', 'runs'"):
        caches.prune(["features", "model"])
    assert len(caches.entries("features")) == 1


@pytest.mark.parametrize(
    ("size", "text"),
    [(0, "0 B"), (1023, "1023 B"), (1024, "1.0 KiB"), (1536, "1.5 KiB"), (3 * 1024**3, "3.0 GiB")]
    + [(5000 * 1024**3, "5000.0 GiB")],
)
def test_human_size(size, text):
    assert caches.human_size(size) == text
