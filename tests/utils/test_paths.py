"""Where the kit keeps generated data (me_resnet/utils/paths.py)."""

from __future__ import annotations

from pathlib import Path

from me_resnet.utils import paths


def test_cache_root_prefers_me_resnet_cache_then_xdg_then_home(tmp_path, monkeypatch):
    monkeypatch.setenv("ME_RESNET_CACHE", str(tmp_path / "mine"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert paths.cache_root() == tmp_path / "mine"
    monkeypatch.delenv("ME_RESNET_CACHE")
    assert paths.cache_root() == tmp_path / "xdg" / "me_resnet"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert paths.cache_root() == tmp_path / "home" / ".cache" / "me_resnet"


def test_kinds_live_under_the_cache_root_and_an_override_wins(tmp_path, monkeypatch):
    monkeypatch.setenv("ME_RESNET_CACHE", str(tmp_path))
    assert paths.feature_cache_dir() == tmp_path / "features"
    assert paths.feature_cache_dir("~/elsewhere") == Path.home() / "elsewhere"
    assert (paths.demo_data_dir(), paths.runs_dir()) == (tmp_path / "demo", tmp_path / "runs")


def test_dataset_root_from_env(monkeypatch):
    monkeypatch.setenv("ME_RESNET_SAMM", "~/SAMM")
    monkeypatch.setenv("ME_RESNET_SMIC", "")
    assert paths.dataset_root_from_env("samm") == Path.home() / "SAMM"
    assert paths.dataset_root_from_env("smic") is None  # set but empty: not given
    assert set(paths.DATASET_ENV_VARS) == {"casme2", "samm", "smic", "fer2013"}


def test_repository_locations():
    assert (paths.REPO_ROOT / "me_resnet" / "utils" / "paths.py").is_file()
    assert (paths.PACKAGE_DATA / "__init__.py").is_file() and paths.RESULTS_DIR == paths.REPO_ROOT / "results"
