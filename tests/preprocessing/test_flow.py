"""Farneback flow, continuity mask (eq. 5-9), strain, normalisation (me_resnet/flow.py)."""

import dataclasses

import cv2
import numpy as np
import pytest
import skimage.data

from me_resnet.config import Config
from me_resnet.preprocessing import flow

SIZE, HALF, RAMP, AMPLITUDE, N = 128, 20, 8, 3.0, 4


def _moving_face(seed=0, noise=1.0):
    """N grey frames of the astronaut: a square patch moves right by AMPLITUDE px in total,
    the rest is still; every frame gets independent Gaussian sensor noise."""
    rng = np.random.default_rng(seed)
    grey = cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2GRAY)
    base = cv2.resize(grey, (SIZE, SIZE), interpolation=cv2.INTER_AREA).astype(np.float32)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    distance = np.maximum(np.abs(xx - 0.45 * SIZE), np.abs(yy - 0.40 * SIZE))
    weight = np.clip((HALF + RAMP - distance) / RAMP, 0, 1)  # 1 in the core, smooth ramp, 0 outside
    frames = []
    for i in range(N):
        shift = AMPLITUDE * i / (N - 1) * weight
        image = cv2.remap(base, xx - shift, yy, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
        image = image + rng.normal(0, noise, image.shape)
        frames.append(np.clip(np.round(image), 0, 255).astype(np.uint8))
    core = distance <= HALF
    far = distance > HALF + RAMP + 10  # beyond the Farneback window's reach
    return np.stack(frames), AMPLITUDE / (N - 1), core, far


@pytest.fixture(scope="module")
def moving():
    frames, step, core, far = _moving_face()
    flows = flow.sequence_flow(frames, Config())
    return frames, flows, flow.grey_differences(frames), step, core, far


def _energy_fractions(flows, mask, core, far):
    energy = np.sum(flows.astype(np.float64) ** 2, axis=-1)
    removed_far = energy[:, far][~mask[:, far]].sum() / energy[:, far].sum()
    kept_core = energy[:, core][mask[:, core]].sum() / energy[:, core].sum()
    return removed_far, kept_core


def test_farneback_recovers_the_known_motion(moving):
    frames, flows, _, step, core, far = moving
    assert flows.shape == (N - 1, SIZE, SIZE, 2) and flows.dtype == np.float32
    assert abs(flows[..., 0][:, core].mean() - step) < 0.2 * step
    assert abs(flows[..., 1][:, core].mean()) < 0.1 * step
    assert np.abs(flows[:, far]).mean() < 0.1 * step


def test_improved_mask_removes_noise_and_keeps_motion(moving):
    _, flows, diffs, _, core, far = moving
    removed_far, kept_core = _energy_fractions(flows, flow.continuity_mask(diffs, 0.8), core, far)
    assert removed_far >= 0.85, removed_far
    assert kept_core >= 0.6, kept_core
    # a = 0 keeps every pixel that changed at all: most of the noise flow survives
    removed_far0, kept_core0 = _energy_fractions(flows, flow.continuity_mask(diffs, 0.0), core, far)
    assert removed_far0 < 0.5 and kept_core0 > 0.85
    # a larger a removes more
    removed_far2, kept_core2 = _energy_fractions(flows, flow.continuity_mask(diffs, 1.5), core, far)
    assert removed_far2 > removed_far and kept_core2 < kept_core


def test_threshold_is_a_times_mean_difference():
    diffs = np.array([[[0, 2], [4, 6]], [[1, 1], [1, 1]]], dtype=np.uint8)  # sum 16 over (N-1)*K = 8 pixels
    assert flow.adaptive_threshold(diffs, 0.5) == pytest.approx(1.0)  # eq. (8)-(9): p = 2, U = 1
    assert flow.continuity_mask(diffs, 0.5).tolist() == [
        [[False, True], [True, True]],
        [[False, False], [False, False]],
    ]
    with pytest.raises(ValueError, match="scale_factor"):
        flow.adaptive_threshold(diffs, -1)


def test_flow_difference_reading():
    flows = np.zeros((3, 2, 2, 2), np.float32)
    flows[0, ..., 0] = 1.0  # |F_0| = 1
    flows[1, ..., 0] = 3.0  # |F_1| = 3
    flows[2, ..., 1] = 3.0  # |F_2| = 3 (direction changed, magnitude not)
    assert flow.flow_differences(flows)[:, 0, 0].tolist() == [1.0, 2.0, 0.0]


def test_strain_of_translation_is_zero_and_of_stretch_is_k():
    yy, xx = np.mgrid[0:32, 0:32].astype(np.float32)
    translation = np.stack([np.full_like(xx, 1.7), np.full_like(xx, -0.4)], axis=-1)
    assert np.allclose(flow.optical_strain(translation), 0.0)
    k = 0.05
    stretch = np.stack([k * xx, np.zeros_like(xx)], axis=-1)  # u = k x: u_x = k
    assert np.allclose(flow.optical_strain(stretch), abs(k), atol=1e-6)
    shear = np.stack([-k * yy, np.zeros_like(xx)], axis=-1)  # u_y = -k: sqrt(0.5 k^2)
    assert np.allclose(flow.optical_strain(shear), abs(k) / np.sqrt(2), atol=1e-6)


def test_channels_and_normalisation():
    rng = np.random.default_rng(0)
    flows = rng.normal(size=(3, 16, 16, 2)).astype(np.float32)
    magnitude = flow.flow_channels(flows, "magnitude")
    assert magnitude.shape == (3, 16, 16, 3)
    assert np.allclose(magnitude[..., 2], np.hypot(flows[..., 0], flows[..., 1]))
    normalised = flow.normalise(magnitude * 5 + 2, "clip")
    assert np.allclose(normalised.mean(axis=(0, 1, 2)), 0, atol=1e-5)
    assert np.allclose(normalised.std(axis=(0, 1, 2)), 1, atol=1e-4)
    still = flow.normalise(np.zeros((2, 4, 4, 3), np.float32), "clip")  # zero variance: no NaN
    assert np.all(np.isfinite(still)) and not still.any()
    with pytest.raises(ValueError, match="channels"):
        flow.flow_channels(flows, "colour")


def test_flow_features_modes(moving):
    _, flows, diffs, _, _, _ = moving
    raw = dataclasses.replace(Config(), normalise="none")
    vanilla = flow.flow_features(flows, diffs, dataclasses.replace(raw, flow_mode="vanilla"))
    improved = flow.flow_features(flows, diffs, raw)
    assert np.allclose(vanilla[..., :2], flows)
    mask = flow.continuity_mask(diffs, raw.scale_factor)
    assert np.array_equal(improved[~mask], np.zeros_like(improved[~mask]))
    assert np.array_equal(improved[mask], vanilla[mask])
    by_flow = flow.flow_features(flows, diffs, dataclasses.replace(raw, mask_reading="flow_difference"))
    assert 0 < np.count_nonzero(by_flow[..., 0]) < np.count_nonzero(vanilla[..., 0])
    energy = np.sum(flows.astype(np.float64) ** 2, axis=-1)
    clip = flow.flow_features(flows, diffs, dataclasses.replace(raw, normalise="clip"))
    assert np.allclose(clip, flow.normalise(improved, "clip"), atol=1e-5)
    assert np.allclose(
        flow.flow_features(flows, diffs, dataclasses.replace(raw, channels="magnitude"))[mask][:, 2],
        np.hypot(flows[..., 0], flows[..., 1])[mask],
    )
    assert flow.energy_removed(flows, mask) == pytest.approx(1 - energy[mask].sum() / energy.sum())
    assert 0 < flow.energy_removed(flows, mask) < 1 and flow.energy_removed(flows, None) == 0.0


def test_tvl1_recovers_a_known_shift():
    """Dual TV-L1 (flow_method="tvl1") on a textured image shifted by (1.5, -1.0) px recovers the shift."""
    grey = cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2GRAY)
    base = cv2.resize(grey, (64, 64), interpolation=cv2.INTER_AREA).astype(np.float32)
    yy, xx = np.mgrid[0:64, 0:64].astype(np.float32)
    shifted = cv2.remap(base, xx - 1.5, yy + 1.0, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
    frames = np.stack([base, shifted]).round().clip(0, 255).astype(np.uint8)
    before = flow.FARNEBACK_CALLS[0]
    fields = flow.sequence_flow(frames, dataclasses.replace(Config(), flow_method="tvl1"))
    assert flow.FARNEBACK_CALLS[0] == before  # TV-L1, not Farneback
    assert fields.shape == (1, 64, 64, 2) and fields.dtype == np.float32
    inner = fields[0, 8:-8, 8:-8]
    np.testing.assert_allclose(np.median(inner[..., 0]), 1.5, atol=0.15)
    np.testing.assert_allclose(np.median(inner[..., 1]), -1.0, atol=0.15)
    with pytest.raises(ValueError, match="flow_method.*'lucas_kanade'"):
        flow.sequence_flow(frames, dataclasses.replace(Config(), flow_method="lucas_kanade"))


def test_flow_difference_threshold_comes_from_the_flow_differences():
    """mask_reading="flow_difference": D_i and its own U = a * mean(D), not eq. (6)-(8)'s grey-level p."""
    flows = np.zeros((2, 4, 4, 2), np.float32)
    flows[0, 0, 0, 0] = 4.0  # |F_0| = 4 at one pixel
    flows[1, 0, 0, 0] = 1.0  # |F_1| = 1 there: D_1 = 3
    grey_diffs = np.full((2, 4, 4), 200, np.uint8)  # a grey-level threshold would exclude everything
    config = dataclasses.replace(Config(), mask_reading="flow_difference", scale_factor=1.0)
    mask = flow.motion_mask(flows, grey_diffs, config)
    differences = flow.flow_differences(flows)
    assert differences[0, 0, 0] == 4.0 and differences[1, 0, 0] == 3.0
    np.testing.assert_array_equal(mask, differences > differences.mean())
    assert mask.sum() == 2


def _blob_and_speck():
    """P_i of 3 steps: a 5x5 region changing at every step, one pixel changing at step 1 only."""
    differences = np.zeros((3, 16, 16), np.float32)
    differences[:, 4:9, 4:9] = 40
    differences[1, 12, 12] = 30  # above U = 0.8 * mean(P) = 3.16, alone in space and time
    return np.zeros(differences.shape + (2,), np.float32), differences


@pytest.mark.parametrize(
    "reading, keeps_speck",
    [("grey_difference", True), ("temporal", False), ("spatial", False), ("spatiotemporal", False), ("regional", True)],
)
def test_each_reading_keeps_the_moving_region_and_only_the_literal_ones_the_isolated_pixel(reading, keeps_speck):
    flows, differences = _blob_and_speck()
    mask = flow.mask_for_reading(flows, differences, reading, 0.8, sigma=1.5, regions=4)
    assert mask[:, 4:9, 4:9].all()  # coherent motion survives every reading
    assert mask[1, 12, 12] == keeps_speck
    if reading == "temporal":  # the rule only removes: what it keeps, the literal reading keeps too
        assert not (mask & ~flow.mask_for_reading(flows, differences, "grey_difference", 0.8)).any()


def test_temporal_continuity_needs_an_adjacent_step():
    above = np.zeros((4, 1, 3), bool)
    above[0, 0, 0] = above[1, 0, 0] = True  # steps 0-1: continuous
    above[2, 0, 1] = True  # step 2 alone
    above[1, 0, 2] = above[3, 0, 2] = True  # steps 1 and 3: a gap, not adjacent
    kept = flow.temporally_continuous(above)
    assert kept[:, 0, 0].tolist() == [True, True, False, False]
    assert not kept[:, 0, 1:].any()
    one_step = np.ones((1, 2, 2), bool)  # nothing to confirm against: the step's own test stands
    np.testing.assert_array_equal(flow.temporally_continuous(one_step), one_step)


def test_regional_threshold_is_a_times_each_blocks_mean():
    differences = np.zeros((2, 10, 10), np.float32)
    differences[:, :4, :4] = 8.0  # rows and columns split 4 / 3 / 3
    differences[0, 7:, 7:] = 0.5
    threshold = flow.regional_threshold(differences, 0.5, 3)
    assert threshold[0, 0] == pytest.approx(4.0) and threshold[9, 9] == pytest.approx(0.125)
    assert threshold[5, 5] == 0.0 and threshold[0, 9] == 0.0
    differences[:, 0, 0] = 3.0  # weaker than its block, stronger than the clip's mean
    still = np.zeros((2, 10, 10, 2), np.float32)
    regional = flow.mask_for_reading(still, differences, "regional", 0.5, regions=3)
    literal = flow.mask_for_reading(still, differences, "grey_difference", 0.5)  # U = 0.5 * 1.25 > 0.5
    # weak change in a quiet block passes its block's threshold, not the clip's; and the other way round
    assert regional[0, 7:, 7:].all() and not literal[0, 7:, 7:].any()
    assert not regional[:, 0, 0].any() and literal[:, 0, 0].all()
    with pytest.raises(ValueError, match="mask_regions"):
        flow.regional_threshold(differences, 0.5, 11)


@pytest.mark.parametrize("noise", [1.0, 3.0])
def test_spatial_readings_remove_the_sensor_noise_of_a_real_texture_and_keep_the_motion(noise):
    frames, _, core, far = _moving_face(noise=noise)
    flows = flow.sequence_flow(frames, Config())
    differences = flow.grey_differences(frames)
    literal = flow.mask_for_reading(flows, differences, "grey_difference", 0.8)
    removed_far, kept_core = _energy_fractions(flows, literal, core, far)
    for reading in ("spatial", "spatiotemporal"):
        mask = flow.mask_for_reading(flows, differences, reading, 0.8, sigma=0.02 * SIZE)
        removed, kept = _energy_fractions(flows, mask, core, far)
        assert removed >= 0.98 and removed > removed_far, (reading, removed, removed_far)
        assert kept >= 0.9 and kept > kept_core, (reading, kept, kept_core)
    temporal = flow.mask_for_reading(flows, differences, "temporal", 0.8)
    assert _energy_fractions(flows, temporal, core, far)[0] > removed_far


def test_motion_mask_follows_the_config_reading_and_its_parameters(moving):
    _, flows, diffs, _, _, _ = moving
    for reading in flow.MASK_READINGS:
        config = dataclasses.replace(Config(), mask_reading=reading, mask_sigma=0.03, mask_regions=2)
        expected = flow.mask_for_reading(flows, diffs, reading, 0.8, sigma=0.03 * SIZE, regions=2)
        np.testing.assert_array_equal(flow.motion_mask(flows, diffs, config), expected)
    with pytest.raises(ValueError, match="mask_reading"):
        flow.mask_for_reading(flows, diffs, "blurred", 0.8)
    with pytest.raises(ValueError, match="sigma"):
        flow.smoothed_differences(diffs, 0.0)


def test_the_config_offers_exactly_the_readings_flow_implements():
    import dataclasses as dc

    field = next(f for f in dc.fields(Config) if f.name == "mask_reading")
    assert field.metadata["choices"] == flow.MASK_READINGS
    for bad in ({"mask_reading": "smoothed"}, {"mask_sigma": 0.0}, {"mask_regions": 0}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            Config(**bad)
