"""Fer2013 pretraining of the 2D ResNet50-CBAM (paper §3.2; SPEC §5).

The 2D twin of ME-ResNet (same blocks, width, CBAM settings) learns the 7
FER2013 expressions; ``me_resnet.models.inflation`` then turns its weights into 3D.
Inputs: the 48x48 grey faces resized to ``config.image_size``, standardised
per image (zero mean, unit variance, like the per-clip flow normalisation)
and replicated to 3 channels. Splits: ``Training`` trains, ``PublicTest``
drives early stopping, ``PrivateTest`` is only reported. Loss and optimiser
follow the config (focal loss with inverse-frequency alpha, Adam).

Library only: ``pretrain_fer2013`` returns the model and its numbers;
``reproduce/pretrain_fer2013.py`` writes the ``.keras`` file and the summary.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import keras
import numpy as np

from me_resnet.config import Config
from me_resnet.models.resnet import build_resnet50_2d
from me_resnet.training.losses import make_loss
from me_resnet.utils import paths
from me_resnet.utils.provenance import provenance

NUM_FER_CLASSES = 7
SPLITS = {"train": "Training", "validation": "PublicTest", "test": "PrivateTest"}


def fer_inputs(images: np.ndarray, image_size: int) -> np.ndarray:
    """(n, h, w) grey uint8 faces -> (n, S, S, 3) float32, each image z-scored."""
    images = np.asarray(images)
    if images.ndim != 3:
        raise ValueError(f"expected grey images (n, h, w), got shape {images.shape}")
    size = int(image_size)
    out = np.empty((len(images), size, size, 3), np.float32)
    for index, image in enumerate(images):
        resized = cv2.resize(image.astype(np.float32), (size, size), interpolation=cv2.INTER_LINEAR)
        resized = (resized - resized.mean()) / (resized.std() + 1e-6)
        out[index] = resized[..., np.newaxis]
    return out


class Fer2013Batches(keras.utils.PyDataset):
    """Batches of ``fer_inputs`` and one-hot labels, resized on the fly (the paper-size
    Training split at 112x112x3 float32 would be 4.3 GB in memory).

    ``shuffle=True`` (training) also mirrors a random half of each batch
    horizontally, the usual FER2013 augmentation (faces are left-right symmetric).
    """

    def __init__(self, images, labels, image_size, batch_size, shuffle=False, seed=0, **kwargs):
        super().__init__(**kwargs)
        if len(images) != len(labels) or len(images) == 0:
            raise ValueError(f"need as many labels as images (> 0), got {len(images)} images, {len(labels)} labels")
        self.images, self.labels = np.asarray(images), np.asarray(labels)
        self.image_size, self.batch_size = int(image_size), int(batch_size)
        self.shuffle, self.rng = shuffle, np.random.default_rng(seed)
        self.order = self.rng.permutation(len(self.labels)) if shuffle else np.arange(len(self.labels))

    def __len__(self):
        return math.ceil(len(self.labels) / self.batch_size)

    def __getitem__(self, index):
        rows = self.order[index * self.batch_size : (index + 1) * self.batch_size]
        x = fer_inputs(self.images[rows], self.image_size)
        if self.shuffle:
            mirror = self.rng.random(len(rows)) < 0.5
            x[mirror] = x[mirror, :, ::-1]
        return x, keras.utils.to_categorical(self.labels[rows], NUM_FER_CLASSES)

    def on_epoch_end(self):
        if self.shuffle:
            self.order = self.rng.permutation(len(self.labels))


def build_pretrain_model(config: Config, num_classes: int = NUM_FER_CLASSES) -> keras.Model:
    """The 2D ResNet50-CBAM twin of ``build_me_resnet`` under ``config``."""
    return build_resnet50_2d(
        (config.image_size, config.image_size, 3),
        num_classes,
        blocks=config.blocks,
        width=config.width,
        cbam=True,
        cbam_reduction=config.cbam_reduction,
        cbam_gate=config.cbam_gate,
        name="resnet50_cbam_fer2013",
    )


def pretrained_weights_path(config: Config) -> Path:
    """Cache location of the pretrained model for ``config``'s architecture (never in git)."""
    blocks = "-".join(str(b) for b in config.blocks)
    name = f"fer2013_resnet50cbam_{config.image_size}px_w{config.width}_b{blocks}_r{config.cbam_reduction}_{config.cbam_gate}.keras"
    return paths.cache_root() / "pretrained" / name


