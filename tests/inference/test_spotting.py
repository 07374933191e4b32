import numpy as np
import pytest

from me_resnet.inference.spotting import GRID, MAX_EPISODE_SECONDS, MIN_CONFIDENCE, spot
from tests.inference import faces

FRAMES = 90
FPS = 100  # flanks of 15 and 30 frames: short clips, fast tests
EXPRESSION = (faces.expression_field(1.0), faces.timeline(FRAMES, 40, 30, 12))  # apex at frame 52
BLINK = (faces.blink_field(3.0), faces.timeline(FRAMES, 10, 8, 3))


def _head_move_and_drift() -> np.ndarray:
    shift = np.zeros((FRAMES, 2))
    shift[:, 0] = 1.5 * faces.timeline(FRAMES, 5, 16, 8)  # a quick move there and back, larger than the expression
    shift[:, 1] = 0.02 * np.arange(FRAMES)  # and a slow drift
    return shift


def test_a_small_local_expression_is_found_with_its_onset_apex_and_offset():
    spotting = spot(faces.render(FRAMES, [EXPRESSION], seed=1), fps=FPS)
    assert spotting.stands_out and "stands out" in spotting.message
    assert abs(spotting.apex - 52) <= 2
    assert 38 <= spotting.onset < 52 < spotting.offset <= 72
    row, column = np.mean(spotting.cells, axis=0) / GRID
    assert row > 0.55 and column < 0.5  # the image-left mouth corner


def test_pure_noise_is_no_episode_and_says_so():
    spotting = spot(faces.render(FRAMES, seed=1), fps=FPS)
    assert not spotting.stands_out
    assert spotting.message.startswith("no episode stands out")
    assert spotting.score[spotting.apex] < spotting.threshold


def test_confidence_is_higher_for_a_clear_expression_than_for_noise():
    clear = spot(faces.render(FRAMES, [EXPRESSION], seed=4), fps=FPS)
    noise = spot(faces.render(FRAMES, seed=4), fps=FPS)
    assert clear.confidence > 3 * noise.confidence


def test_a_head_move_and_drift_do_not_become_the_episode():
    shift = _head_move_and_drift()
    alone = spot(faces.render(FRAMES, shift=shift, seed=3), fps=FPS)
    assert not alone.stands_out
    with_expression = spot(faces.render(FRAMES, [EXPRESSION], shift=shift, seed=3), fps=FPS)
    assert with_expression.stands_out and abs(with_expression.apex - 52) <= 2


@pytest.mark.parametrize("seed", range(4))
def test_a_tremor_of_the_whole_face_does_not_drown_a_local_expression(seed):
    # the skin swinging everywhere with a period of twice the shorter flank (the worst case): every cell
    # moves; the mouth corner moves more. The score counts how far the best cells stand above the face's
    # median cell, so the tremor alone is no episode and the expression stands out above it.
    tremor = (faces.tremor_field(0.15), faces.swing(FRAMES, 30))
    assert not spot(faces.render(FRAMES, [tremor], seed=seed), fps=FPS).stands_out
    spotting = spot(faces.render(FRAMES, [EXPRESSION, tremor], seed=seed), fps=FPS)
    assert spotting.stands_out and abs(spotting.apex - 52) <= 2


def test_a_blink_is_ignored_unless_the_eyes_are_asked_for():
    alone = faces.render(FRAMES, [BLINK], seed=2)
    assert not spot(alone, fps=FPS).stands_out
    with_eyes = spot(alone, fps=FPS, include_eyes=True)
    assert with_eyes.stands_out and abs(with_eyes.apex - 13) <= 2
    beside_expression = spot(faces.render(FRAMES, [BLINK, EXPRESSION], seed=2), fps=FPS)
    assert beside_expression.stands_out and abs(beside_expression.apex - 52) <= 2


def test_a_blink_of_eyes_higher_than_usual_is_ignored_when_the_landmarks_place_the_eye_cells():
    eyes = ((0.34, 0.25), (0.67, 0.25))  # as in a face crop that puts the eyes high (SMIC's)
    clip = faces.render(FRAMES, [(faces.blink_field(3.0, eyes), BLINK[1])], seed=2, eyes=eyes)
    fixed = spot(clip, fps=FPS)  # the fixed eye cells miss the lids: the blink reaches the brow cells
    assert fixed.stands_out and abs(fixed.apex - 13) <= 2 and fixed.settings["eye_cells"] == "fixed"
    placed = spot(clip, fps=FPS, eyes=eyes)
    assert not placed.stands_out and placed.settings["eye_cells"] == "landmarks"
    with_expression = faces.render(FRAMES, [(faces.blink_field(3.0, eyes), BLINK[1]), EXPRESSION], seed=2, eyes=eyes)
    found = spot(with_expression, fps=FPS, eyes=eyes)
    assert found.stands_out and abs(found.apex - 52) <= 2


def test_an_annotated_clip_onset_to_offset_finds_its_apex():
    clip = faces.render(30, [(faces.expression_field(1.0), faces.ramp(30, 18))], seed=5)
    spotting = spot(clip, fps=FPS)
    assert abs(spotting.apex - 18) <= 2 and spotting.onset < spotting.apex < spotting.offset


def test_an_episode_longer_than_a_micro_expression_does_not_stand_out():
    frames = 160  # at 100 fps, its displacement returns to rest only after more than a second
    slow = faces.render(frames, [(faces.expression_field(1.0), faces.ramp(frames, frames // 2))], seed=1)
    spotting = spot(slow, fps=FPS, flank_seconds=(0.8,))
    assert spotting.confidence >= MIN_CONFIDENCE and not spotting.stands_out
    assert (spotting.offset - spotting.onset + 1) / FPS > MAX_EPISODE_SECONDS
    assert "longer than a micro-expression" in spotting.message


def test_the_result_serialises_with_its_confidence_and_offset():
    document = spot(faces.render(40, seed=6), fps=FPS).to_dict()
    assert {"onset_index", "apex_index", "offset_index", "confidence", "stands_out", "message"} <= set(document)
    assert len(document["score"]) == 40 and document["settings"]["fps"] == FPS


@pytest.mark.parametrize(
    "kwargs, message",
    [({"fps": 0}, "fps"), ({"min_confidence": -1}, "min_confidence"), ({"flank_seconds": (0.0,)}, "flank_seconds")],
)
def test_bad_settings_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        spot(faces.render(10), **kwargs)


def test_too_few_frames_are_refused():
    with pytest.raises(ValueError, match="at least 3 frames"):
        spot(faces.render(2))
