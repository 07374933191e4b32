"""The method registry: every method described once, ``build_model`` and titles read it."""

import dataclasses

import pytest

from me_resnet.config import DEMO, PAPER
from me_resnet.models import registry
from me_resnet.models.registry import METHODS, MethodSpec, build_model, get_method, method_config, method_title
from me_resnet.reporting import paper


def test_every_method_is_complete():
    assert set(METHODS) == {"resnet50_image", "resnet50_flow", "resnet3d_flow", "me_resnet", "ststnet", "off_apexnet"}
    for name, spec in METHODS.items():
        assert spec.name == name and spec.title and spec.description and callable(spec.builder)
        assert spec.feature_kind in registry.FEATURE_KINDS
    for method in paper.FIG11:  # the ablation's methods have titles
        assert method in METHODS
    for method in ("me_resnet", "ststnet", "off_apexnet"):  # Table 5 rows are found by title
        assert method_title(method) in paper.TABLE5


def test_a_spec_rejects_unknown_kinds_and_config_keys():
    with pytest.raises(ValueError, match="feature_kind"):
        MethodSpec("x", "X", "x", "video", lambda *a: None)
    with pytest.raises(ValueError, match="epoch"):
        MethodSpec("x", "X", "x", "sequence", lambda *a: None, config_overrides={"epoch": 3})


def test_build_model_calls_the_registered_builder(monkeypatch):
    calls = []
    spec = dataclasses.replace(METHODS["ststnet"], builder=lambda *args: calls.append(args) or "model")
    monkeypatch.setitem(METHODS, "ststnet", spec)
    assert build_model("ststnet", [28, 28, 3], 3, PAPER) == "model"
    assert calls == [((28, 28, 3), 3, PAPER, "ststnet")]
    with pytest.raises(ValueError, match="unknown method 'resnet18'"):
        build_model("resnet18", (28, 28, 3), 3, PAPER)


def test_build_model_hands_the_config_to_the_builders():
    from me_resnet.models.cbam import CBAM

    shape = SHAPES["sequence"]
    config = dataclasses.replace(TINY, cbam_gate="softmax")
    me = build_model("me_resnet", shape, 3, config)
    cbams = [layer for layer in me.layers if isinstance(layer, CBAM)]
    assert cbams and all(layer.gate == "softmax" and layer.reduction == TINY.cbam_reduction for layer in cbams)
    assert me.get_layer("conv2_block1_1_conv").filters == TINY.width
    with pytest.raises(FileNotFoundError, match="nowhere.keras"):
        build_model("me_resnet", shape, 3, dataclasses.replace(TINY, pretrained="/nowhere.keras"))


def test_method_config_precedence():
    assert method_config("ststnet", PAPER).epochs == 800
    assert method_config("ststnet", DEMO, demo=True).epochs == 50  # demo budget on top of the method's own
    typed = dataclasses.replace(PAPER, epochs=100)
    assert method_config("ststnet", typed, explicit={"epochs"}).epochs == 100  # typed wins, even = profile
    assert method_config("me_resnet", PAPER).model == "me_resnet"
    assert get_method("off_apexnet").config_overrides["loso_scope"] == "composite"


def test_titles_fall_back_to_the_name():
    assert method_title("me_resnet") == "ME-ResNet" and method_title("tiny") == "tiny"


TINY = dataclasses.replace(DEMO, blocks=(1, 1, 1, 1), width=4, cbam_reduction=2)
SHAPES = {"sequence": (4, 32, 32, 3), "apex_flow": (32, 32, 3), "apex_image": (32, 32, 3)}


def _direct(name: str, shape: tuple):
    """What each registry entry is meant to build, from the builders themselves."""
    from me_resnet.models import baselines
    from me_resnet.models.resnet import ResNetOptions, build_me_resnet, build_resnet3d, build_resnet50_2d

    options = ResNetOptions.from_config(method_config(name, TINY))
    return {
        "resnet50_image": lambda: build_resnet50_2d(shape, 3, options, name=name),
        "resnet50_flow": lambda: build_resnet50_2d(shape, 3, options, name=name),
        "resnet3d_flow": lambda: build_resnet3d(shape, 3, options, name=name),
        "me_resnet": lambda: build_me_resnet(shape, 3, options, name=name),
        "ststnet": lambda: baselines.build_ststnet(shape, 3),
        "off_apexnet": lambda: baselines.build_off_apexnet(shape, 3),
    }[name]()


def _layers(model) -> list[tuple]:
    """Each layer's name (the input's is numbered by Keras), type and weight shapes."""
    return [
        ("input" if type(layer).__name__ == "InputLayer" else layer.name, type(layer).__name__)
        + tuple(tuple(v.shape) for v in layer.weights)
        for layer in model.layers
    ]


@pytest.mark.parametrize("name", sorted(METHODS))
def test_each_entry_builds_its_own_model_for_its_feature_kind(name):
    """The method's model, layer for layer, on the input its feature kind gives; 3 class probabilities out."""
    from me_resnet.models.cbam import CBAM

    spec = METHODS[name]
    shape = SHAPES[spec.feature_kind]
    model = build_model(name, shape, 3, method_config(name, TINY))
    assert tuple(model.input_shape[1:]) == shape and tuple(model.output_shape) == (None, 3)
    assert _layers(model) == _layers(_direct(name, shape))
    convolutions = {type(layer).__name__ for layer in model.layers} & {"Conv2D", "Conv3D"}
    assert convolutions == {"Conv3D" if spec.feature_kind == "sequence" else "Conv2D"}
    assert any(isinstance(layer, CBAM) for layer in model.layers) == (name == "me_resnet")  # Table 4 method 4 only