@dataclass
class PretrainResult:
    model: keras.Model
    accuracy: dict[str, float]  # split -> accuracy (train / validation / test)
    counts: dict[str, int]  # split -> images
    history: dict[str, list[float]] = field(default_factory=dict)
    epochs_trained: int = 0
    best_epoch: int | None = None  # 1-based, by validation loss
    wall_seconds: float = 0.0


def _split(data, usage: str):
    keep = np.asarray(data.usage) == usage
    return np.asarray(data.images)[keep], np.asarray(data.labels)[keep]


def pretrain_fer2013(data, config: Config, verbose: int = 1) -> PretrainResult:
    """Train ``build_pretrain_model(config)`` on ``data`` (a ``Fer2013Data``); see the module doc.

    Uses ``config.epochs``, ``patience`` (early stopping on PublicTest loss,
    best weights restored), ``batch_size``, ``learning_rate``, ``loss``,
    ``focal_alpha``/``focal_gamma`` and ``seed``. Without PublicTest images it
    trains ``config.epochs`` epochs without early stopping.
    """
    start = time.perf_counter()
    splits = {name: _split(data, usage) for name, usage in SPLITS.items()}
    if len(splits["train"][1]) == 0:
        raise ValueError(f"FER2013 data has no 'Training' images (usages found: {sorted(set(np.asarray(data.usage)))})")
    keras.utils.set_random_seed(config.seed)
    model = build_pretrain_model(config)
    model.compile(
        optimizer=keras.optimizers.Adam(config.learning_rate),
        loss=make_loss(config, splits["train"][1], NUM_FER_CLASSES),
        metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")],
    )
    batches = {
        name: Fer2013Batches(
            images, labels, config.image_size, config.batch_size, shuffle=name == "train", seed=config.seed
        )
        for name, (images, labels) in splits.items()
        if len(labels)
    }
    callbacks = []
    if "validation" in batches:
        callbacks.append(keras.callbacks.EarlyStopping("val_loss", patience=config.patience, restore_best_weights=True))
    history = model.fit(
        batches["train"],
        validation_data=batches.get("validation"),
        epochs=config.epochs,
        callbacks=callbacks,
        verbose=verbose,
    ).history
    accuracy = {
        name: float(model.evaluate(split, verbose=0, return_dict=True)["accuracy"]) for name, split in batches.items()
    }
    best_epoch = int(np.argmin(history["val_loss"])) + 1 if "val_loss" in history else None
    return PretrainResult(
        model=model,
        accuracy=accuracy,
        counts={name: int(len(labels)) for name, (_, labels) in splits.items()},
        history={key: [float(v) for v in values] for key, values in history.items()},
        epochs_trained=len(history["loss"]),
        best_epoch=best_epoch,
        wall_seconds=time.perf_counter() - start,
    )


def pretrain_summary(result: PretrainResult, config: Config, weights_path: Path, data_root: Path) -> dict:
    """JSON-ready record of a pretraining run (config, versions, accuracies, weights path)."""

    return {
        "artifact": "Fer2013 pretraining of the 2D ResNet50-CBAM (paper section 3.2)",
        "data_root": str(data_root),
        "weights_path": str(weights_path),
        "counts": result.counts,
        "accuracy": result.accuracy,
        "accuracy_note": "train/validation = Training/PublicTest (early stopping); test = PrivateTest",
        "epochs_trained": result.epochs_trained,
        "best_epoch": result.best_epoch,
        "wall_seconds": round(result.wall_seconds, 1),
        "parameters": int(result.model.count_params()),
        "history": result.history,
        "config": config.to_dict(),
        "provenance": provenance(),
    }
