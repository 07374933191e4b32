"""me_resnet/reporting/results_tree.py: what exists under results/, read back or named as missing."""

import json

import pandas as pd
import pytest

from me_resnet.reporting.results_tree import BENCHMARKS, ResultsTree, bench_summary, files_in, real_data_artifacts

COMMANDS = {"table5": "python reproduce/table5.py --demo", "fig3_flow": "python reproduce/fig3_flow.py --demo"}


def _write_metrics(folder, with_json=True):
    folder.mkdir(parents=True)
    pd.DataFrame({"method": ["me_resnet"], "dataset": ["casme2"], "uf1": [0.5]}).to_csv(folder / "metrics.csv")
    if with_json:
        document = {"data": "synthetic demo data", "provenance": {"git_commit": "abc123"}}
        (folder / "metrics.json").write_text(json.dumps(document))


def test_status_lists_present_files_and_names_the_missing_with_their_command(tmp_path):
    _write_metrics(tmp_path / "table5")
    (tmp_path / "table5" / ".me_resnet_result.json").write_text("{}")  # the result's file list: not shown
    tree = ResultsTree(tmp_path, "results/demo", COMMANDS)
    status = tree.status()
    assert status.loc["table5"].iloc[0] == "metrics.csv, metrics.json"
    assert status.loc["fig3_flow"].iloc[0] == "MISSING"
    assert status.loc["fig3_flow", "written by"] == COMMANDS["fig3_flow"]
    assert tree.missing() == ["fig3_flow"]
    assert files_in(tmp_path / "nowhere") == []


def test_metrics_are_read_with_their_provenance(tmp_path):
    _write_metrics(tmp_path / "table5")
    metrics, note = ResultsTree(tmp_path, "results/demo", COMMANDS).metrics("table5")
    assert metrics["uf1"].tolist() == [0.5]
    assert note == "results/demo/table5: data = 'synthetic demo data'; git commit abc123"


def test_missing_metrics_are_none_and_say_which_command_writes_them(tmp_path):
    tree = ResultsTree(tmp_path, "results/demo", COMMANDS)
    metrics, note = tree.metrics("table5")
    assert metrics is None
    assert note.startswith("MISSING: results/demo/table5/metrics.csv") and COMMANDS["table5"] in note
    assert tree.markdown("table5") == "MISSING: results/demo/table5/table5.md"
    assert tree.fig3_lines() == ["MISSING: results/demo/fig3_flow/*.json"]
    assert tree.pretrain_line() == "MISSING: results/demo/pretrain_fer2013/summary.json"


def test_metrics_without_json_say_their_provenance_is_unknown(tmp_path):
    _write_metrics(tmp_path / "table5", with_json=False)
    metrics, note = ResultsTree(tmp_path, "results/demo", COMMANDS).metrics("table5")
    assert metrics is not None and "no metrics.json" in note


def test_stored_summaries_are_read_back(tmp_path):
    (tmp_path / "table5").mkdir()
    (tmp_path / "table5" / "table5.md").write_text("| a |\n")
    (tmp_path / "fig3_flow").mkdir()
    clip = {
        "clip": "casme2/sub01/EP01",
        "energy_removed": 0.25,
        "pixels_kept": 0.5,
        "config": {"num_frames": 11, "scale_factor": 0.8, "image_size": 112},
    }
    (tmp_path / "fig3_flow" / "fig3_flow_casme2.json").write_text(json.dumps(clip))
    tree = ResultsTree(tmp_path)
    assert tree.markdown("table5") == "| a |\n"
    assert tree.fig3_lines() == [
        "fig3_flow casme2/sub01/EP01: mask removes 25.0% of the flow energy, keeps 50.0% of the pixels "
        "(N = 11, a = 0.8, 112 px)"
    ]


def test_real_data_artifacts_skip_demo_and_bench(tmp_path):
    for name in ("demo", "bench", "table5", "fig9_frames"):
        (tmp_path / name).mkdir()
    (tmp_path / "README.txt").write_text("")
    assert real_data_artifacts(tmp_path) == ["fig9_frames", "table5"]


def test_bench_summaries(tmp_path):
    assert bench_summary(tmp_path, "preprocess") == (
        "MISSING: results/bench/preprocess.json — run `python benchmarks/preprocess.py`",
        None,
    )
    phase = {"clips_per_s": 10.0, "seconds": 2.0, "cache_hits": 0, "detector_init_seconds": 1.0}
    document = {
        "clips": 20,
        "settings": {"num_frames": 11},
        "workers": 2,
        "targets_met": {"cold": True},
        "cold": phase,
        "warm": dict(phase, clips_per_s=200.0, cache_hits=20),
    }
    (tmp_path / "preprocess.json").write_text(json.dumps(document))
    line, table = bench_summary(tmp_path, "preprocess")
    assert line.startswith("20 clips") and table.loc["warm", "clips/s"] == 200.0
    assert table.loc["warm", "cache hits"] == 20
    with pytest.raises(ValueError, match="unknown benchmark 'nope'"):
        bench_summary(tmp_path, "nope")
    assert "model_throughput" in BENCHMARKS
