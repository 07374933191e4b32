"""Flow statistics of a clip and the linear LOSO probe, on hand-made arrays with known answers."""

import dataclasses

import numpy as np
import pytest

from me_resnet.config import Config
from me_resnet.data.records import ClipRecord
from me_resnet.evaluation import flow_probe
from me_resnet.preprocessing import flow_stats
from me_resnet.preprocessing.features import extract_features
from tests.support.clips import blob_clip, write_clip


def _flows(steps=2, size=8, vector=(0.0, 0.0)) -> np.ndarray:
    flows = np.zeros((steps, size, size, 2), np.float32)
    flows[...] = vector
    return flows


def test_flow_mean_and_drift_of_a_uniform_translation():
    flows = _flows(vector=(3.0, 4.0))
    assert flow_stats.flow_mean(flows) == pytest.approx(5.0)
    assert flow_stats.drift(flows) == pytest.approx(5.0)


def test_drift_is_the_median_motion_so_local_motion_does_not_count():
    flows = _flows(steps=2, size=10, vector=(0.3, 0.4))
    flows[0, :3, :3] = (9.0, -9.0)  # 9 % of the pixels move a lot: the median ignores them
    flows[1] = (0.0, 1.0)  # second step: a different translation
    assert flow_stats.drift(flows) == pytest.approx((0.5 + 1.0) / 2)
    assert flow_stats.flow_mean(flows) > 0.75


def test_top_share_is_one_for_motion_on_a_tenth_of_the_pixels_and_a_tenth_for_uniform_motion():
    flows = _flows(steps=3, size=10)
    flows[:, 0, :] = (1.0, 0.0)  # one row of ten: 10 % of the pixels hold all the energy
    assert flow_stats.top_share(flows) == pytest.approx(1.0)
    assert flow_stats.top_share(_flows(vector=(0.5, 0.5), size=10)) == pytest.approx(0.1)
    assert flow_stats.top_share(_flows()) == 0.0  # no motion at all
    with pytest.raises(ValueError, match="fraction"):
        flow_stats.top_share(flows, fraction=0.0)


def test_top_share_sums_energy_over_steps_per_pixel():
    flows = _flows(steps=2, size=10)
    flows[0, 0, :] = (2.0, 0.0)  # opposite motion in the two steps cancels in the summed flow,
    flows[1, 0, :] = (-2.0, 0.0)  # not in the summed energy
    assert flow_stats.top_share(flows) == pytest.approx(1.0)


def test_isolated_counts_kept_positions_with_fewer_than_two_kept_neighbours():
    mask = np.zeros((1, 9, 9), bool)
    mask[0, 1:4, 1:4] = True  # a 3x3 block: every member has >= 2 kept neighbours
    mask[0, 7, 7] = True  # alone
    mask[0, 0, 6:9] = True  # a line at the border: its two ends have one neighbour, the middle two
    isolated = flow_stats.isolated(mask)
    assert isolated[0, 7, 7] and isolated[0, 0, 6] and isolated[0, 0, 8] and not isolated[0, 0, 7]
    assert not isolated[0, 1:4, 1:4].any()
    assert flow_stats.speckle(mask) == pytest.approx(3 / 13)
    assert flow_stats.speckle(np.zeros((2, 4, 4), bool)) == 0.0


def test_neighbours_are_counted_within_their_own_step():
    mask = np.zeros((2, 5, 5), bool)
    mask[0, 2, 2] = True
    mask[1, 1:4, 2] = True  # kept around (2, 2) in the other step only
    assert flow_stats.isolated(mask)[0, 2, 2]


def test_clip_statistics_mask_at_eight_tenths_of_the_mean_grey_difference():
    flows = _flows(steps=1, size=2, vector=(1.0, 0.0))
    flows[0, 1, 1] = (3.0, 0.0)
    grey_diffs = np.array([[[0, 0], [0, 10]]], np.uint8)  # mean 2.5, U = 2: only (1, 1) kept
    stats = flow_stats.clip_statistics(flows, grey_diffs)
    assert set(stats) == set(flow_stats.STATISTICS)
    assert stats["kept"] == pytest.approx(0.25)
    assert stats["speckle"] == pytest.approx(1.0)
    assert stats["removed"] == pytest.approx(3 / 12)  # energy 1 + 1 + 1 of 12 masked away
    assert stats["flow_mean"] == pytest.approx(6 / 4)
    with pytest.raises(ValueError, match="grey_diffs shape"):
        flow_stats.clip_statistics(flows, grey_diffs[:, :1])


def test_probe_features_sum_the_steps_and_pool_to_the_grid():
    flows = _flows(steps=2, size=28, vector=(1.0, 2.0))
    flows[:, :2, :2] = (0.0, 0.0)  # the first pooled cell (2x2 px) is still
    features = flow_stats.probe_features(flows).reshape(14, 14, 3)
    assert features.shape == (14, 14, 3)
    np.testing.assert_allclose(features[0, 0], 0.0)
    np.testing.assert_allclose(features[5, 7], [2.0, 4.0, 2 * np.sqrt(5.0)], rtol=1e-6)
    with pytest.raises(ValueError, match="multiple of the probe grid"):
        flow_stats.probe_features(_flows(size=30))


def test_summary_gives_median_and_tenth_and_ninetieth_percentiles():
    summary = flow_stats.summary(np.arange(11.0))
    assert summary == {"median": 5.0, "p10": 1.0, "p90": 9.0}
    with pytest.raises(ValueError, match="at least one"):
        flow_stats.summary([])


def test_probe_separates_separable_classes_and_not_shuffled_ones():
    rng = np.random.default_rng(0)
    y = np.tile([0, 1, 2], 8)
    subjects = np.repeat(np.arange(6), 4)
    X = rng.normal(size=(24, 20)) + 4.0 * np.eye(3)[y] @ rng.normal(size=(3, 20))
    assert flow_probe.loso_uf1(X, y, subjects) == 1.0
    noise = rng.normal(size=(24, 20))
    assert flow_probe.loso_uf1(noise, y, subjects) < 0.7
    with pytest.raises(ValueError, match="at least 2 subjects"):
        flow_probe.loso_uf1(X, y, np.zeros(24))
    with pytest.raises(ValueError, match="differ in length"):
        flow_probe.loso_uf1(X, y[:-1], subjects)


def test_cached_flows_are_the_unmasked_flow_and_grey_differences_of_the_cache(tmp_path):
    frames = blob_clip(motion=12, apex=6, size=48, seed=1)
    folder = write_clip(tmp_path / "data" / "sub01" / "EP01", frames, first_number=10)
    numbers = tuple(range(10, 22))
    record = ClipRecord(
        "casme2", "sub01", "EP01", tuple(str(folder / f"img{n}.png") for n in numbers), numbers, 10, 16, 21, "x", 1
    )
    config = dataclasses.replace(Config(), num_frames=4, image_size=28, face_detector="center")
    (entry,) = flow_stats.cached_flows([record], config, tmp_path / "cache", workers=1)
    assert entry["flows"].shape == (3, 28, 28, 2) and entry["grey_diffs"].shape == (3, 28, 28)
    vanilla = dataclasses.replace(config, flow_mode="vanilla", normalise="none", channels="magnitude")
    features = extract_features([record], vanilla, "sequence", tmp_path / "cache", 1, progress=False)
    np.testing.assert_array_equal(features.X[0, ..., :2], entry["flows"])
    assert features.info["cache_hits"] == 1  # the statistics read the same entries
