"""Fer2013 pretraining of the 2D ResNet50-CBAM (paper §1 and §3.2.1).

The paper says only that it pretrains with transfer learning on Fer2013; the
recipe below is the kit's reading (docs/interpretations.md, "Fer2013
pretraining", gives what the paper says, why these choices, and others).

The 2D twin of ME-ResNet (same blocks, width, CBAM settings and Fig. 5
switches) learns the 7 FER2013 expressions; ``me_resnet.models.inflation`` then
turns its weights into 3D for every fold's model, and Table 4's methods 1-3
take the layers they share with it. Inputs: the 48x48 grey faces upsampled to
``config.image_size``, standardised per image (zero mean, unit variance, like
the per-clip flow normalisation) and replicated to 3 channels; a random half
of each training batch mirrored. Splits: ``Training`` trains, ``PublicTest``
drives early stopping (best weights restored), ``PrivateTest`` is only
reported. Loss and optimiser follow the config (§3.2.1: focal loss with
inverse-frequency alpha, Adam at the config's learning rate and batch size).

Library only: ``pretrain_fer2013`` returns the model and its numbers;
``reproduce/pretrain_fer2013.py`` writes the ``.keras`` file and the summary.

The paper path pretrains by default: ``apply_pretraining`` (``ensure_pretrained``
underneath) trains once per FER2013 content and pretraining config, caches the
weights under ``$ME_RESNET_CACHE/pretrained/`` keyed by the hash of both, and
returns the config that inflates them into every fold's model. Without FER2013
it stops with ``PretrainingMissing`` unless the caller chose no pretraining;
``pretraining_label`` is what every output then says.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import keras
import numpy as np

from me_resnet.config import Config
from me_resnet.data.demo import is_demo_folder
from me_resnet.data.loading import load_fer2013
from me_resnet.models.registry import METHODS, get_method
from me_resnet.models.resnet import ResNetOptions, block_options, build_resnet50_2d
from me_resnet.training.determinism import use_deterministic_ops
from me_resnet.training.losses import make_loss
from me_resnet.utils import paths
from me_resnet.utils.io import write_json_atomic
from me_resnet.utils.keras_files import check_keras_file
from me_resnet.utils.provenance import provenance

log = logging.getLogger(__name__)

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
    shape = (config.image_size, config.image_size, 3)
    options = ResNetOptions.from_config(config)
    return build_resnet50_2d(shape, num_classes, options, cbam=True, name="resnet50_cbam_fer2013")


def pretrained_weights_path(config: Config) -> Path:
    """Cache location of the pretrained model for ``config``'s architecture (never in git)."""
    blocks = "-".join(str(b) for b in config.blocks)
    switches = block_options(config)
    name = (
        f"fer2013_resnet50cbam_{config.image_size}px_w{config.width}_b{blocks}"
        f"_r{config.cbam_reduction}_{config.cbam_gate}"
        + ("" if switches == block_options(Config()) else "_" + hashlib.sha256(repr(switches).encode()).hexdigest()[:8])
        + ".keras"
    )
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
    use_deterministic_ops(config.deterministic)
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


