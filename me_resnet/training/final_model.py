"""One model trained on every clip of the chosen datasets, to use on new clips.

``train_final_model`` trains exactly as a LOSO fold does (``train_fold``: the
same augmentation, training statistics, focal loss and Adam), but without a
test subject. With ``config.early_stop_on == "val"`` whole training subjects
are held out for early stopping (``validation_split``, ``config.val_fraction``)
and the model keeps the weights of its best validation epoch; with ``"none"``
every clip trains for ``config.epochs`` epochs. ``"test"`` has no meaning here
(there is no test subject) and is refused.

``model_card_for`` describes the result (``me_resnet.training.model_card``).
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from me_resnet.config import Config
from me_resnet.data.records import CLASS_NAMES, Features
from me_resnet.training.fold import BuildFn, FoldResult, default_build_fn, train_fold, validation_split
from me_resnet.training.model_card import build_card, data_description, find_loso_metrics
from me_resnet.utils.provenance import provenance

log = logging.getLogger(__name__)


@dataclass
class FinalModel:
    """The trained Keras model and what ``train_fold`` reported about its training."""

    model: object
    result: FoldResult
    val_groups: tuple[str, ...]


def train_final_model(
    features: Features, config: Config, build_fn: BuildFn | None = None, verbose: int = 0
) -> FinalModel:
    """Train ``config.model`` on all of ``features`` (module docstring); returns the model and its fold record."""
    if config.early_stop_on == "test":
        raise ValueError(
            "early_stop_on='test' monitors a held-out test subject; a final model has none: use 'val' "
            "(held-out training subjects) or 'none' (fixed epochs)"
        )
    if len(features) == 0:
        raise ValueError("train_final_model needs at least one clip, got none")
    val = None
    fit = features
    if config.early_stop_on == "val":
        fit_index, val_index = validation_split(features.groups, config.val_fraction, config.seed)
        fit, val = features.subset(fit_index), features.subset(val_index)
    built = []
    build = build_fn or default_build_fn

    def keep_model(name, input_shape, num_classes, build_config):
        built.append(build(name, input_shape, num_classes, build_config))
        return built[-1]

    # train_fold predicts a "test" part: the validation subjects, or the training clips without them
    result = train_fold(fit, val, val if val is not None else fit, config, build_fn=keep_model, verbose=verbose)
    val_groups = () if val is None else tuple(sorted(set(val.groups)))
    return FinalModel(model=built[-1], result=result, val_groups=val_groups)


def dataset_summary(features: Features) -> dict:
    """Clips, subjects and clips per class of each dataset in ``features``."""
    summary = {}
    for name in dict.fromkeys(features.datasets):
        rows = features.datasets == name
        counts = Counter(int(label) for label in features.y[rows])
        summary[str(name)] = {
            "clips": int(rows.sum()),
            "subjects": int(len(set(features.subjects[rows]))),
            "clips_per_class": {CLASS_NAMES[k]: counts.get(k, 0) for k in range(len(CLASS_NAMES))},
        }
    return summary


def model_card_for(
    final: FinalModel,
    features: Features,
    config: Config,
    kind: str,
    results_dir: str | Path | None = None,
    data_roots: dict[str, str | Path] | None = None,
) -> dict:
    """The model card of ``final`` (trained on ``features`` with ``config``); LOSO metrics from ``results_dir``.

    ``data_roots`` (dataset name -> root the clips were loaded from) says what the
    model learnt: the card's ``data`` (``model_card.data_description``).
    """
    result = final.result
    val_accuracy = None
    if final.val_groups:
        val = features.subset(np.flatnonzero(np.isin(features.groups, final.val_groups)))
        val_accuracy = float(np.mean(result.predictions == val.y))
    training = {
        "clips_fit": len(result.fit_keys),
        "clips_val": len(result.val_keys),
        "val_subjects": list(final.val_groups),
        "early_stop_on": config.early_stop_on,
        "epochs_trained": result.epochs_trained,
        "best_epoch": result.best_epoch,
        "final_loss": result.history.get("loss", [None])[-1],
        "best_val_loss": min(result.history["val_loss"]) if result.history.get("val_loss") else None,
        "val_accuracy": val_accuracy,
        "wall_seconds": round(result.wall_seconds, 2),
        "missing_classes": list(result.missing_train_classes),
        "preprocessing_fallbacks": {kind: list(keys) for kind, keys in getattr(features, "fallbacks", {}).items()},
    }
    loso = find_loso_metrics(config, results_dir) if results_dir is not None else []
    return build_card(
        config,
        kind=kind,
        input_shape=tuple(features.X.shape[1:]),
        channels=tuple(features.channels),
        mean=result.mean,
        std=result.std,
        datasets=dataset_summary(features),
        training=training,
        loso_metrics=loso,
        provenance=provenance(),
        data=data_description(data_roots),
    )
