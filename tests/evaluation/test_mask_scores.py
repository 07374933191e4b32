"""evaluation/mask_scores.py: the share of the flow inside a known moving region, through the face crop."""

import numpy as np
import pandas as pd
import pytest

from me_resnet.config import Config
from me_resnet.evaluation import mask_scores
from me_resnet.preprocessing.face import FaceBox


def test_share_inside_a_known_region():
    region = np.zeros((4, 4), np.float32)
    region[:, :2] = 1.0  # the left half
    weights = np.ones((2, 4, 4))
    weights[:, :, :2] = 3.0
    assert mask_scores.share_inside(weights, region) == pytest.approx(0.75)  # 3 * 16 / (3 * 16 + 16)
    assert mask_scores.share_inside(weights[0], region * 0.5) == pytest.approx(0.375)  # partial coverage counts
    assert np.isnan(mask_scores.share_inside(np.zeros((2, 4, 4)), region))
    with pytest.raises(ValueError, match="region"):
        mask_scores.share_inside(weights, region[:3])


def test_region_is_mapped_through_the_crop_box_and_its_rotation():
    frame = np.zeros((40, 60), bool)
    frame[10:20, 20:30] = True  # the top-left quarter of the box below
    box = FaceBox(20, 10, 40, 30)  # 20 px square
    region = mask_scores.region_in_crop(frame, box, 10)  # shrunk 2x
    expected = np.zeros((10, 10), np.float32)
    expected[:5, :5] = 1.0
    np.testing.assert_allclose(region, expected, atol=1e-6)
    assert region.mean() == pytest.approx(0.25)  # the chance level of the share
    turned = mask_scores.region_in_crop(frame, FaceBox(20, 10, 40, 30, 180.0), 10)  # rotated about the centre
    assert turned[5:, 5:].mean() > 0.9 and turned[:5, :5].mean() < 0.1
    entry = {"box": np.array([20, 10, 40, 30]), "angle": np.asarray(180.0)}
    assert mask_scores.entry_box(entry) == FaceBox(20, 10, 40, 30, 180.0)
    assert mask_scores.entry_box({"box": entry["box"]}).angle == 0.0
    with pytest.raises(ValueError, match="2-D"):
        mask_scores.region_in_crop(np.zeros((2, 40, 60), bool), box, 10)


def _entry():
    """A 24x24 crop of a 24x24 frame: motion in rows 4-11 x cols 4-11 at every step, plus, at one step,
    single noisy pixels 5 px apart elsewhere whose grey change stands out per pixel."""
    flows = np.zeros((3, 24, 24, 2), np.float32)
    differences = np.zeros((3, 24, 24), np.uint8)
    flows[:, 4:12, 4:12, 0] = 1.0
    differences[:, 4:12, 4:12] = 40
    specks = np.zeros((24, 24), bool)
    specks[2::5, 2::5] = True
    specks[:17, :17] = False  # none within 5 px of the region
    flows[1, specks, 1] = 1.5
    differences[1, specks] = 40
    moving = np.zeros((24, 24), bool)
    moving[4:12, 4:12] = True
    return {"flows": flows, "grey_diffs": differences, "box": np.array([0, 0, 24, 24])}, moving


def test_clip_scores_vanilla_against_each_reading():
    entry, moving = _entry()
    config = Config(mask_sigma=0.06)  # 1.44 px on the 24 px crop
    rows = mask_scores.clip_scores(entry, moving, config, ["grey_difference", "spatial"], [0.8])
    by_reading = {row["reading"]: row for row in rows}
    assert [row["reading"] for row in rows] == ["vanilla", "grey_difference", "spatial"]
    assert by_reading["vanilla"]["chance"] == pytest.approx(64 / 576)
    vanilla, literal, spatial = by_reading["vanilla"], by_reading["grey_difference"], by_reading["spatial"]
    specks = int((entry["flows"][1, ..., 1] > 0).sum())
    assert vanilla["kept"] == 1.0 and vanilla["speckle"] == 0.0 and vanilla["removed"] == 0.0
    assert vanilla["motion_kept"] == 1.0 and 0.3 < vanilla["energy_share"] < 0.9
    assert literal["energy_share"] == pytest.approx(vanilla["energy_share"])  # the per-pixel test keeps the specks
    assert literal["speckle"] == pytest.approx(specks / (3 * 64 + specks))
    assert spatial["energy_share"] == pytest.approx(1.0) and spatial["motion_kept"] == pytest.approx(1.0)
    assert spatial["speckle"] < literal["speckle"] and spatial["removed"] > 0


def test_summarise_pairs_each_clip_with_its_vanilla_row():
    rows = []
    for clip, (before, after) in {"a": (0.2, 0.5), "b": (0.4, 0.3)}.items():
        for reading, share in (("vanilla", before), ("spatial", after)):
            rows.append(
                {"dataset": "casme2", "subject": "s", "clip": clip, "reading": reading}
                | {"scale_factor": np.nan if reading == "vanilla" else 0.8, "chance": 0.1}
                | dict.fromkeys(mask_scores.SCORES, 0.0)
                | {"energy_share": share, "strain_share": share}
            )
    summary = mask_scores.summarise(pd.DataFrame(rows)).set_index("reading")
    assert summary.loc["spatial", "energy_share_gain_median"] == pytest.approx(0.1)  # gains +0.3 and -0.1
    assert summary.loc["spatial", "energy_share_gain_positive"] == 0.5
    assert summary.loc["vanilla", "clips"] == 2 and summary.loc["spatial", "chance_median"] == pytest.approx(0.1)
    records = mask_scores.summary_records(summary.reset_index())
    assert records[0]["scale_factor"] is None  # vanilla has no a: null in JSON, not NaN
