"""One frozen settings object: the paper's values where it states them, the kit's choices elsewhere.

Each field's ``source`` metadata says which: ``"paper §..."`` (the section,
equation, table or figure that gives the value) or ``"kit"`` (the paper gives
none; ``docs/interpretations.md`` lists every field's source and explains each choice).

Named profiles are ``dataclasses.replace`` of the defaults:

- ``paper``: the defaults (3D ResNet50 + CBAM at 112x112, N = 11, with the
  kit's choices where the paper states nothing).
- ``demo``: a small model and small inputs so the whole pipeline runs in
  minutes on a 2-core CPU. Demo results say nothing about the paper's claims.

Every ambiguity of the paper has a switch here; ``docs/interpretations.md``
lists them.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import typing
from dataclasses import dataclass, field


@functools.cache
def _field_types() -> dict[str, typing.Any]:
    return typing.get_type_hints(Config)


def _type_ok(value, hint) -> bool:
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is tuple:
        return isinstance(value, (tuple, list)) and all(_type_ok(item, args[0]) for item in value)
    if type(None) in args:  # Optional[X]
        return value is None or any(_type_ok(value, arg) for arg in args if arg is not type(None))
    return True


def check_field(name: str, value, hint, metadata) -> None:
    """``ValueError`` unless ``value`` has the type ``hint`` and fits ``metadata``'s ``choices`` / ``range``.

    ``range`` is ``(low, high)``, ``None`` for an open end; both bounds are inclusive
    except those named in ``exclusive`` (``("low",)``, ``("high",)`` or both).
    """
    if not _type_ok(value, hint):
        raise ValueError(f"config {name} must be {getattr(hint, '__name__', hint)}, got {value!r}")
    choices = metadata.get("choices")
    if choices is not None and value not in choices:
        raise ValueError(f"config {name} must be one of {', '.join(map(str, choices))}; got {value!r}")
    low, high = metadata.get("range", (None, None))
    exclusive = metadata.get("exclusive", ())
    values = value if isinstance(value, (tuple, list)) else (value,)
    for item in (item for item in values if item is not None):
        too_low = low is not None and (item <= low if "low" in exclusive else item < low)
        too_high = high is not None and (item >= high if "high" in exclusive else item > high)
        if too_low or too_high:
            bounds = (
                ("(" if "low" in exclusive or low is None else "[")
                + f"{'-inf' if low is None else low}, {'inf' if high is None else high}"
                + (")" if "high" in exclusive or high is None else "]")
            )
            raise ValueError(f"config {name} must lie in {bounds}, got {value!r}")


@dataclass(frozen=True)
class Config:
    # --- data (paper §3.1) ---------------------------------------------
    # megc2019: official composite list
    protocol: str = field(
        default="megc2019", metadata={"source": "kit", "choices": ("megc2019", "paper_literal", "paper_extended")}
    )
    # repair: apex = middle frame
    bad_apex: str = field(default="repair", metadata={"source": "kit", "choices": ("repair", "drop")})
    # spot: max mean |frame - onset|
    smic_apex: str = field(default="middle", metadata={"source": "kit", "choices": ("middle", "spot")})

    # --- pre-processing (paper §2.1) -----------------------------------
    # N, key frames onset -> apex inclusive
    num_frames: int = field(default=11, metadata={"source": "paper §3.2.3, Fig. 9", "range": (2, None)})
    # a, eq. (9): U = a * p
    scale_factor: float = field(
        default=0.8, metadata={"source": "paper §3.2.4, Fig. 10, eq. (9)", "range": (0.0, None)}
    )
    # face crop side after resizing; 8: the smallest crop FaceCropper makes (me_resnet/preprocessing/face.py)
    image_size: int = field(default=112, metadata={"source": "kit", "range": (8, None)})
    # center: always the centre crop
    face_detector: str = field(default="mtcnn", metadata={"source": "kit", "choices": ("mtcnn", "center")})
    # box expansion before squaring
    face_margin: float = field(default=0.10, metadata={"source": "kit", "range": (0.0, None)})
    # rotate to level eyes (onset frame)
    face_align: bool = field(default=True, metadata={"source": "paper §2 (crop and align)", "choices": (True, False)})
    # improved: continuity mask
    flow_mode: str = field(
        default="improved", metadata={"source": "paper §2.1.1-§2.1.3", "choices": ("improved", "vanilla")}
    )
    # which reading of eq. (5) the continuity mask follows (docs/interpretations.md, "The continuity mask")
    mask_reading: str = field(
        default="grey_difference",
        metadata={
            "source": "paper §2.1.2, eq. (5)-(8)",
            "choices": ("grey_difference", "flow_difference", "temporal", "spatial", "spatiotemporal", "regional"),
        },
    )
    # spatial / spatiotemporal readings: Gaussian sigma of the blurred P_i, as a share of the crop's side
    mask_sigma: float = field(default=0.02, metadata={"source": "kit", "range": (0.0, None), "exclusive": ("low",)})
    # regional reading: U of eq. (9) per block of a mask_regions x mask_regions grid
    mask_regions: int = field(default=4, metadata={"source": "kit", "range": (1, None)})
    # (u, v, strain) | (u, v, |flow|)
    channels: str = field(default="strain", metadata={"source": "kit", "choices": ("strain", "magnitude")})
    # clip: per clip, per channel z-score
    normalise: str = field(default="clip", metadata={"source": "kit", "choices": ("clip", "none")})
    # tvl1: Dual TV-L1
    flow_method: str = field(default="farneback", metadata={"source": "paper §2.1.1", "choices": ("farneback", "tvl1")})
    # native: flow on the face crop at its own size, then resized to image_size (the baselines' authors' order)
    flow_resolution: str = field(default="model", metadata={"source": "kit", "choices": ("model", "native")})
    # OpenCV's calcOpticalFlowFarneback asserts pyr_scale < 1
    farneback_pyr_scale: float = field(
        default=0.5, metadata={"source": "kit", "range": (0.0, 1.0), "exclusive": ("high",)}
    )
    farneback_levels: int = field(default=3, metadata={"source": "kit", "range": (0, None)})
    farneback_winsize: int = field(default=15, metadata={"source": "kit", "range": (1, None)})
    farneback_iterations: int = field(default=3, metadata={"source": "kit", "range": (1, None)})
    farneback_poly_n: int = field(default=5, metadata={"source": "kit", "range": (1, None)})
    farneback_poly_sigma: float = field(default=1.2, metadata={"source": "kit", "range": (0.0, None)})

    # --- model (paper §2.2) --------------------------------------------
    # resnet50_image | resnet50_flow | resnet3d_flow | me_resnet | ststnet | off_apexnet
    model: str = field(default="me_resnet", metadata={"source": "paper Table 4"})
    # bottlenecks per stage
    blocks: tuple[int, ...] = field(
        default=(3, 4, 6, 3), metadata={"source": "paper §2.2 (ResNet50)", "range": (1, None)}
    )
    # stages: width * (1, 2, 4, 8)
    width: int = field(default=64, metadata={"source": "paper §2.2 (ResNet50)", "range": (1, None)})
    cbam_reduction: int = field(default=16, metadata={"source": "kit", "range": (1, None)})
    # softmax: eq. 12/14
    cbam_gate: str = field(
        default="sigmoid", metadata={"source": "paper §2.2.2 text", "choices": ("sigmoid", "softmax")}
    )
    # CBAM spatial conv k x k (x k in 3D)
    cbam_spatial_kernel: int = field(default=7, metadata={"source": "kit", "range": (1, None)})
    # on the residual branch before the sum (Fig. 5's text), after the sum, or that in every other block
    cbam_position: str = field(
        default="after_third_conv",
        metadata={
            "source": "paper §2.2.1, Fig. 5 text",
            "choices": ("after_third_conv", "after_add", "every_other_block"),
        },
    )
    # relu_bn: Fig. 5
    bottleneck_order: str = field(default="bn_relu", metadata={"source": "kit", "choices": ("bn_relu", "relu_bn")})
    # ReLU after the 3rd conv
    bottleneck_third_relu: bool = field(default=False, metadata={"source": "kit", "choices": (False, True)})
    shortcut_projection: str = field(
        default="first_block", metadata={"source": "kit", "choices": ("first_block", "every_block")}
    )
    # after the residual sum
    post_add_activation: str = field(default="relu", metadata={"source": "kit", "choices": ("relu", "none")})
    temporal_strides: str = field(
        default="stages_3_to_5", metadata={"source": "kit", "choices": ("stages_3_to_5", "none")}
    )
    # stem Conv3D (kt, 7, 7)
    stem_temporal_kernel: int = field(default=3, metadata={"source": "kit", "range": (1, None)})
    pretrained: str | None = field(default=None, metadata={"source": "kit"})  # path to a 2D .keras model to inflate

    # --- training (paper §3.2.1) ---------------------------------------
    learning_rate: float = field(
        default=1e-4, metadata={"source": "paper §3.2.1", "range": (0.0, None), "exclusive": ("low",)}
    )
    batch_size: int = field(default=32, metadata={"source": "paper §3.2.1", "range": (1, None)})
    epochs: int = field(default=100, metadata={"source": "kit", "range": (1, None)})
    # epochs without improvement before stopping
    patience: int = field(default=10, metadata={"source": "kit", "range": (1, None)})
    focal_gamma: float = field(default=2.0, metadata={"source": "kit", "range": (0.0, None)})
    focal_alpha: str = field(
        default="inverse_frequency", metadata={"source": "kit", "choices": ("inverse_frequency", "none")}
    )
    loss: str = field(
        default="focal", metadata={"source": "paper §3.2.1, eq. (15)", "choices": ("focal", "crossentropy")}
    )
    # 4x mirror / flip of training clips
    augment: bool = field(default=True, metadata={"source": "paper §3.2.1, Table 2"})
    # whole: leaky
    augment_scope: str = field(default="train", metadata={"source": "kit", "choices": ("train", "whole_dataset")})
    # test: optimistic
    early_stop_on: str = field(default="val", metadata={"source": "kit", "choices": ("val", "test", "none")})
    # share of training subjects held out for early stopping; some must stay to fit
    val_fraction: float = field(
        default=0.1, metadata={"source": "kit", "range": (0.0, 1.0), "exclusive": ("low", "high")}
    )
    # composite: MEGC 2019
    loso_scope: str = field(default="dataset", metadata={"source": "paper §3.2.1", "choices": ("dataset", "composite")})
    seed: int = field(default=0, metadata={"source": "kit", "range": (0, None)})
    precision: str = field(
        default="float32", metadata={"source": "kit", "choices": ("float32", "mixed_bfloat16", "mixed_float16")}
    )
    # XLA measured slower on CPU: 0.53x training, 0.34x inference (results/bench/model_throughput.json)
    jit_compile: bool = field(default=False, metadata={"source": "kit"})
    feature_dtype: str = field(
        default="float32",
        metadata={"source": "kit", "choices": ("float32", "float16")},
    )  # storage of the augmented training clips in train_fold
    # deterministic backend ops (TF op determinism); what stays bit-identical: docs/reliability.md
    deterministic: bool = field(default=False, metadata={"source": "kit", "choices": (False, True)})

    # --- evaluation -----------------------------------------------------
    bootstrap_resamples: int = field(default=1000, metadata={"source": "kit", "range": (0, None)})

    def __post_init__(self):
        """Check every field's type, and its ``choices`` / ``range`` metadata (``ValueError`` naming the field)."""
        hints = _field_types()
        for spec in dataclasses.fields(self):
            check_field(spec.name, getattr(self, spec.name), hints[spec.name], spec.metadata)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_json(self, **kwargs) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, **kwargs)

    @classmethod
    def from_dict(cls, values: dict) -> "Config":
        unknown = sorted(set(values) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise ValueError(
                f"unknown config key(s) {unknown}; known keys: {sorted(f.name for f in dataclasses.fields(cls))}"
            )
        values = dict(values)
        if "blocks" in values and values["blocks"] is not None:
            values["blocks"] = tuple(values["blocks"])
        return cls(**values)


def field_choices(name: str) -> tuple:
    """The values config field ``name`` accepts (its ``choices`` metadata): the one list of them."""
    for spec in dataclasses.fields(Config):
        if spec.name == name:
            if "choices" not in spec.metadata:
                raise ValueError(f"config {name} takes any value of its type, not one of a list")
            return tuple(spec.metadata["choices"])
    raise ValueError(f"unknown config key {name!r}")


PAPER = Config()
FARNEBACK_FIELDS = tuple(name for name in Config.__dataclass_fields__ if name.startswith("farneback_"))

DEMO = dataclasses.replace(
    PAPER,
    num_frames=6,
    image_size=32,
    blocks=(1, 1, 1, 1),
    width=16,  # small enough for a demo LOSO in minutes on a 2-core CPU, wide enough to learn the demo
    cbam_reduction=4,
    learning_rate=1e-3,
    batch_size=4,  # small batches: more BatchNorm updates, so moving statistics catch up on ~100 training clips
    epochs=12,
    patience=8,
    # demo CASME II has 5 subjects: a 1-subject validation split stopped at epochs 6-10 with UF1 0.33-0.47;
    # fixed epochs stay honest (the test subject is never looked at). Paper profile keeps "val".
    early_stop_on="none",
    bootstrap_resamples=200,
)

PROFILES: dict[str, Config] = {"paper": PAPER, "demo": DEMO}


def get_profile(name: str) -> Config:
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; choose one of {sorted(PROFILES)}")
    return PROFILES[name]


def parse_value(key: str, text: str):
    """Convert one CLI string to the type of config field ``key``."""
    types = _field_types()
    if key not in types:
        raise ValueError(f"unknown config key {key!r}; known keys: {sorted(types)}")
    hint = types[key]
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    try:
        if hint is bool:
            lowered = text.lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off"):
                return False
            raise ValueError(text)
        if hint is int:
            return int(text)
        if hint is float:
            return float(text)
        if origin is tuple:
            return tuple(int(part) for part in text.replace(",", " ").split())
        if type(None) in args:  # Optional[str]
            return None if text.lower() in ("", "none") else text
        return text
    except ValueError:
        raise ValueError(f"config key {key!r} expects {hint}, got {text!r}") from None


def apply_overrides(config: Config, pairs: typing.Sequence[str]) -> Config:
    """Apply ``["--key", "value", ...]`` (or ``key=value``) flags to ``config``.

    Unknown keys raise ``ValueError`` naming the key and listing the known ones.
    """
    return dataclasses.replace(config, **parse_overrides(pairs))


def parse_overrides(pairs: typing.Sequence[str]) -> dict[str, typing.Any]:
    """``{key: typed value}`` of ``["--key", "value", ...]`` / ``key=value`` flags (``-`` in keys read as ``_``)."""
    updates: dict[str, typing.Any] = {}
    items = list(pairs)
    i = 0
    while i < len(items):
        token = items[i]
        if not token.startswith("--") and "=" not in token:
            raise ValueError(f"expected a config key and its value (key=value), got {token!r}")
        token = token[2:] if token.startswith("--") else token
        if "=" in token:
            key, text = token.split("=", 1)
            i += 1
        else:
            if i + 1 >= len(items):
                raise ValueError(f"config key {token!r} needs a value")
            key, text = token, items[i + 1]
            i += 2
        key = key.replace("-", "_")
        updates[key] = parse_value(key, text)
    return updates
