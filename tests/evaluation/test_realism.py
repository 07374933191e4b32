"""Targets of the demo's realism against the real CASME II reference (me_resnet/evaluation/realism.py)."""

import copy

import pytest

from me_resnet.evaluation import realism
from me_resnet.preprocessing import flow_stats


def _measured_like_the_reference() -> dict:
    reference = realism.REAL_CASME2
    return {"statistics": copy.deepcopy(reference["statistics"]), "probe_uf1": reference["probe_uf1"]}


def test_the_reference_itself_meets_every_target():
    targets = realism.check_targets(_measured_like_the_reference())
    assert set(targets) == {*flow_stats.STATISTICS, "probe_uf1", "all_met"}
    assert targets["all_met"] and all(targets[name]["met"] for name in flow_stats.STATISTICS)


@pytest.mark.parametrize(
    "name, median, met",
    [
        ("kept", 0.74, False),  # outside the real p10-p90 band
        ("kept", 0.70, True),  # inside the band: only the band is asked of it
        ("speckle", 0.24, False),  # inside the band but more than 25 % below the real median
        ("speckle", 0.41, True),
        ("drift", 0.040, False),
    ],
)
def test_band_and_closeness(name, median, met):
    measured = _measured_like_the_reference()
    measured["statistics"][name]["median"] = median
    targets = realism.check_targets(measured)
    assert targets[name]["met"] is met and targets["all_met"] is met


@pytest.mark.parametrize("uf1, met", [(0.59, False), (0.75, True), (0.95, False)])
def test_the_probe_must_be_learnable_but_not_trivially(uf1, met):
    measured = _measured_like_the_reference() | {"probe_uf1": uf1}
    assert realism.check_targets(measured)["probe_uf1"]["met"] is met


def test_pipeline_config_is_the_reference_pipeline():
    config = realism.pipeline_config()
    assert (config.num_frames, config.image_size, config.face_detector, config.face_align) == (11, 112, "mtcnn", True)
    assert config.flow_method == "farneback" and config.flow_mode == "vanilla" and config.normalise == "none"
