import numpy as np
import pytest

from me_resnet.inference.spotting import (
    GRID,
    MAX_EPISODE_SECONDS,
    MIN_CONFIDENCE,
    regions,
    remove_head_motion,
    smooth_in_time,
    spot,
)
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


def test_a_blink_is_ignored_unless_the_eyes_are_asked_for():
    alone = faces.render(FRAMES, [BLINK], seed=2)
    assert not spot(alone, fps=FPS).stands_out
    with_eyes = spot(alone, fps=FPS, include_eyes=True)
    assert with_eyes.stands_out and abs(with_eyes.apex - 13) <= 2
    beside_expression = spot(faces.render(FRAMES, [BLINK, EXPRESSION], seed=2), fps=FPS)
    assert beside_expression.stands_out and abs(beside_expression.apex - 52) <= 2


def test_an_annotated_clip_onset_to_offset_finds_its_apex():
    clip = faces.render(30, [(faces.expression_field(1.0), faces.ramp(30, 18))], seed=5)
    spotting = spot(clip, fps=FPS)
    assert abs(spotting.apex - 18) <= 2 and spotting.onset < spotting.apex < spotting.offset


def test_remove_head_motion_keeps_a_local_bump_and_drops_an_affine_field():
    ys, xs = np.mgrid[0:64, 0:64].astype(np.float32)
    affine = np.stack([0.3 + 0.01 * xs - 0.004 * ys, -0.2 + 0.006 * xs + 0.002 * ys], axis=-1)
    local = faces.expression_field(1.0)
    residual = remove_head_motion(affine + local, np.ones((64, 64), bool))
    np.testing.assert_allclose(residual, local, atol=0.06)


def test_regions_leave_the_eyes_out_unless_included():
    apart, included = regions(False), regions(True)
    assert apart.cells.sum() < included.cells.sum() and apart.eye_cells.any() and not included.eye_cells.any()
    assert not apart.pixels[int(0.35 * 64), int(0.34 * 64)] and included.pixels.all()


def test_smoothing_keeps_constants_and_length():
    positions = np.full((7, 2, 2, 2), 3.0)
    np.testing.assert_allclose(smooth_in_time(positions, 2.0), positions)
    np.testing.assert_allclose(
        smooth_in_time(np.full((2, 3), 1.5), 4.0), np.full((2, 3), 1.5)
    )  # shorter than the kernel


def test_smoothing_mirrors_a_long_series_and_holds_a_short_one_at_its_ends():
    # one noisy first frame must not be repeated over the kernel (a spurious bump at the window's start);
    # holding the first frame would give it about half its value after smoothing, and 3x the noise
    positions = np.zeros((60, 2))
    positions[0] = 1.0
    assert smooth_in_time(positions, 8.0)[0, 0] < 0.1
    noise = smooth_in_time(np.random.default_rng(0).normal(size=(400, 60)).T, 8.0)  # 400 white-noise series
    assert noise[0].std() < 2 * noise[30].std()
    # shorter than the kernel (2 x 24 frames): a bump in the middle is not mirrored in as the ends' surroundings
    short = np.zeros((30, 1))
    short[10:20] = 1.0
    assert smooth_in_time(short, 8.0)[0, 0] < smooth_in_time(short, 8.0)[15, 0] - 0.1


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
