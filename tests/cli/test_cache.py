"""``me-resnet cache``: list the caches with sizes, prune them, never a run dir in use."""

import os
import re
import time

from me_resnet.cli import cache as cache_cli
from me_resnet.evaluation.run_dir import RunDirLock


def test_list_and_prune_with_sizes_and_locked_runs_kept(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ME_RESNET_CACHE", str(tmp_path))
    entry = tmp_path / "features" / "sequence" / "ab" / "ab12.npz"
    entry.parent.mkdir(parents=True)
    entry.write_bytes(b"x" * 3000)
    old = time.time() - 10 * 86400
    os.utime(entry, (old, old))
    runs = {}
    for name in ("finished", "in_use"):
        runs[name] = tmp_path / "runs" / "demo" / "table5" / name
        runs[name].mkdir(parents=True)
        (runs[name] / "config.json").write_text("{}")
        (runs[name] / "manifest.json").write_text('{"status": "%s"}' % name)
    (tmp_path / "pretrained").mkdir()
    (tmp_path / "pretrained" / "resnet50_cbam.keras").write_bytes(b"w" * 2048)

    assert cache_cli.main(["list", "--all"]) == 0
    listed = capsys.readouterr().out
    assert re.search(r"features +1 entries +2\.9 KiB", listed) and re.search(r"runs +2 entries", listed)
    assert re.search(r"pretrained +1 entries +2\.0 KiB", listed) and "[finished]" in listed

    assert cache_cli.main(["prune", "features", "--older-than", "30"]) == 0  # written 10 days ago: kept
    assert entry.exists() and "features: removed 0 entries" in capsys.readouterr().out
    assert cache_cli.main(["prune", "features", "--older-than", "5", "--dry-run"]) == 0
    assert entry.exists() and "features: would remove 1 entries, 2.9 KiB" in capsys.readouterr().out
    lock = RunDirLock(runs["in_use"]).acquire()
    try:
        assert cache_cli.main(["prune", "all"]) == 0
    finally:
        lock.release()
    out = capsys.readouterr().out
    assert "runs: removed 1 entries" in out and f"skipped {runs['in_use']}: in use" in out
    assert not entry.exists() and not runs["finished"].exists() and runs["in_use"].exists()
    assert not (tmp_path / "pretrained" / "resnet50_cbam.keras").exists()