def pretrain_summary(
    result: PretrainResult, config: Config, weights_path: Path, data_root: Path, *, synthetic: bool = False
) -> dict:
    """JSON-ready record of a pretraining run (config, versions, accuracies, weights path).

    ``synthetic`` marks a run on the kit's generated demo faces: the record
    then says so in its title and in ``"synthetic"``, so it cannot pass for FER2013.
    """
    title = "Fer2013 pretraining of the 2D ResNet50-CBAM (paper section 3.2)"
    return {
        "artifact": f"SYNTHETIC demo faces, not FER2013 -- {title}" if synthetic else title,
        "synthetic": bool(synthetic),
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


NO_PRETRAINING_LABEL = "no Fer2013 pretraining (deviation from the paper)"
FROM_SCRATCH_LABEL = "trained from scratch, as in the paper"  # a method the paper does not pretrain
PRETRAIN_CACHE_FORMAT = 1
PRETRAIN_FIELDS = (
    "image_size",
    "blocks",
    "width",
    "cbam_reduction",
    "cbam_gate",
    "cbam_spatial_kernel",
    "bottleneck_order",
    "bottleneck_third_relu",
    "shortcut_projection",
    "post_add_activation",
    "cbam_position",
    "learning_rate",
    "batch_size",
    "epochs",
    "patience",
    "focal_gamma",
    "focal_alpha",
    "loss",
    "seed",
    "precision",
)
"""The config fields that change the pretrained 2D weights (the architecture and the training run)."""


class PretrainingMissing(ValueError):
    """The paper path needs FER2013 pretraining and no FER2013 data (and no explicit opt-out) was given."""


def data_fingerprint(data) -> str:
    """SHA-256 of a ``Fer2013Data``'s content (images, labels, usage), whatever file layout it came from."""
    digest = hashlib.sha256()
    for array in (np.ascontiguousarray(data.images, dtype=np.uint8), np.asarray(data.labels, dtype=np.int64)):
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(memoryview(array).cast("B"))
    digest.update("\n".join(np.asarray(data.usage, dtype=str).tolist()).encode())
    return digest.hexdigest()


def pretrain_key(data_sha256: str, config: Config) -> str:
    """SHA-256 of the FER2013 content hash and the ``PRETRAIN_FIELDS`` of ``config``: the cache key."""
    settings = {name: getattr(config, name) for name in PRETRAIN_FIELDS}
    payload = {"format": PRETRAIN_CACHE_FORMAT, "data": data_sha256, "config": settings}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _cached(weights: Path, record_path: Path) -> str | None:
    """SHA-256 of a cached weights file that matches its record, else None (a bad file is logged)."""
    if not (weights.is_file() and record_path.is_file()):
        return None
    try:
        expected = json.loads(record_path.read_text())["weights_sha256"]
    except (ValueError, KeyError) as error:
        log.warning("unreadable pretraining record %s (%s); pretraining again", record_path, error)
        return None
    actual = file_sha256(weights)
    if actual != expected:
        log.warning(
            "pretrained weights %s do not match their record (sha256 %s != %s); pretraining again",
            weights,
            actual[:12],
            expected[:12],
        )
        return None
    return actual


def ensure_pretrained(fer2013_source, config: Config, *, verbose: int = 0) -> tuple[Path, str]:
    """``(path, sha256)`` of the 2D ResNet50-CBAM pretrained on ``fer2013_source`` under ``config``.

    ``fer2013_source`` is anything ``load_fer2013`` reads (csv file or folder).
    The first call trains (``pretrain_fer2013``) and stores the ``.keras`` file
    and a JSON record (accuracies, counts, hashes) under
    ``$ME_RESNET_CACHE/pretrained/``, named by ``pretrain_key`` of the data's
    content hash and the config; later calls with the same content and config
    return the stored file. ``sha256`` is the weights file's, for the outputs.
    """
    if fer2013_source is None:
        raise PretrainingMissing("ensure_pretrained needs a FER2013 source (csv file or folder), got None")
    source = Path(fer2013_source).expanduser()
    data = load_fer2013(source)
    data_sha256 = data_fingerprint(data)
    key = pretrain_key(data_sha256, config)
    folder = paths.cache_root() / "pretrained"
    weights, record_path = folder / f"fer2013_{key[:24]}.keras", folder / f"fer2013_{key[:24]}.json"
    sha256 = _cached(weights, record_path)
    if sha256 is not None:
        log.info("FER2013 pretraining: reusing %s (sha256 %s)", weights, sha256[:12])
        return weights, sha256
    log.info("FER2013 pretraining on %s (%d images, sha256 %s) -> %s", source, len(data), data_sha256[:12], weights)
    result = pretrain_fer2013(data, config, verbose=verbose)
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / f"fer2013_{key[:24]}.{os.getpid()}.partial.keras"
    try:
        result.model.save(partial)
        os.replace(partial, weights)
    finally:
        partial.unlink(missing_ok=True)
    sha256 = file_sha256(weights)
    synthetic = is_demo_folder(source if source.is_dir() else source.parent)
    record = pretrain_summary(result, config, weights, source, synthetic=synthetic)
    record.update(data_sha256=data_sha256, pretrain_key=key, weights_sha256=sha256)
    write_json_atomic(record_path, record)
    return weights, sha256


def apply_pretraining(
    config: Config, *, fer2013=None, pretraining: bool = True, methods=None, verbose: int = 0
) -> Config:
    """``config`` whose ``pretrained`` names the FER2013-pretrained weights to inflate into every fold's model.

    ``methods`` (registry names) are the methods the config will train: when the paper pretrains none
    of them (``MethodSpec.pretrainable``: the Table 5 baselines) ``config`` is returned unchanged, and
    FER2013 is neither needed nor read. None: a method the paper pretrains.

    - ``config.pretrained`` already set: returned unchanged (the user's weights) once
      ``check_keras_file`` finds a ``.keras`` model there.
    - ``pretraining=False``: returned unchanged, without weights; outputs carry
      ``pretraining_label`` = "no Fer2013 pretraining (deviation from the paper)".
    - otherwise ``fer2013`` is required (paper §3.2): ``ensure_pretrained``
      trains once or reuses the cached weights; with ``fer2013=None`` this
      raises ``PretrainingMissing`` saying how to give FER2013 or opt out.
    """
    if methods is not None and not any(get_method(name).pretrainable for name in methods):
        return config
    if config.pretrained:
        check_keras_file(config.pretrained, "pretrained weights (config.pretrained)")
        return config
    if not pretraining:
        return config
    if fer2013 is None:
        raise PretrainingMissing(
            "the paper pretrains ME-ResNet on Fer2013 (section 3.2) and no FER2013 data was given: pass fer2013 "
            "(fer2013.csv, icml_face_data.csv or the train/test folders), or pretraining=False to run without it, "
            f"labelled {NO_PRETRAINING_LABEL!r}"
        )
    weights, sha256 = ensure_pretrained(fer2013, config, verbose=verbose)
    log.info("inflating FER2013-pretrained weights %s (sha256 %s) into every fold's model", weights, sha256[:12])
    return dataclasses.replace(config, pretrained=str(weights))


def pretraining_label(config: Config) -> str:
    """What tables, plots, metrics and README blocks say about pretraining for a run of ``config``."""
    if config.model in METHODS and not METHODS[config.model].pretrainable:
        return FROM_SCRATCH_LABEL
    if not config.pretrained:
        return NO_PRETRAINING_LABEL
    weights = Path(config.pretrained)
    record = weights.with_suffix(".json")
    if record.is_file() and json.loads(record.read_text()).get("synthetic"):
        return f"pretrained on SYNTHETIC demo faces, not Fer2013 ({weights.name})"
    return f"Fer2013-pretrained 2D weights inflated ({weights.name})"
