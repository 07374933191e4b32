"""cli/fig3.py: a demo clip's Fig. 3 files cannot pass for the paper's sample; on the demo they score the mask."""

import json

import pytest

from me_resnet.cli import fig3
from me_resnet.cli.fig3 import PAPER_CLIPS, output_stem
from me_resnet.data.records import ClipRecord
from me_resnet.preprocessing.flow import MASK_READINGS


def test_demo_files_say_demo():
    dataset, subject, clip = PAPER_CLIPS[1].split("/")
    record = ClipRecord(dataset, subject, clip, ("a.jpg", "b.jpg"), (1, 2), 1, 2, 2, "surprise", 2)
    assert output_stem(record, demo=True) == "fig3_flow_DEMO_casme2_sub19_EP02_01"
    assert output_stem(record, demo=False) == "fig3_flow_casme2_sub19_EP02_01"


@pytest.mark.slow
def test_demo_figure_scores_the_mask_against_the_moving_region(tmp_path, monkeypatch, capsys):
    """--demo writes Fig. 3's claim as numbers beside the figure; --all-clips the summary over clips."""
    monkeypatch.setenv("ME_RESNET_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "fig3"
    tiny = ["--datasets", "casme2", "--num_frames", "3", "--image_size", "32", "--face_detector", "center"]
    assert fig3.main(["--demo", *tiny, "--workers", "1", "--out", str(out), "--all-clips"]) == 0
    summary = json.loads(next(out.glob("fig3_flow_DEMO_*.json")).read_text())
    region = summary["moving_region"]
    assert 0 < region["chance"] < 1 and region["mask_reading"] == summary["config"]["mask_reading"]
    assert region["vanilla"]["kept"] == 1.0 and region["vanilla"]["motion_kept"] == 1.0
    assert 0 < region["improved"]["kept"] < 1 and region["improved"]["removed"] > 0
    for side in ("vanilla", "improved"):
        assert 0 < region[side]["energy_share"] < 1 and 0 < region[side]["strain_share"] < 1
    over = summary["over_clips"]
    assert over["clips"] > 10 and {row["reading"] for row in over["settings"]} == {"vanilla", *MASK_READINGS}
    printed = capsys.readouterr().out
    assert "flow energy inside it" in printed and fig3.over_clips_table(over) in printed


def test_the_all_clips_table_prints_each_reading_s_medians_as_percentages():
    row = {"chance_median": 0.2, "energy_share_median": 0.3, "strain_share_median": 0.25, "kept_median": 1.0}
    over = {
        "clips": 7,
        "scale_factor": 0.8,
        "settings": [
            {**row, "reading": "vanilla", "speckle_median": 0.0, "energy_share_gain_positive": 0.0},
            {
                **row,
                "reading": "grey_difference",
                "energy_share_median": 0.361,
                "kept_median": 0.44,
                "speckle_median": 0.3,
                "energy_share_gain_positive": 0.86,
            },
        ],
    }
    lines = fig3.over_clips_table(over).splitlines()
    assert lines[0].startswith("over 7 clips (a=0.8)") and "its 20.0% of the crop" in lines[0]
    assert lines[2].split() == ["vanilla", "30.0%", "25.0%", "100%", "0%"]
    assert lines[3].split() == ["grey_difference", "36.1%", "25.0%", "44%", "30%", "86%"]


def test_all_clips_needs_the_demo_ground_truth(tmp_path, capsys):
    with pytest.raises(SystemExit) as exited:
        fig3.main(["--casme2", str(tmp_path), "--all-clips"])
    assert exited.value.code == 2 and "--all-clips needs --demo" in capsys.readouterr().err
