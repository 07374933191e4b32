"""One frozen settings object whose defaults are the paper's (SPEC §4-§6).

Named profiles are ``dataclasses.replace`` of the defaults:

- ``paper``: the paper's configuration (3D ResNet50 + CBAM at 112x112, N = 11).
- ``demo``: a small model and small inputs so the whole pipeline runs in
  minutes on a 2-core CPU. Demo results say nothing about the paper's claims.

Every ambiguity of the paper has a switch here; ``docs/interpretations.md``
lists them.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from dataclasses import dataclass


@dataclass(frozen=True)
class Config:
    # --- data (SPEC §3) -------------------------------------------------
    protocol: str = "megc2019"  # "megc2019" (official composite list) | "paper"
    bad_apex: str = "repair"  # "repair" (apex = middle frame) | "drop"
    smic_apex: str = "middle"  # "middle" | "spot" (max mean |frame - onset|)

    # --- pre-processing (SPEC §4) ----------------------------------------
    num_frames: int = 11  # N, key frames onset -> apex inclusive
    scale_factor: float = 0.8  # a, eq. (9): U = a * p
    image_size: int = 112  # face crop side after resizing
    face_detector: str = "mtcnn"  # "mtcnn" | "center" (always the centre crop)
    face_margin: float = 0.10  # box expansion before squaring
    flow_mode: str = "improved"  # "improved" (continuity mask) | "vanilla"
    mask_reading: str = "grey_difference"  # "grey_difference" | "flow_difference"
    channels: str = "strain"  # (u, v, strain) | "magnitude": (u, v, |flow|)
    normalise: str = "clip"  # "clip" (per clip, per channel z-score) | "none"
    farneback_pyr_scale: float = 0.5
    farneback_levels: int = 3
    farneback_winsize: int = 15
    farneback_iterations: int = 3
    farneback_poly_n: int = 5
    farneback_poly_sigma: float = 1.2

    # --- model (SPEC §5) ------------------------------------------------
    model: str = "me_resnet"  # resnet50_image | resnet50_flow | resnet3d_flow | me_resnet | ststnet | off_apexnet
    blocks: tuple[int, ...] = (3, 4, 6, 3)  # bottlenecks per stage
    width: int = 64  # stem / first-stage width; stages are width * (1, 2, 4, 8)
    cbam_reduction: int = 16
    cbam_gate: str = "sigmoid"  # "sigmoid" (CBAM paper, text) | "softmax" (eq. 12/14)
    pretrained: str | None = None  # path to a 2D .keras model to inflate

    # --- training (SPEC §6) ---------------------------------------------
    learning_rate: float = 1e-4
    batch_size: int = 32
    epochs: int = 100
    patience: int = 10
    focal_gamma: float = 2.0
    focal_alpha: str = "inverse_frequency"  # "inverse_frequency" | "none"
    loss: str = "focal"  # "focal" | "crossentropy"
    augment: bool = True  # 4x mirror / flip of training clips
    early_stop_on: str = "val"  # "val" (held-out training subjects) | "test" (optimistic) | "none"
    val_fraction: float = 0.1  # fraction of training subjects used for validation
    loso_scope: str = "dataset"  # "dataset" (one LOSO per dataset) | "composite" (MEGC 2019: train on all datasets)
    seed: int = 0
    precision: str = "float32"  # "float32" | "mixed_bfloat16" | "mixed_float16"
    jit_compile: bool = (
        False  # XLA measured slower on CPU: 0.53x training, 0.34x inference (results/bench/model_throughput.json)
    )
    feature_dtype: str = (
        "float32"  # "float32" | "float16": storage of the augmented training clips in train_fold (issue 8)
    )

    # --- evaluation -----------------------------------------------------
    bootstrap_resamples: int = 1000

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


PAPER = Config()

DEMO = dataclasses.replace(
    PAPER,
    num_frames=6,
    image_size=32,
    blocks=(1, 1, 1, 1),
    width=16,  # width 8 stayed at chance on demo CASME II LOSO (UF1 0.22-0.40); 16 reaches 0.70-0.78 (engineer E)
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


def _field_types() -> dict[str, typing.Any]:
    return typing.get_type_hints(Config)


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
    updates: dict[str, typing.Any] = {}
    items = list(pairs)
    i = 0
    while i < len(items):
        token = items[i]
        if not token.startswith("--") and "=" not in token:
            raise ValueError(f"expected --key value, got {token!r}")
        token = token[2:] if token.startswith("--") else token
        if "=" in token:
            key, text = token.split("=", 1)
            i += 1
        else:
            if i + 1 >= len(items):
                raise ValueError(f"config flag --{token} needs a value")
            key, text = token, items[i + 1]
            i += 2
        key = key.replace("-", "_")
        updates[key] = parse_value(key, text)
    return dataclasses.replace(config, **updates)
