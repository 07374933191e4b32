"""``flow_resolution``: flow on the face crop at its own size, then resized (preprocessing/features.py, flow.py)."""

import dataclasses

import cv2
import numpy as np
import pytest

from me_resnet.config import Config
from me_resnet.data.records import ClipRecord
from me_resnet.models.registry import method_config
from me_resnet.preprocessing import flow
from me_resnet.preprocessing.cache import settings_hash
from me_resnet.preprocessing.features import extract_features

SIDE, SIZE = 140, 28  # the face at its own size, the baselines' input size
SHIFT = 0.5  # pixels at SIDE: 0.1 pixel at SIZE
BASELINE = dataclasses.replace(
    Config(),
    image_size=SIZE,
    face_detector="center",
    flow_method="tvl1",
    flow_mode="vanilla",
    channels="magnitude",
    normalise="none",
)


def _region(side):
    """Smooth weight of a 24 x 16 pixel patch (at SIDE) in the middle of the face: the moving skin."""
    yy, xx = np.mgrid[0:side, 0:side].astype(np.float32)
    centre, scale = side / 2, side / SIDE
    box = ((np.abs(xx - centre) < 12 * scale) & (np.abs(yy - centre) < 8 * scale)).astype(np.float32)
    return cv2.GaussianBlur(box, (0, 0), 2 * scale)


def _write_shifted_clip(root, seed=0):
    """Onset and apex frames of a fine low-contrast texture whose middle patch moves SHIFT pixels right,
    with independent sensor noise (1 grey level) on each frame."""
    rng = np.random.default_rng(seed)
    texture = cv2.GaussianBlur(rng.normal(0, 1, (SIDE, SIDE)).astype(np.float32), (0, 0), 1.0)
    image = 128 + 12 * texture / texture.std()
    yy, xx = np.mgrid[0:SIDE, 0:SIDE].astype(np.float32)
    moved = cv2.remap(image, xx - SHIFT * _region(SIDE), yy, cv2.INTER_CUBIC)
    root.mkdir(parents=True)
    paths = []
    for number, frame in ((1, image), (2, moved)):
        path = root / f"img{number}.png"
        cv2.imwrite(str(path), np.clip(frame + rng.normal(0, 1.0, frame.shape), 0, 255).astype(np.uint8))
        paths.append(str(path))
    return ClipRecord("casme2", "sub01", "EP01", tuple(paths), (1, 2), 1, 2, 2, "happiness", 1)


def _u_in_region(record, config, cache):
    features = extract_features([record], config, kind="apex_flow", cache_dir=cache, workers=1, progress=False)
    assert features.X.shape == (1, SIZE, SIZE, 3)
    inside = _region(SIZE) > 0.5
    return float(features.X[0, ..., 0][inside].mean()), features


@pytest.mark.skipif(not hasattr(cv2, "optflow"), reason="TV-L1 needs OpenCV's contrib build")
def test_sub_pixel_motion_is_resolved_at_native_size_and_lost_at_28(tmp_path):
    record = _write_shifted_clip(tmp_path / "clip")
    truth = SHIFT * SIZE / SIDE * float(_region(SIZE)[_region(SIZE) > 0.5].mean())  # in 28-pixel units
    native, native_features = _u_in_region(record, dataclasses.replace(BASELINE, flow_resolution="native"), tmp_path)
    model, _ = _u_in_region(record, dataclasses.replace(BASELINE, flow_resolution="model"), tmp_path)
    # TV-L1's smoothing keeps about half of so small a patch's motion at the native size; at 28 px the
    # motion is a tenth of a pixel over a 5 x 3 pixel patch and next to nothing of it is found
    assert 0.4 * truth < native < 1.2 * truth
    assert abs(model) < 0.2 * truth and native > 3 * abs(model)
    magnitude = native_features.X[0, ..., 2]
    assert magnitude[_region(SIZE) > 0.5].mean() > 0.4 * truth  # magnitude in 28-pixel units too


def test_resize_flow_scales_displacements_not_strain():
    rng = np.random.default_rng(0)
    flows = rng.normal(0, 1, (2, 56, 56, 2)).astype(np.float32)
    resized = flow.resize_flow(flows, 28)
    assert resized["flows"].shape == (2, 28, 28, 2)
    assert resized["strain"].shape == resized["magnitude"].shape == (2, 28, 28)
    uniform = np.ones((1, 56, 56, 2), np.float32)  # 1 pixel at 56 px is half a pixel at 28 px
    np.testing.assert_allclose(flow.resize_flow(uniform, 28)["flows"], 0.5)
    shear = np.zeros((1, 56, 56, 2), np.float32)
    shear[..., 0] = 0.1 * np.arange(56, dtype=np.float32)  # u = 0.1 x: strain 0.1 at any scale
    np.testing.assert_allclose(flow.resize_flow(shear, 28)["strain"], 0.1, atol=1e-5)
    with pytest.raises(ValueError, match="shape"):
        flow.resize_flow(flows[0], 28)


def test_native_entries_have_the_model_shapes(tmp_path):
    record = _write_shifted_clip(tmp_path / "clip")
    config = dataclasses.replace(BASELINE, flow_method="farneback", channels="strain", normalise="clip")
    native = dataclasses.replace(config, flow_resolution="native")

    def extract(settings, kind="apex_flow"):
        return extract_features([record], settings, kind, tmp_path / "cache", workers=1, progress=False)

    first, model = extract(native), extract(config)
    assert first.X.shape == model.X.shape == (1, SIZE, SIZE, 3)
    assert first.info["cache_key"] != model.info["cache_key"]
    again = extract(native)
    assert again.info["cache_hits"] == 1
    np.testing.assert_array_equal(again.X, first.X)
    sequence = extract(dataclasses.replace(native, num_frames=2), "sequence")
    assert sequence.X.shape == (1, 1, SIZE, SIZE, 3)


def test_flow_resolution_changes_the_flow_cache_keys_only():
    config = Config()
    native = dataclasses.replace(config, flow_resolution="native")
    for kind in ("sequence", "apex_flow"):
        assert settings_hash(native, kind) != settings_hash(config, kind)
    assert settings_hash(native, "apex_image") == settings_hash(config, "apex_image")
    with pytest.raises(ValueError, match="flow_resolution"):
        dataclasses.replace(config, flow_resolution="full")


def test_baselines_default_to_native_flow_and_me_resnet_to_model():
    for method in ("ststnet", "off_apexnet"):
        assert method_config(method, Config()).flow_resolution == "native"
    assert method_config("me_resnet", Config()).flow_resolution == "model"
    explicit = method_config("ststnet", dataclasses.replace(Config(), flow_resolution="model"), ("flow_resolution",))
    assert explicit.flow_resolution == "model"
