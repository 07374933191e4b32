"""A LOSO command on a tiny CASME II tree: what its result records, and what it refuses before any work."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

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
