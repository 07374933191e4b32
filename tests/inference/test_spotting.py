import numpy as np
import pytest

from me_resnet.inference.spotting import motion_episodes, smooth, spot
from tests.support.clips import blob_clip


@pytest.mark.parametrize("measure", ["flow", "difference"])
def test_spot_finds_onset_and_apex_of_motion_between_still_frames(measure):
    crops = blob_clip(motion=14, apex=6, before=20, after=15, seed=1)
    spotting = spot(crops, measure=measure)
    assert abs(spotting.apex - 26) <= 1
    assert abs(spotting.onset - 20) <= 2
    assert 20 + 6 < spotting.episode_end <= 20 + 14 + 2
    assert spotting.motion.shape == (len(crops),) and spotting.motion[0] == 0
    assert np.isnan(spotting.displacement[: spotting.onset]).all()


def test_apex_is_the_frame_most_unlike_the_onset_not_the_fastest_one():
    crops = blob_clip(motion=16, apex=10, before=10, after=10, seed=2)
    by_displacement = spot(crops, apex_rule="displacement")
    by_motion = spot(crops, apex_rule="motion_peak")
    assert abs(by_displacement.apex - 20) <= 1
    assert abs(by_motion.apex - 20) >= 2  # the face moves fastest on the way to or back from the apex


def test_largest_episode_wins():
    small = blob_clip(motion=10, apex=5, before=5, after=10, shift=(1.5, 0.0), seed=3)
    large = blob_clip(motion=10, apex=5, before=0, after=10, shift=(6.0, 0.0), seed=3)
    spotting = spot(np.concatenate([small, large]))
    assert abs(spotting.apex - (len(small) + 5)) <= 1


def test_episodes_closer_than_merge_gap_merge():
    active = np.array([0, 1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0, 1], dtype=bool)
    assert motion_episodes(active, merge_gap=2) == [(1, 6), (12, 12)]
    assert motion_episodes(active, merge_gap=0) == [(1, 2), (5, 6), (12, 12)]


def test_smooth_keeps_length_and_constants():
    np.testing.assert_allclose(smooth(np.full(7, 2.0), 3), np.full(7, 2.0))
    with pytest.raises(ValueError, match="smoothing width"):
        smooth(np.ones(3), 0)


@pytest.mark.parametrize(
    "kwargs, message",
    [({"measure": "optical"}, "measure"), ({"apex_rule": "middle"}, "apex_rule"), ({"level": 1.5}, "level")],
)
def test_bad_settings_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        spot(blob_clip(), **kwargs)


def test_one_frame_is_refused():
    with pytest.raises(ValueError, match="at least 2 frames"):
        spot(blob_clip()[:1])
