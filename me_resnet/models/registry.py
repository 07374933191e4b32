"""Which input each method takes, and its own training defaults.

A method name selects a model builder (``me_resnet.models.resnet.build_model``) and the
kind of features it needs (``me_resnet.preprocessing.features.extract_features(kind=...)``):

- ``sequence``: N-1 key-frame flow fields, (T, H, W, 3) (methods 3 and 4).
- ``apex_flow``: one onset->apex flow field, (H, W, 3) (method 2, baselines).
- ``apex_image``: the grey apex face stacked to 3 channels, (H, W, 3) (method 1).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from me_resnet.config import Config


@dataclass(frozen=True)
class MethodSpec:
    name: str
    feature_kind: str  # "sequence" | "apex_flow" | "apex_image"
    description: str
    config_overrides: dict = field(default_factory=dict)  # the method's own defaults
    demo_overrides: dict = field(default_factory=dict)  # on top of those in demo runs (smaller budgets)


METHODS: dict[str, MethodSpec] = {
    spec.name: spec
    for spec in (
        MethodSpec("resnet50_image", "apex_image", "Table 4 method 1: 2D ResNet50 on the apex face image"),
        MethodSpec("resnet50_flow", "apex_flow", "Table 4 method 2: 2D ResNet50 on onset->apex Farneback flow"),
        MethodSpec(
            "resnet3d_flow", "sequence", "Table 4 method 3: 3D ResNet50 on improved-Farneback key-frame flow, no CBAM"
        ),
        MethodSpec("me_resnet", "sequence", "Table 4 method 4: ME-ResNet (3D ResNet50 + CBAM)"),
        # Table 5 baselines (me_resnet/baselines.py, docs/baselines.md). STSTNet: its
        # authors' settings (christy1206/STSTNet main.py): Adam 5e-5, batch 256,
        # 800 epochs, cross-entropy, no augmentation, last epoch's model.
        MethodSpec(
            "ststnet",
            "apex_flow",
            "Table 5 baseline: STSTNet (Liong et al., FG 2019) on onset->apex (u, v, strain) at 28x28",
            config_overrides={
                "image_size": 28,
                "learning_rate": 5e-5,
                "batch_size": 256,
                "epochs": 800,
                "loss": "crossentropy",
                "early_stop_on": "none",
                "augment": False,
                "loso_scope": "composite",  # their u_train folders hold all 3 datasets' other subjects
            },
            demo_overrides={"epochs": 150, "learning_rate": 1e-3, "batch_size": 64},  # demo: small budget
        ),
        # OFF-ApexNet: no confirmed source for its training settings; only the input
        # size, the loss, "no augmentation" and the MEGC 2019 composite LOSO of its published
        # numbers are set; the rest are the kit's defaults.
        MethodSpec(
            "off_apexnet",
            "apex_flow",
            "Table 5 baseline: OFF-ApexNet (Gan et al., 2019) on onset->apex u and v flow at 28x28",
            config_overrides={"image_size": 28, "loss": "crossentropy", "augment": False, "loso_scope": "composite"},
        ),
    )
}


def get_method(name: str) -> MethodSpec:
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; choose one of {sorted(METHODS)}")
    return METHODS[name]


def method_config(name: str, config: Config, explicit=(), demo: bool = False) -> Config:
    """``config`` with ``model = name`` and the method's own defaults applied.

    Precedence: profile < the method's own defaults < keys the user set explicitly
    (``explicit``, e.g. ``--epochs 5``). With ``demo`` the method's ``demo_overrides``
    (e.g. fewer epochs) apply on top of its defaults, so demo runs stay small.
    """
    spec = get_method(name)
    overrides = dict(spec.config_overrides)
    if demo:
        overrides.update(spec.demo_overrides)
    overrides = {key: value for key, value in overrides.items() if key not in set(explicit)}
    return dataclasses.replace(config, model=name, **overrides)
