import dataclasses
import json

import pytest

from me_resnet.config import DEMO, PAPER, Config, apply_overrides, get_profile


def test_paper_defaults():
    assert (PAPER.num_frames, PAPER.scale_factor, PAPER.image_size) == (11, 0.8, 112)
    assert (PAPER.learning_rate, PAPER.batch_size, PAPER.focal_gamma, PAPER.patience, PAPER.epochs) == (
        1e-4,
        32,
        2.0,
        10,
        100,
    )
    assert PAPER.protocol == "megc2019" and PAPER.blocks == (3, 4, 6, 3)


def test_profiles_are_replacements_of_the_defaults():
    assert get_profile("paper") == Config()
    assert get_profile("demo").image_size < PAPER.image_size
    with pytest.raises(ValueError, match="unknown profile 'gpu'"):
        get_profile("gpu")


def test_overrides_map_types_and_reject_unknown_keys():
    config = apply_overrides(
        DEMO,
        ["--num-frames", "5", "--scale_factor", "0.4", "--augment", "false", "blocks=1,2,1,1", "--pretrained", "none"],
    )
    assert config.num_frames == 5 and config.scale_factor == 0.4 and config.augment is False
    assert config.blocks == (1, 2, 1, 1) and config.pretrained is None
    with pytest.raises(ValueError, match="unknown config key 'frames'"):
        apply_overrides(DEMO, ["--frames", "5"])
    with pytest.raises(ValueError, match="expects .*int.*got 'five'"):
        apply_overrides(DEMO, ["--num_frames", "five"])


def test_json_round_trip():
    config = dataclasses.replace(DEMO, seed=3)
    assert Config.from_dict(json.loads(config.to_json())) == config
    with pytest.raises(ValueError, match="unknown config key"):
        Config.from_dict({"nope": 1})
