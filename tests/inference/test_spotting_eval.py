import dataclasses
import json
import runpy
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from me_resnet.config import DEMO
from me_resnet.data.records import ClipRecord
from me_resnet.inference.spotting_eval import (
    interval_iou,
    megc_scores,
    score_window,
    spotting_errors,
    summarise,
    with_still_context,
)
from tests.inference import faces
from tests.support.clips import write_clip

CENTRE = dataclasses.replace(DEMO, face_detector="center")


def test_interval_iou_by_hand():
    assert interval_iou((10, 19), (10, 19)) == 1.0
    assert interval_iou((10, 19), (15, 24)) == pytest.approx(5 / 15)  # frames 15-19 shared, 10-24 covered
    assert interval_iou((0, 4), (5, 9)) == 0.0
    assert interval_iou((3, 3), (0, 9)) == pytest.approx(1 / 10)


def test_megc_scores_by_hand():
    # five clips: two hits (IoU 0.5 counts), one spotted interval too far off, two with no interval
    scores = megc_scores([0.5, 0.9, 0.2, None, None])
    assert (scores["tp"], scores["fp"], scores["fn"]) == (2, 1, 3)
    assert scores["precision"] == pytest.approx(2 / 3) and scores["recall"] == pytest.approx(2 / 5)
    assert scores["f1"] == pytest.approx(2 * (2 / 3) * (2 / 5) / (2 / 3 + 2 / 5))
    assert megc_scores([None, None])["f1"] == 0.0


