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


def test_method_config_precedence():
    assert method_config("ststnet", PAPER).epochs == 800
    assert method_config("ststnet", DEMO, demo=True).epochs == 150  # demo budget on top of the method's own
    typed = dataclasses.replace(PAPER, epochs=100)
    assert method_config("ststnet", typed, explicit={"epochs"}).epochs == 100  # typed wins, even = profile
    assert method_config("me_resnet", PAPER).model == "me_resnet"
    assert get_method("off_apexnet").config_overrides["loso_scope"] == "composite"


def test_titles_fall_back_to_the_name():
    assert method_title("me_resnet") == "ME-ResNet" and method_title("tiny") == "tiny"
