"""A LOSO command on a tiny CASME II tree: what its result records, and what it refuses before any work."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

from me_resnet.cli import table5
from me_resnet.evaluation import experiment
from tests.support.trees import make_casme2

ROWS = [
    ("01", "EP01", 1, 3, 5, "happiness"),
    ("01", "EP02", 1, 2, 4, "disgust"),
    ("02", "EP01", 1, "/", 5, "surprise"),  # apex '/': repaired to the middle frame
    ("02", "EP02", 1, 2, 4, "disgust"),
    ("03", "EP01", 1, 3, 5, "happiness"),
    ("03", "EP02", 1, 2, 4, "surprise"),
    ("03", "EP03", 1, 2, 4, "disgust"),  # a frame missing on disk: dropped
]
REPAIRED, DROPPED = "casme2/sub02/EP01", "casme2/sub03/EP03"


@pytest.fixture(scope="module")
def casme2(tmp_path_factory) -> Path:
    root = make_casme2(tmp_path_factory.mktemp("data") / "CASME2", ROWS)
    (root / "CASME2_RAW_selected" / "sub03" / "EP03" / "img3.jpg").unlink()
    return root


def table5_flags(casme2: Path, tmp_path: Path, *extra: str) -> list[str]:
    """A small, fast STSTNet LOSO (composite scope) on the tree, everything written under ``tmp_path``."""
    return [
        "--casme2",
        str(casme2),
        "--methods",
        "ststnet",
        "--profile",
        "demo",
        "--no-pretraining",
        "--protocol",
        "paper_extended",
        "--face_detector",
        "center",
        "--flow_method",
        "farneback",
        "--image_size",
        "8",
        "--epochs",
        "1",
        "--batch_size",
        "4",
        "--executor",
        "local",
        "--engine",
        "per-fold",
        "--workers",
        "1",
        "--out",
        str(tmp_path / "out"),
        "--run-dir",
        str(tmp_path / "runs"),
        "--cache-dir",
        str(tmp_path / "cache"),
        *extra,
    ]


def test_what_the_loader_repaired_and_dropped_is_in_metrics_json_and_the_manifest(casme2, tmp_path):
    assert table5.main(table5_flags(casme2, tmp_path)) == 0
    document = json.loads((tmp_path / "out" / "metrics.json").read_text())
    loader = document["loader"]["ststnet"]["casme2"]
    assert loader["loaded"] == 6
    assert list(loader["repaired"]) == [REPAIRED] and "repaired to middle frame 3" in loader["repaired"][REPAIRED]
    assert list(loader["dropped"]) == [DROPPED] and "missing" in loader["dropped"][DROPPED]
    assert document["fallbacks"]["ststnet"]["loader_repaired"] == {"count": 1, "clips": [REPAIRED]}
    (manifest_path,) = (tmp_path / "runs").rglob("manifest.json")
    manifest = json.loads(manifest_path.read_text())
    assert manifest["loader"] == {"casme2": loader}
    assert manifest["fallbacks"]["loader_repaired"] == {"count": 1, "clips": [REPAIRED]}
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == [
        ".me_resnet_result.json",
        "metrics.csv",
        "metrics.json",
        "predictions.csv",
        "table5.md",
        "table5.png",
    ]
    shutil.rmtree(tmp_path / "cache")


def test_a_run_dir_of_another_run_is_one_line_and_status_2(casme2, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(experiment, "run_dir_name", lambda config, data: "taken")
    taken = tmp_path / "runs" / "ststnet" / "default" / "composite" / "taken"
    taken.mkdir(parents=True)
    (taken / "config.json").write_text(json.dumps({"model": "ststnet", "config": {}}))
    with pytest.raises(SystemExit) as exit_info:
        table5.main(table5_flags(casme2, tmp_path))
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    message = error.splitlines()[-1]  # the lines before it are the feature extraction's progress bar
    assert "holds the folds of a different run" in message and "delete that directory" in message
    assert message.startswith("me-resnet table5: run dir") and "Traceback" not in error


def fake_loaded(groups):
    """``{dataset: LoadResult-like}`` holding one record per ``dataset/subject`` group."""
    loaded = {}
    for group in groups:
        dataset, subject = group.split("/")
        loaded.setdefault(dataset, SimpleNamespace(records=[], problems=[])).records.append(
            SimpleNamespace(dataset=dataset, subject=subject)
        )
    return loaded


class FeaturesReached(Exception):
    """Raised where features would be extracted: every check before it has passed."""


@pytest.fixture
def no_data_work(monkeypatch):
    """Records load as 3 CASME II + 2 SMIC subjects; extracting features raises ``FeaturesReached``."""
    loaded = fake_loaded(["casme2/sub01", "casme2/sub02", "casme2/sub03", "smic/s1", "smic/s2"])
    monkeypatch.setattr(experiment, "load_records", lambda *args, **kwargs: loaded)

    def features(*args, **kwargs):
        raise FeaturesReached

    monkeypatch.setattr(experiment, "method_features", features)
    return loaded


def run_refused(argv, capsys) -> str:
    """The one line a command refusing ``argv`` writes to stderr (status 2, no traceback)."""
    with pytest.raises(SystemExit) as exit_info:
        table5.main(argv)
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert "Traceback" not in error and error.count("\n") == 1, error
    return error


@pytest.mark.parametrize("content", [None, b"not a model, e.g. an HTML error page", b"PK\x03\x04 truncated"])
def test_a_missing_or_junk_pretrained_file_stops_before_the_data_loads(tmp_path, monkeypatch, capsys, content):
    monkeypatch.setattr(experiment, "load_records", lambda *a, **k: pytest.fail("data loaded before the check"))
    weights = tmp_path / "weights.keras"
    if content is not None:
        weights.write_bytes(content)
    argv = ["--casme2", str(tmp_path), "--out", str(tmp_path / "out"), "--executor", "local"]
    error = run_refused([*argv, "--pretrained", str(weights)], capsys)
    assert f"--pretrained '{weights}'" in error
    assert ("does not exist" if content is None else "is not a Keras .keras model file") in error


def test_a_missing_fer2013_stops_before_the_data_loads(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(experiment, "load_records", lambda *a, **k: pytest.fail("data loaded before the check"))
    argv = ["--casme2", str(tmp_path), "--out", str(tmp_path / "out"), "--executor", "local"]
    error = run_refused([*argv, "--fer2013", str(tmp_path / "fer2013.csv")], capsys)
    assert "--fer2013" in error and "fer2013.csv' does not exist" in error


def test_folds_are_checked_in_the_scope_each_method_runs_before_any_feature(tmp_path, no_data_work, capsys):
    argv = ["--casme2", str(tmp_path), "--smic", str(tmp_path), "--out", str(tmp_path / "out"), "--executor", "local"]
    argv += ["--no-pretraining", "--folds", "4"]  # fold 4 exists only in the composite scope (5 subjects)
    error = run_refused([*argv, "--methods", "me_resnet"], capsys)  # me_resnet: LOSO per dataset
    assert "me_resnet runs its LOSO per dataset: --folds 4: no such fold" in error and "casme2: 0-2" in error
    with pytest.raises(FeaturesReached):
        table5.main([*argv, "--methods", "ststnet"])  # ststnet: composite LOSO, fold 4 is smic/s2
    error = run_refused([*argv, "--methods", "ststnet", "me_resnet"], capsys)
    assert "me_resnet runs its LOSO per dataset" in error


def test_folds_of_precomputed_flow_are_checked_before_any_fold_trains(tmp_path, monkeypatch, capsys):
    from me_resnet.models.registry import method_config
    from tests.support.tiny import tiny_features

    def precomputed(directory, method, config, **kwargs):
        return tiny_features(subjects=3), method_config(method, config)

    monkeypatch.setattr(experiment, "precomputed_features", precomputed)
    monkeypatch.setattr(experiment, "run_method", lambda *a, **k: pytest.fail("a fold trained"))
    argv = [f"--precomputed-flow={tmp_path}", "--methods", "ststnet", "--no-pretraining", "--executor", "local"]
    error = run_refused([*argv, "--out", str(tmp_path / "out"), "--folds", "3"], capsys)
    assert "ststnet runs its LOSO per composite: --folds 3: no such fold" in error and "composite: 0-2" in error


def test_a_foreign_folder_where_the_demo_goes_is_one_line_after_the_workers_started(tmp_path, monkeypatch, capsys):
    """``--demo`` writes its data after the fold workers were started (their start-up overlaps it); a folder
    there that the generator did not write still stops the command with one line, and is left alone."""
    from me_resnet.parallel.executors import PoolExecutor

    started = []
    monkeypatch.setattr(PoolExecutor, "start", lambda self: started.append(self.workers))
    monkeypatch.setenv("ME_RESNET_CACHE", str(tmp_path / "cache"))
    foreign = tmp_path / "cache" / "demo" / "casme2" / "mine.txt"
    foreign.parent.mkdir(parents=True)
    foreign.write_text("not demo data")
    error = run_refused(["--demo", "--executor", "pool", "--pool-workers", "2", "--out", str(tmp_path / "o")], capsys)
    assert "refusing to write demo data" in error and foreign.read_text() == "not demo data"
    assert started == [2]


def test_fold_workers_start_early_only_while_the_demo_data_is_written(tmp_path, monkeypatch):
    """With the demo data already there (a rerun, which may resume every fold) the workers are not started ahead."""
    from me_resnet.cli import common
    from me_resnet.parallel.executors import PoolExecutor

    class Loaded(Exception):
        pass

    started = []
    monkeypatch.setattr(PoolExecutor, "start", lambda self: started.append(self.workers))
    monkeypatch.setattr(common, "demo_data_ready", lambda: True)
    monkeypatch.setattr(common, "ensure_demo_data", lambda: tmp_path)
    monkeypatch.setattr(experiment, "load_records", lambda *a, **k: (_ for _ in ()).throw(Loaded()))
    with pytest.raises(Loaded):
        table5.main(["--demo", "--executor", "pool", "--pool-workers", "2", "--out", str(tmp_path / "o")])
    assert started == []