def test_score_window_measures_the_spotter_and_the_baselines_in_frames():
    crops = faces.render(90, [(faces.expression_field(1.0), faces.timeline(90, 40, 30, 12))], seed=1)
    row = score_window(crops, onset=40, apex=52, offset=69, fps=100)
    assert row["apex_error"] <= 2 and row["stands_out"] and row["iou"] >= 0.5
    assert row["middle_clip_error"] == abs((40 + 69) // 2 - 52) and row["middle_window_error"] == abs(44 - 52)


def test_still_context_adds_noisy_copies_of_the_end_frames():
    crops = faces.render(10, noise=2.0)
    padded = with_still_context(crops, 7, seed=0)
    assert padded.shape == (24,) + crops.shape[1:]
    np.testing.assert_array_equal(padded[7:17], crops)
    noise = padded[:7].astype(float) - crops[0]
    assert 0.5 < noise.std() < 4.0 and abs(noise.mean()) < 0.3


def _record(root, name, apex, dataset="casme2", problems=()):
    frames = faces.render(40, [(faces.expression_field(1.2), faces.ramp(40, apex))], seed=len(name))
    folder = write_clip(root / name, frames, first_number=100)
    numbers = tuple(range(100, 100 + len(frames)))
    paths = tuple(str(folder / f"img{n}.png") for n in numbers)
    return ClipRecord(dataset, "s1", name, paths, numbers, 100, 100 + apex, numbers[-1], "x", 0, problems)


def test_real_clips_are_scored_against_their_sheet_in_both_conditions(tmp_path):
    records = [_record(tmp_path, "a", apex=18), _record(tmp_path, "b", apex=22, problems=("apex '/' repaired",))]
    errors = spotting_errors(records, CENTRE, context=12)
    assert list(errors.condition) == ["clip", "still_context"] * 2
    assert list(errors.apex_source[::2]) == ["coding_sheet", "repaired"]
    context = errors[errors.condition == "still_context"]
    assert list(context.true_apex) == [30, 34] and list(context.frames) == [64, 64]
    assert errors.apex_error.max() <= 3


def test_summary_reports_errors_baselines_and_megc_per_condition():
    rows = pd.DataFrame(
        {
            "condition": ["clip", "clip", "context", "context"],
            "dataset": ["casme2", "samm", "casme2", "samm"],
            "apex_error": [0, 4, 2, 30],
            "apex_at_last_frame": [False, True, False, False],
            "middle_clip_error": [5, 5, 5, 5],
            "middle_window_error": [5, 5, 40, 60],
            "onset_error": [1, 1, 1, 1],
            "offset_error": [2, 2, 2, 2],
            "stands_out": [True, True, True, False],
            "confidence": [9.0, 7.0, 8.0, 2.0],
            "iou": [0.8, 0.4, 0.6, 0.0],
        }
    )
    rest = pd.DataFrame({"condition": ["no_expression"] * 2, "dataset": ["casme2", "samm"]})
    rows = pd.concat([rows, rest.assign(stands_out=[True, False], confidence=[7.0, 3.0])], ignore_index=True)
    summary = summarise(rows).set_index(["condition", "dataset"])
    clip, context = summary.loc[("clip", "all")], summary.loc[("context", "all")]
    assert clip.apex_mean_error == 2 and clip.apex_within_1_frame == 0.5 and clip.apex_at_last_frame == 0.5
    assert clip.megc_tp == 1 and clip.megc_fp == 1 and clip.megc_f1 == pytest.approx(0.5)
    assert context.middle_window_mean_error == 50 and context.megc_recall == 0.5 and context.megc_precision == 1.0
    assert context.apex_mean_error == 16 and context.apex_mean_error_standing_out == 2  # the samm window did not
    assert context.stands_out == 0.5 and context.middle_clip_mean_error_standing_out == 5
    assert summary.loc[("no_expression", "all")].stands_out == 0.5  # false alarms


@pytest.mark.slow
def test_demo_clips_are_scored_in_their_frames_in_context_and_without_the_expression(tmp_path):
    from me_resnet.data import demo
    from me_resnet.data.loading import load_dataset
    from me_resnet.inference.spotting_eval import FRAME_RATES, demo_spotting_errors

    demo.generate_demo(tmp_path, seed=0)
    records = [r for r in load_dataset("casme2", tmp_path / "casme2", CENTRE).records if r.clip == "EP01_11f"]
    records += load_dataset("smic", tmp_path / "smic", CENTRE).records[:1]
    errors = demo_spotting_errors(tmp_path, records, CENTRE, context_seconds=0.6, draws=2)
    assert list(errors.condition) == (["clip"] + ["context", "no_expression"] * 2) * 2
    assert list(errors.draw) == [0, 0, 0, 1, 1] * 2
    clip, context, again = errors.iloc[0], errors.iloc[1], errors.iloc[3]
    assert clip.true_apex == (clip.frames - 1) // 2  # the generator put this quirk clip's apex in the middle
    assert clip.true_onset == 0 and clip.true_offset == clip.frames - 1
    assert context.frames == clip.frames + round(0.6 * FRAME_RATES["casme2"])
    assert context.true_apex - context.true_onset == clip.true_apex and context.distractors >= 1
    assert again.true_apex - again.true_onset == clip.true_apex and again.true_onset != context.true_onset
    assert errors.iloc[6].frames == errors.iloc[5].frames + round(0.6 * FRAME_RATES["smic"])  # the SMIC clip
    with pytest.raises(ValueError, match="draws must be at least 1"):
        demo_spotting_errors(tmp_path, records, CENTRE, draws=0)


def _spotting_script():
    return runpy.run_path(str(Path(__file__).resolve().parents[2] / "reproduce" / "spotting_error.py"))["main"]


def test_the_script_measures_real_clips_and_writes_both_files_as_one_result(tmp_path, capsys):
    from me_resnet.reporting.result_folder import listed_files
    from tests.support.trees import make_casme2

    root = make_casme2(tmp_path / "casme2", [("01", "EP02_01f", 10, 12, 16, "happiness")])  # in the megc2019 list
    out = tmp_path / "out"
    assert _spotting_script()(["--casme2", str(root), "--out", str(out)]) == 0
    assert listed_files(out) == {"spotting_error.csv", "spotting_error.json"}  # committed together
    errors = pd.read_csv(out / "spotting_error.csv")
    assert list(errors.condition) == ["clip", "still_context"] and set(errors.data) == {"real"}
    assert list(errors.apex_source) == ["coding_sheet"] * 2 and list(errors.true_apex) == [2, 32]
    document = json.loads((out / "spotting_error.json").read_text())
    assert document["data"]["real"] == {"casme2": f"1 of 1 clips have their frames under {root}"}
    assert document["settings"]["context_draws"] is None and "git_commit" in document["provenance"]
    assert "wrote" in capsys.readouterr().out


def test_the_script_refuses_a_bad_number_of_draws(capsys):
    with pytest.raises(SystemExit) as stop:
        _spotting_script()(["--demo", "--draws", "0"])
    assert stop.value.code == 2 and "--draws must be at least 1, got 0" in capsys.readouterr().err
