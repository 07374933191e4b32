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


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"early_stop_on": "bogus"}, "early_stop_on must be one of val, test, none; got 'bogus'"),
        ({"epochs": 0}, r"epochs must lie in \[1, inf\), got 0"),
        ({"val_fraction": 1.5}, r"val_fraction must lie in \(0.0, 1.0\)"),
        ({"blocks": (1, 0, 1, 1)}, "blocks must lie in"),
        ({"num_frames": 2.5}, "num_frames must be int, got 2.5"),
        ({"augment": 1}, "augment must be bool, got 1"),
        ({"pretrained": 3}, "pretrained must be"),
        ({"learning_rate": "fast"}, "learning_rate must be float"),
    ],
)
def test_config_checks_its_fields_when_constructed(changes, message):
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(DEMO, **changes)


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("learning_rate", 0.0, r"config learning_rate must lie in \(0.0, inf\), got 0.0"),
        ("learning_rate", -1e-4, r"learning_rate must lie in \(0.0, inf\), got -0.0001"),
        ("image_size", 1, r"config image_size must lie in \[8, inf\), got 1"),
        ("image_size", 7, r"image_size must lie in \[8, inf\), got 7"),
        ("patience", 0, r"config patience must lie in \[1, inf\), got 0"),
        ("val_fraction", 1.0, r"config val_fraction must lie in \(0.0, 1.0\), got 1.0"),
        ("val_fraction", 0.0, r"val_fraction must lie in \(0.0, 1.0\), got 0.0"),
        ("farneback_pyr_scale", 1.0, r"config farneback_pyr_scale must lie in \[0.0, 1.0\), got 1.0"),
        ("batch_size", 0, r"config batch_size must lie in \[1, inf\), got 0"),
        ("num_frames", 1, r"config num_frames must lie in \[2, inf\), got 1"),
    ],
)
def test_values_no_run_can_mean_are_refused_naming_the_field(field, value, message):
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(DEMO, **{field: value})


def test_the_smallest_accepted_values_are_accepted():
    smallest = dataclasses.replace(
        DEMO, learning_rate=1e-12, image_size=8, patience=1, val_fraction=0.01, farneback_pyr_scale=0.0, epochs=1
    )
    assert (smallest.image_size, smallest.patience) == (8, 1)


def test_every_string_field_with_alternatives_declares_its_choices():
    config = Config()
    for spec in dataclasses.fields(Config):
        choices = spec.metadata.get("choices")
        if choices is not None:
            assert getattr(config, spec.name) in choices, spec.name
        low, high = spec.metadata.get("range", (None, None))
        value = getattr(config, spec.name)
        for item in value if isinstance(value, tuple) else (value,):
            assert (low is None or item >= low) and (high is None or item <= high), spec.name
    assert Config.__dataclass_fields__["early_stop_on"].metadata["choices"] == ("val", "test", "none")


def test_integers_are_accepted_for_float_fields():
    assert dataclasses.replace(DEMO, scale_factor=1).scale_factor == 1
