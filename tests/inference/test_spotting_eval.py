import dataclasses

import numpy as np

from me_resnet.config import DEMO
from me_resnet.data.records import ClipRecord
from me_resnet.inference.spotting_eval import spotting_errors, summarise, with_still_context
from tests.support.clips import blob_clip, write_clip

CENTRE = dataclasses.replace(DEMO, face_detector="center")


def _record(root, name, apex, dataset="casme2", problems=()):
    frames = blob_clip(motion=14, apex=apex, seed=len(name))
    folder = write_clip(root / name, frames, first_number=100)
    numbers = tuple(range(100, 100 + len(frames)))
    paths = tuple(str(folder / f"img{n}.png") for n in numbers)
    return ClipRecord(dataset, "s1", name, paths, numbers, 100, 100 + apex, numbers[-1], "x", 0, problems)


def test_still_context_adds_noisy_copies_of_the_end_frames():
    crops = blob_clip(motion=10, apex=5, noise=2.0)
    padded = with_still_context(crops, 7, seed=0)
    assert padded.shape == (24,) + crops.shape[1:]
    np.testing.assert_array_equal(padded[7:17], crops)
    noise = padded[:7].astype(float) - crops[0]
    assert 0.5 < noise.std() < 3.0 and abs(noise.mean()) < 0.2


def test_spotting_errors_measure_the_apex_in_frames_for_each_condition(tmp_path):
    records = [
        _record(tmp_path, "a", apex=5),
        _record(tmp_path, "b", apex=8, problems=("apex '/' repaired to middle frame",)),
        _record(tmp_path, "c", apex=7, dataset="smic"),
    ]
    errors = spotting_errors(records, CENTRE, context=12)
    assert len(errors) == 6 and set(errors.condition) == {"clip", "still_context"}
    assert list(errors.apex_source[::2]) == ["coding_sheet", "repaired", "smic_middle_frame"]
    context = errors[errors.condition == "still_context"]
    assert (context.true_apex == [17, 20, 19]).all()
    assert errors.apex_error.max() <= 1
    summary = summarise(errors)
    row = summary[(summary.condition == "clip") & (summary.apex_source == "coding_sheet") & (summary.dataset == "all")]
    assert row.clips.item() == 1 and row.apex_mae_frames.item() == errors.apex_error.iloc[0]
