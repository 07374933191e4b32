"""``me-resnet datasets``: text and JSON reports, env roots, the no-dataset message."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from me_resnet.cli.datasets import main
from me_resnet.data.demo import DATASET_MARKER
from tests.data.test_casme2 import ROWS as CASME2_ROWS
from tests.data.test_smic import CLIPS as SMIC_CLIPS
from tests.support.trees import make_casme2, make_smic

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def roots(tmp_path):
    casme2 = make_casme2(tmp_path / "casme2", CASME2_ROWS, skip=("EP03_01",))
    make_smic(tmp_path / "smic", SMIC_CLIPS)
    return casme2, tmp_path / "smic"


@pytest.fixture(autouse=True)
def no_env_roots(monkeypatch):
    for name in ("ME_RESNET_CASME2", "ME_RESNET_SAMM", "ME_RESNET_SMIC"):
        monkeypatch.delenv(name, raising=False)


def test_json_report_paper_protocol(roots, capsys):
    casme2, smic = roots
    assert main(["--casme2", str(casme2), "--smic", str(smic), "--protocol", "paper_extended", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["protocol"] == "paper_extended"
    entry = report["datasets"]["casme2"]
    assert entry["clips"] == 5 and entry["classes"] == {"negative": 3, "positive": 1, "surprise": 1}
    assert entry["subjects"] == {"sub01": 2, "sub02": 1, "sub04": 1, "sub05": 1}
    assert any("EP03_01: row without folder" in p for p in entry["problems"])
    assert report["datasets"]["smic"]["clips"] == 5


def test_text_report_bad_apex_drop_and_env_root(roots, capsys, monkeypatch):
    casme2, _ = roots
    monkeypatch.setenv("ME_RESNET_CASME2", str(casme2))
    assert main(["--protocol", "paper_extended", "--bad-apex", "drop"]) == 0
    out = capsys.readouterr().out
    assert "clips: 4" in out and "per class: negative 2, positive 1, surprise 1" in out
    assert "per subject (3): sub01 2, sub02 1, sub05 1" in out
    assert "EP12_01f: apex is not a frame number (e.g. '/')" in out and "clip dropped" in out


def test_a_demo_tree_says_which_part_of_the_list_it_holds_instead_of_listing_the_rest(roots, capsys):
    casme2, _ = roots
    assert main(["--casme2", str(casme2), "--json"]) == 0
    real = json.loads(capsys.readouterr().out)["datasets"]["casme2"]
    (casme2 / DATASET_MARKER).write_text("written by the demo generator\n")
    assert main(["--casme2", str(casme2), "--json"]) == 0
    demo = json.loads(capsys.readouterr().out)["datasets"]["casme2"]
    absent = [p for p in real["problems"] if "in the megc2019 list but no row" in p]
    assert absent and "demo_subset" not in real
    assert demo["problems"] == [p for p in real["problems"] if p not in absent]
    assert demo["demo_subset"] == {"listed": 145, "held": 145 - len(absent)}
    assert main(["--casme2", str(casme2)]) == 0
    text = capsys.readouterr().out
    assert f"demo data: {145 - len(absent)} of the megc2019 list's 145 clips, by design" in text
    assert "in the megc2019 list but no row" not in text


def test_load_error_is_reported_not_raised(tmp_path, capsys):
    assert main(["--samm", str(tmp_path / "no_samm")]) == 1
    assert "ERROR:" in capsys.readouterr().out


def test_no_dataset_message_exit_2_without_traceback():
    env = {k: v for k, v in os.environ.items() if not k.startswith("ME_RESNET_")}
    run = subprocess.run(
        [sys.executable, "-m", "me_resnet.cli", "datasets"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 2
    assert "--casme2 DIR" in run.stderr and "ME_RESNET_CASME2" in run.stderr
    assert "Traceback" not in run.stderr
