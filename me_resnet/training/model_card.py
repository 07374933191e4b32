"""The model card written beside a trained ``.keras`` file, and loading the pair safely.

``MODEL.keras`` gets ``MODEL.card.json``: the method, the full config, the
kind of data it learnt (``data``: the synthetic demo or the dataset roots;
``data_description``), the datasets and clip counts, the label protocol, the kit's LOSO metrics for the
same configuration where a results ``metrics.json`` holds them, versions and
provenance, the per-channel training statistics that inference standardises
with, the input the model expects, and the pre-processing version
(``me_resnet.preprocessing.cache.PREPROCESSING_VERSION``) its features were
computed with. ``load_model_with_card`` refuses a model whose card names
another pre-processing version than this kit's, a model file that is not the
one the card describes (sha256), and loads with Keras' safe mode.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from pathlib import Path

import numpy as np

from me_resnet.config import Config, parse_value
from me_resnet.models.registry import get_method, method_config
from me_resnet.preprocessing.cache import PREPROCESSING_VERSION, library_versions
from me_resnet.utils.io import write_json_atomic

log = logging.getLogger(__name__)

CARD_FORMAT = "me_resnet.model_card"
CARD_VERSION = 2
SYNTHETIC = "synthetic demo"
REAL = "real datasets"
MIXED = "synthetic demo and real datasets"
IGNORED_FOR_METRICS = ("seed", "bootstrap_resamples", "precision", "jit_compile", "feature_dtype")
"""Config fields that do not make a LOSO result another configuration."""


class ModelCardError(ValueError):
    """A model card that is missing, malformed, or does not fit this kit or its model file."""


def card_path(model_path: str | Path) -> Path:
    """``MODEL.keras`` -> ``MODEL.card.json`` (same folder)."""
    model_path = Path(model_path)
    return model_path.with_name(model_path.stem + ".card.json")


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _comparable(config: Config) -> dict:
    values = config.to_dict()
    for name in IGNORED_FOR_METRICS:
        values.pop(name, None)
    values["blocks"] = list(values["blocks"])
    return values


def _row_config(document: dict, row: dict, demo: bool) -> Config | None:
    """The config a metrics row was computed with (its method's defaults and its sweep value applied)."""
    try:
        unrecorded = set(Config.__dataclass_fields__) - set(document["config"]) - set(IGNORED_FOR_METRICS)
        if unrecorded:  # written by a kit without these settings: its defaults then may differ from today's
            return None
        base = Config.from_dict({k: v for k, v in document["config"].items() if k in Config.__dataclass_fields__})
        config = method_config(row["method"], base, demo=demo)
        variant = str(row.get("variant", "default"))
        if variant != "default":
            key, _, text = variant.partition("=")
            config = dataclasses.replace(config, **{key: parse_value(key, text)})
        return config
    except (KeyError, ValueError, TypeError):
        return None


def find_loso_metrics(config: Config, results_dir: str | Path) -> list[dict]:
    """LOSO metrics rows of ``config`` found in ``results_dir/*/metrics.json`` (same method and settings).

    Each entry names the file, its artifact and provenance time, and the rows
    (per dataset and composite) whose configuration equals ``config`` up to
    ``IGNORED_FOR_METRICS``.
    """
    found = []
    wanted = _comparable(config)
    for path in sorted(Path(results_dir).glob("*/metrics.json")):
        try:
            document = json.loads(path.read_text())
        except (OSError, ValueError) as error:
            log.warning("skipping unreadable results file %s: %s", path, error)
            continue
        demo = str(document.get("data", "")).startswith("synthetic demo")
        rows = []
        for row in document.get("metrics", []):
            if row.get("method") != config.model:
                continue
            row_config = _row_config(document, row, demo)
            if row_config is not None and _comparable(row_config) == wanted:
                rows.append(
                    {key: row[key] for key in row if key in ("dataset", "n", "accuracy", "uf1", "uar", "seeds")}
                )
        if rows:
            found.append(
                {
                    "file": str(path),
                    "artifact": document.get("artifact"),
                    "time": document.get("provenance", {}).get("time"),
                    "rows": rows,
                }
            )
    return found


def data_description(roots: dict[str, str | Path] | None) -> dict:
    """What a model learnt: ``{"kind", "roots"}`` from the dataset roots it was trained on.

    A root the demo generator wrote (``me_resnet.data.demo.is_demo_folder``)
    is synthetic, whatever flag pointed at it; ``kind`` is ``SYNTHETIC``,
    ``REAL``, ``MIXED`` or ``"unknown"`` (no roots given).
    """
    from me_resnet.data.demo import is_demo_folder

    roots = {str(name): Path(root) for name, root in (roots or {}).items()}
    synthetic = {name: is_demo_folder(root) for name, root in roots.items()}
    if not roots:
        kind = "unknown"
    elif all(synthetic.values()):
        kind = SYNTHETIC
    elif any(synthetic.values()):
        kind = MIXED
    else:
        kind = REAL
    return {
        "kind": kind,
        "roots": {name: {"path": str(root), "synthetic": synthetic[name]} for name, root in roots.items()},
    }


def data_notice(card: dict) -> str | None:
    """What a user of the model must know about the data it learnt, or None for real datasets only."""
    kind = card.get("data", {}).get("kind")
    if kind == SYNTHETIC:
        return (
            "this model learnt synthetic demo data only: its probabilities show how the kit works, "
            "they say nothing about a real face"
        )
    if kind == MIXED:
        synthetic = sorted(name for name, root in card["data"]["roots"].items() if root.get("synthetic"))
        return f"this model learnt synthetic demo data for {', '.join(synthetic)}: judge its probabilities with that"
    if kind != REAL:
        return "the model card does not say what data this model learnt (an older card): it may be synthetic"
    return None


def build_card(
    config: Config,
    *,
    kind: str,
    input_shape: tuple[int, ...],
    channels: tuple[str, ...],
    mean: np.ndarray,
    std: np.ndarray,
    datasets: dict,
    training: dict,
    loso_metrics: list[dict],
    provenance: dict,
    data: dict | None = None,
) -> dict:
    """The card's content (``save_model_with_card`` adds the model file's name and sha256).

    ``data`` is ``data_description(roots)`` (kind ``"unknown"`` when not given).
    """
    from me_resnet.data.records import CLASS_NAMES

    return {
        "format": CARD_FORMAT,
        "card_version": CARD_VERSION,
        "method": {"name": config.model, "description": get_method(config.model).description, "feature_kind": kind},
        "config": config.to_dict(),
        "data": data if data is not None else data_description(None),
        "datasets": datasets,
        "label_protocol": {
            "protocol": config.protocol,
            "bad_apex": config.bad_apex,
            "smic_apex": config.smic_apex,
            "classes": list(CLASS_NAMES),
        },
        "loso_metrics": loso_metrics,
        "training": training,
        "standardisation": {
            "channels": list(channels),
            "mean": [float(v) for v in np.ravel(mean)],
            "std": [float(v) for v in np.ravel(std)],
            "note": "model input = (features - mean) / std per channel, statistics of the augmented training clips",
        },
        "input": {
            "kind": kind,
            "shape": [int(v) for v in input_shape],
            "channels": list(channels),
            "dtype": "float32",
            "num_key_frames": config.num_frames if kind == "sequence" else 2,
            "image_size": config.image_size,
            "description": _input_description(config, kind),
        },
        "preprocessing_version": PREPROCESSING_VERSION,
        "preprocessing_libraries": library_versions(),
        "provenance": provenance,
    }


def _input_description(config: Config, kind: str) -> str:
    if kind == "apex_image":
        return f"grey apex face crop {config.image_size}x{config.image_size}, stacked to 3 channels"
    flows = f"{config.num_frames - 1} Farneback fields between {config.num_frames} key frames onset->apex"
    if kind == "apex_flow":
        flows = "one onset->apex Farneback field"
    return (
        f"{flows} of the face crop ({config.image_size}x{config.image_size}, {config.face_detector} box from the "
        f"onset frame), {config.flow_mode} flow, channels (u, v, {config.channels}), normalise={config.normalise}"
    )


def save_model_with_card(model, card: dict, path: str | Path) -> tuple[Path, Path]:
    """Write ``path`` (``.keras``) and its card beside it; returns both paths."""
    path = Path(path)
    if path.suffix != ".keras":
        raise ValueError(f"a trained model is saved as a .keras file, got {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save(path)
    card = dict(card, model_file={"name": path.name, "sha256": file_sha256(path)})
    write_json_atomic(card_path(path), card)
    return path, card_path(path)


def read_card(model_path: str | Path) -> dict:
    """The card of ``model_path``, checked against this kit; ``ModelCardError`` says what is wrong."""
    path = card_path(model_path)
    if not path.is_file():
        raise ModelCardError(
            f"no model card {path} beside {model_path}: train models with `me-resnet train`, which writes both"
        )
    try:
        card = json.loads(path.read_text())
    except ValueError as error:
        raise ModelCardError(f"model card {path} is not valid JSON: {error}") from None
    if not isinstance(card, dict) or card.get("format") != CARD_FORMAT:
        raise ModelCardError(f"{path} is not an me_resnet model card (format {card.get('format')!r})")
    version = card.get("preprocessing_version")
    if version != PREPROCESSING_VERSION:
        raise ModelCardError(
            f"model {model_path} was trained on features of pre-processing version {version!r}, but this kit "
            f"computes version {PREPROCESSING_VERSION}: its inputs would differ from what it learned. "
            f"Retrain it with `me-resnet train` (or use the kit version it was trained with)."
        )
    missing = [key for key in ("config", "input", "standardisation", "method") if key not in card]
    if missing:
        raise ModelCardError(f"model card {path} lacks {missing}")
    try:
        Config.from_dict(card["config"])
    except (ValueError, TypeError) as error:
        raise ModelCardError(f"model card {path} holds a config this kit cannot use: {error}") from None
    libraries = card.get("preprocessing_libraries", {})
    changed = {name: (value, now) for name, now in library_versions().items() if (value := libraries.get(name)) != now}
    if libraries and changed:
        log.warning("model %s was trained with other pre-processing library versions (card, here): %s", path, changed)
    return card


def card_config(card: dict) -> Config:
    return Config.from_dict(card["config"])


def load_model_with_card(path: str | Path):
    """``(model, card)`` for a ``.keras`` file written by ``save_model_with_card``.

    The card is checked first (``read_card``), then the file's sha256 against
    the card's, then the model is loaded with ``safe_mode=True`` (no code
    deserialisation) and its input shape compared with the card's.
    """
    import keras

    import me_resnet.models.baselines  # noqa: F401  registers the kit's serialisable layers
    import me_resnet.models.cbam  # noqa: F401

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"model file not found: {path}")
    card = read_card(path)
    expected = card.get("model_file", {}).get("sha256")
    if expected and file_sha256(path) != expected:
        raise ModelCardError(f"{path} is not the model its card {card_path(path)} describes (sha256 differs)")
    try:
        model = keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as error:  # zip, h5 and deserialisation errors all mean: not a loadable model
        raise ModelCardError(f"cannot load model {path}: {type(error).__name__}: {error}") from None
    shape = [int(v) for v in model.input_shape[1:]]
    if shape != list(card["input"]["shape"]):
        raise ModelCardError(f"model {path} takes input {shape} but its card says {card['input']['shape']}")
    return model, card
