"""Every reproduce script end to end on the demo data with a tiny override, plus the no-data path.

The scripts run as users run them (a subprocess, ``python reproduce/<script>.py --demo ...``)
with a private cache (demo data, features, run dirs) and a tmp output dir. ``TINY`` runs one
fold, so its results are partial: labelled so, and without "this kit − paper" rows.
"""

import json
import os
import runpy
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from me_resnet.reporting import paper
from tests.support.terminal import noise

REPO = Path(__file__).resolve().parent.parent
TINY = ["--epochs", "1", "--num_frames", "3", "--folds", "0", "--bootstrap_resamples", "20"]
# the scripts' own loop instead of the demo default's two pool workers (each a TensorFlow start-up): CI
# time. test_table5_demo_writes_every_dataset_beside_the_paper keeps the default executor.
LOCAL = ["--executor", "local"]

# one xdist worker runs them all (`make test`: --dist loadgroup), so they share the module's cache: the demo
# data and the features are made once
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("reproduce")]


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("reproduce_cache")


def run_script(name, args, cache, check=True, command=None):
    env = dict(os.environ, ME_RESNET_CACHE=str(cache))
    for var in ("ME_RESNET_CASME2", "ME_RESNET_SMIC", "ME_RESNET_SAMM", "ME_RESNET_FER2013", "TF_CPP_MIN_LOG_LEVEL"):
        env.pop(var, None)
    result = subprocess.run(
        [*(command or [sys.executable, str(REPO / "reproduce" / name)]), *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if check:
        assert result.returncode == 0, f"{name} failed:\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}"
    return result


SCRIPTS = [
    "table5.py",
    "fig9_frames.py",
    "fig10_scale.py",
    "fig11_ablation.py",
    "table1_datasets.py",
    "protocol_leakage.py",
    "fig3_flow.py",
    "pretrain_fer2013.py",
]


def test_without_data_a_short_message_and_no_traceback(cache):
    """One script as users run it: a subprocess, so TensorFlow's start-up lines would show on stderr."""
    result = run_script("table5.py", [], cache, check=False)
    assert result.returncode == 2
    assert "--demo" in result.stderr and "Traceback" not in result.stderr
    assert "absl" not in result.stderr and "cuda" not in result.stderr.lower()  # TensorFlow start-up is quiet


@pytest.mark.parametrize("script", SCRIPTS)
def test_every_script_without_data_exits_2_with_the_message(script, cache, monkeypatch, capsys):
    """Every script's own ``__main__`` path, run in this process (a subprocess each is a TensorFlow start-up)."""
    monkeypatch.setenv("ME_RESNET_CACHE", str(cache))
    for var in ("ME_RESNET_CASME2", "ME_RESNET_SMIC", "ME_RESNET_SAMM", "ME_RESNET_FER2013"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(sys, "argv", [script])
    with pytest.raises(SystemExit) as exited:  # any other exception is the traceback a user would see
        runpy.run_path(str(REPO / "reproduce" / script), run_name="__main__")
    assert exited.value.code == 2
    stderr = capsys.readouterr().err
    assert "--demo" in stderr and f"python reproduce/{script}" in stderr and "Traceback" not in stderr


def test_table5_demo_writes_every_dataset_beside_the_paper(cache, tmp_path, capsys):
    from me_resnet.cli import table5

    out = tmp_path / "table5"
    result = run_script("table5.py", ["--demo", "--out", str(out), "--run-dir", str(tmp_path / "runs"), *TINY], cache)
    assert "wrote:" in result.stdout
    assert noise(result.stderr) == [], result.stderr[-5000:]  # the command and its pool workers: no start-up lines
    metrics = pd.read_csv(out / "metrics.csv")
    assert set(metrics["dataset"]) == {"casme2", "smic", "samm", "composite"}
    assert metrics[["uf1", "uar", "accuracy"]].notna().all().all()
    assert metrics[["uf1", "uar"]].apply(lambda c: c.between(0, 1)).all().all()
    predictions = pd.read_csv(out / "predictions.csv")
    assert {"dataset", "subject", "clip", "y_true", "y_pred", "seed", "method"} <= set(predictions.columns)
    for table in (metrics, predictions):  # a CSV read on its own says it holds synthetic demo results
        assert table["data"].str.startswith("synthetic demo data").all()
    table = (out / "table5.md").read_text()
    assert "Synthetic demo data" in table and f"{paper.TABLE5['ME-ResNet']['casme2'][0]:.4f}" in table
    assert "Partial result: only folds 0" in table and "ME-ResNet: this kit − paper" not in table
    document = json.loads((out / "metrics.json").read_text())
    assert document["config"]["epochs"] == 1 and "versions" in document["provenance"]
    assert document["coverage"]["complete"] is False and document["coverage"]["folds"] == [0]
    casme2_subjects = predictions.loc[predictions["dataset"] == "casme2", "subject"].unique()  # fold 0 only
    assert document["coverage"]["fold_groups"]["me_resnet"]["casme2"] == [f"casme2/{casme2_subjects[0]}"]
    assert set(document["fallbacks"]["me_resnet"]) <= {"face_not_found", "repeated_frames", "loader_repaired"}
    assert set(document["loader"]["me_resnet"]) == {"casme2", "smic", "samm"}  # what each loader repaired, dropped
    assert "epochs" in document["typed_flags"] and "seeds" not in document["typed_flags"]
    assert (out / "table5.png").stat().st_size > 0

    # the me-resnet command writes the same files (the folds resume from the same run dir)
    again = tmp_path / "again"
    args = ["table5", "--demo", "--out", str(again), "--run-dir", str(tmp_path / "runs"), *TINY]
    run_script("", args, cache, command=[sys.executable, "-m", "me_resnet.cli"])
    assert (again / "predictions.csv").read_text() == (out / "predictions.csv").read_text()
    assert (again / "metrics.csv").read_text() == (out / "metrics.csv").read_text()
    assert sorted(path.name for path in again.iterdir()) == sorted(path.name for path in out.iterdir())

    # a one-fold result does not replace a complete one
    (again / "metrics.json").write_text(json.dumps({"metrics": document["metrics"]}))
    # (in this process: the refusal comes before any training, and a subprocess is a TensorFlow start-up)
    with pytest.MonkeyPatch.context() as patch, pytest.raises(SystemExit) as refused:
        patch.setenv("ME_RESNET_CACHE", str(cache))
        table5.main(["--demo", "--out", str(again), *TINY], prog="python reproduce/table5.py")
    assert refused.value.code == 2 and "--force" in capsys.readouterr().err


def test_table5_baselines_rows_are_labelled_with_their_protocol(cache, tmp_path):
    out = tmp_path / "baselines"
    run_script(
        "table5.py",
        [
            "--demo",
            "--methods",
            "ststnet",
            "off_apexnet",
            "--out",
            str(out),
            "--run-dir",
            str(tmp_path / "runs"),
            *TINY,
            *LOCAL,
        ],
        cache,
    )
    table = (out / "table5.md").read_text()
    assert "STSTNet — run by this kit" in table and "OFF-ApexNet — run by this kit" in table
    assert "LOSO per composite" in table
    assert set(pd.read_csv(out / "metrics.csv")["method"]) == {"ststnet", "off_apexnet"}


@pytest.mark.parametrize(
    "script, values, column",
    [
        ("fig9_frames.py", ["--values", "3", "4"], "num_frames"),
        ("fig10_scale.py", ["--values", "0.4", "0.8"], "scale_factor"),
    ],
)
def test_sweeps_write_one_row_per_value_and_dataset(script, values, column, cache, tmp_path):
    out = tmp_path / column
    datasets = ["casme2", "samm"]  # two of three: every sweep point re-extracts features and trains a fold per dataset
    args = ["--demo", "--out", str(out), "--run-dir", str(tmp_path / "runs"), "--datasets", *datasets, *TINY, *LOCAL]
    args += values
    run_script(script, args, cache)
    metrics = pd.read_csv(out / "metrics.csv")
    assert sorted(set(metrics[column])) == sorted(float(v) for v in values[1:])
    rows = metrics.groupby(["dataset", column]).size()
    assert set(metrics["dataset"]) == {*datasets, "composite"} and (rows == 1).all() and len(rows) == 3 * 2
    assert "not printed" in (out / f"{script[:-3]}.md").read_text()
    assert (out / f"{script[:-3]}.png").exists()


def test_fig11_runs_the_four_methods_on_casme2(cache, tmp_path):
    out = tmp_path / "fig11"
    args = ["--demo", "--out", str(out), "--run-dir", str(tmp_path / "runs"), *TINY, *LOCAL]
    run_script("fig11_ablation.py", args, cache)
    metrics = pd.read_csv(out / "metrics.csv")
    assert list(metrics["method"]) == list(paper.FIG11)
    assert set(metrics["dataset"]) == {"casme2"}
    table = (out / "fig11_ablation.md").read_text()
    assert "0.8302" in table and table.count("| not printed |") == 9


def test_protocol_leakage_compares_val_and_test_monitors(cache, tmp_path):
    out = tmp_path / "leak"
    run_script(
        "protocol_leakage.py",
        ["--demo", "--methods", "off_apexnet", "--out", str(out), "--run-dir", str(tmp_path / "runs"), *TINY, *LOCAL],
        cache,
    )
    metrics = pd.read_csv(out / "metrics.csv")
    assert set(metrics["early_stop_on"]) == {"val", "test"}
    assert "UF1 inflation" in (out / "protocol_leakage.md").read_text()


def test_table1_counts_both_protocols(cache, tmp_path):
    out = tmp_path / "table1"
    run_script("table1_datasets.py", ["--demo", "--out", str(out)], cache)
    table = pd.read_csv(out / "table1_datasets.csv")
    assert set(table["protocol"]) == {"megc2019", "paper_literal", "paper_extended"}
    assert table["data"].str.startswith("synthetic demo data").all()
    assert (table["paper_clips"] == table["dataset"].map(lambda d: paper.TABLE1[d]["total"])).all()
