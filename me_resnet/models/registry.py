"""The one registry of methods: name, display title, input features, model builder and own defaults.

Tables, plots, feature extraction and ``build_model`` all read ``METHODS``. The
feature kinds (``me_resnet.preprocessing.features.extract_features(kind=...)``):

- ``sequence``: N-1 key-frame flow fields, (T, H, W, 3) (methods 3 and 4).
- ``apex_flow``: one onset->apex flow field, (H, W, 3) (method 2, baselines).
- ``apex_image``: the grey apex face stacked to 3 channels, (H, W, 3) (method 1).

A builder is ``builder(input_shape, num_classes, config, name) -> keras.Model``;
it reads the model fields of ``config`` it needs.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

from me_resnet.config import Config

if TYPE_CHECKING:
    import keras

# The builders import the model modules (and so Keras) when they build: the registry is read by tables, plots
# and the command line's flag choices, which must not load TensorFlow.

FEATURE_KINDS = ("sequence", "apex_flow", "apex_image")


def _resnet50_2d(input_shape, num_classes, config: Config, name: str) -> keras.Model:
    """2D ResNet50; ``config.pretrained`` is copied into it by layer name."""
    from me_resnet.models.resnet import ResNetOptions, build_resnet50_2d, load_inflated

    model = build_resnet50_2d(input_shape, num_classes, ResNetOptions.from_config(config), name=name)
    if config.pretrained:
        load_inflated(model, config.pretrained)
    return model


def _resnet3d(input_shape, num_classes, config: Config, name: str) -> keras.Model:
    """3D ResNet50 without CBAM; ``config.pretrained`` is inflated into it."""
    from me_resnet.models.resnet import ResNetOptions, build_resnet3d

    options = ResNetOptions.from_config(config)
    return build_resnet3d(input_shape, num_classes, options, pretrained=config.pretrained, name=name)


def _me_resnet(input_shape, num_classes, config: Config, name: str) -> keras.Model:
    """ME-ResNet (3D ResNet50 + CBAM); ``config.pretrained`` is inflated into it."""
    from me_resnet.models.resnet import ResNetOptions, build_me_resnet

    options = ResNetOptions.from_config(config)
    return build_me_resnet(input_shape, num_classes, options, pretrained=config.pretrained, name=name)


def _ststnet(input_shape, num_classes, config: Config, name: str) -> keras.Model:
    from me_resnet.models import baselines

    return baselines.build_ststnet(input_shape, num_classes)


def _off_apexnet(input_shape, num_classes, config: Config, name: str) -> keras.Model:
    from me_resnet.models import baselines

    return baselines.build_off_apexnet(input_shape, num_classes)


@dataclass(frozen=True)
class MethodSpec:
    """One method: how it is called, shown, fed and built, and the defaults it brings."""

    name: str
    title: str  # as in tables and plots; equals the paper's Table 5 row name where the paper has one
    description: str
    feature_kind: str  # one of FEATURE_KINDS
    builder: Callable[..., keras.Model]
    config_overrides: dict = field(default_factory=dict)  # the method's own defaults
    demo_overrides: dict = field(default_factory=dict)  # on top of those in demo runs (smaller budgets)
    # the paper pretrains it on FER2013 (§3.2.1): ME-ResNet and its Table 4 variants, whose builders inflate
    # config.pretrained; the Table 5 baselines train from scratch, as their authors' published numbers did
    pretrainable: bool = False

    def __post_init__(self):
        if self.feature_kind not in FEATURE_KINDS:
            raise ValueError(
                f"method {self.name}: feature_kind must be one of {FEATURE_KINDS}, got {self.feature_kind!r}"
            )
        fields = {spec.name for spec in dataclasses.fields(Config)}
        unknown = sorted((set(self.config_overrides) | set(self.demo_overrides)) - fields)
        if unknown:
            raise ValueError(f"method {self.name}: overrides name unknown config keys {unknown}")


METHODS: dict[str, MethodSpec] = {
    spec.name: spec
    for spec in (
        MethodSpec(
            "resnet50_image",
            "ResNet50 (2D, apex image)",
            "Table 4 method 1: 2D ResNet50 on the apex face image",
            "apex_image",
            _resnet50_2d,
            pretrainable=True,
        ),
        MethodSpec(
            "resnet50_flow",
            "ResNet50 (2D, onset-apex flow)",
            "Table 4 method 2: 2D ResNet50 on onset->apex Farneback flow",
            "apex_flow",
            _resnet50_2d,
            pretrainable=True,
        ),
        MethodSpec(
            "resnet3d_flow",
            "3D ResNet50 (key-frame flow, no CBAM)",
            "Table 4 method 3: 3D ResNet50 on improved-Farneback key-frame flow, no CBAM",
            "sequence",
            _resnet3d,
            pretrainable=True,
        ),
        MethodSpec(
            "me_resnet",
            "ME-ResNet",
            "Table 4 method 4: ME-ResNet (3D ResNet50 + CBAM)",
            "sequence",
            _me_resnet,
            pretrainable=True,
        ),
        # Table 5 baselines (me_resnet/models/baselines.py, docs/baselines.md). STSTNet: its
        # authors' settings (christy1206/STSTNet main.py): Adam 5e-5, batch 256,
        # 800 epochs, cross-entropy, no augmentation, last epoch's model.
        MethodSpec(
            "ststnet",
            "STSTNet",
            "Table 5 baseline: STSTNet (Liong et al., FG 2019) on onset->apex (u, v, strain) at 28x28",
            "apex_flow",
            _ststnet,
            config_overrides={
                "image_size": 28,
                "learning_rate": 5e-5,
                "batch_size": 256,
                "epochs": 800,
                "loss": "crossentropy",
                "early_stop_on": "none",
                "augment": False,
                "loso_scope": "composite",  # their u_train folders hold all 3 datasets' other subjects
                "flow_method": "tvl1",  # their authors' onset->apex TV-L1 flow, unmasked
                "flow_mode": "vanilla",
                "flow_resolution": "native",  # on the face at its own size, then resized to 28x28
            },
            # demo: a small budget; 50 epochs (was 100) for `make demo`'s 3 minutes: composite UF1 0.920 vs
            # 0.930 on the same demo features (2026-12-07)
            demo_overrides={"epochs": 50, "learning_rate": 1e-3, "batch_size": 64},
        ),
        # OFF-ApexNet: no confirmed source for its training settings; only the input
        # size, the loss, "no augmentation" and the MEGC 2019 composite LOSO of its published
        # numbers are set; the rest are the kit's defaults.
        MethodSpec(
            "off_apexnet",
            "OFF-ApexNet",
            "Table 5 baseline: OFF-ApexNet (Gan et al., 2019) on onset->apex u and v flow at 28x28",
            "apex_flow",
            _off_apexnet,
            config_overrides={
                "image_size": 28,
                "loss": "crossentropy",
                "augment": False,
                "loso_scope": "composite",
                "flow_method": "tvl1",  # their authors' onset->apex TV-L1 flow, unmasked
                "flow_mode": "vanilla",
                "flow_resolution": "native",  # on the face at its own size, then resized to 28x28
            },
            # demo: batches of 64 instead of the demo profile's 4 (the 2D model needs no small-batch
            # BatchNorm help): as accurate on the demo in about a third of the training time; 10 epochs
            # (was 20) for `make demo`'s 3 minutes: composite UF1 0.910 vs 0.931 on the same demo features
            demo_overrides={"batch_size": 64, "epochs": 10},
        ),
    )
}
METHOD_NAMES = tuple(METHODS)


def get_method(name: str) -> MethodSpec:
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; choose one of {list(METHODS)}")
    return METHODS[name]


def method_title(name: str) -> str:
    """Display title of method ``name``; the name itself for a model outside the registry."""
    return METHODS[name].title if name in METHODS else name


def method_config(name: str, config: Config, explicit=(), demo: bool = False) -> Config:
    """``config`` with ``model = name`` and the method's own defaults applied.

    Precedence: profile < the method's own defaults < keys the user typed
    (``explicit``, e.g. ``--epochs 100``, even when equal to the profile's value).
    With ``demo`` the method's ``demo_overrides`` (e.g. fewer epochs) apply on top
    of its defaults, so demo runs stay small. A method that is not ``pretrainable``
    gets no ``pretrained`` weights, whatever ``config`` holds: its model takes none.
    """
    spec = get_method(name)
    overrides = dict(spec.config_overrides)
    if demo:
        overrides.update(spec.demo_overrides)
    overrides = {key: value for key, value in overrides.items() if key not in set(explicit)}
    if not spec.pretrainable:
        overrides["pretrained"] = None
    return dataclasses.replace(config, model=name, **overrides)


def build_model(name: str, input_shape, num_classes: int, config: Config) -> keras.Model:
    """Uncompiled model of method ``name``, built by its registered builder from ``config``'s model fields."""
    return get_method(name).builder(tuple(input_shape), num_classes, config, name)
