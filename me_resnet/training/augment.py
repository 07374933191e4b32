"""4x training-set augmentation by mirror and flip, aware of the flow's sign (paper §3; docs/method.md).

The paper (Table 2) multiplies every training set by 4: original, horizontal
mirror, vertical flip and both. On an image that is a plain flip. On a flow
field it is not: mirroring the picture left-right turns a rightward motion into
a leftward one, so the horizontal component ``u`` must change sign as well as
being mirrored, and an up-down flip negates the vertical component ``v``. Optical
strain and flow magnitude are invariant under both and are only moved.

Where the copies go (``Config.augment_scope``):

- ``"train"`` (default): only training clips are augmented, inside each fold
  (``me_resnet.training.fold``); validation and test clips are never copied.
- ``"whole_dataset"``: the reading of Table 2, whose counts are whole datasets
  ×4 (CASME II 146 -> 584): every clip is copied before the LOSO split
  (``augment_features``, applied by ``me_resnet.evaluation.runner.LosoRun``), so
  the test subject's mirrored / flipped copies are scored too and each test clip
  counts four times in the metrics, with four correlated predictions. The split
  stays by subject, so no copy of a test clip is trained on; the result is still
  labelled optimistic/leaky wherever it is reported, like ``early_stop_on="test"``.

Other choices, all the paper's or the kit's (docs/interpretations.md): 4 copies (original, mirror, flip,
mirror + flip; no rotations, crops or colour changes); the same copies every
epoch (no random augmentation); signs of u / v follow the geometry.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from me_resnet.data.records import Features

VARIANT_SUFFIXES = ("", "~mirror", "~flip", "~mirror_flip")  # clip-name suffix of each copy, in VARIANTS order

NEGATED_BY_MIRROR = frozenset({"u"})  # horizontal component changes sign under a left-right mirror
NEGATED_BY_FLIP = frozenset({"v"})  # vertical component changes sign under an up-down flip
SIGN_INVARIANT = frozenset({"strain", "magnitude", "grey", "gray"})
KNOWN_CHANNELS = NEGATED_BY_MIRROR | NEGATED_BY_FLIP | SIGN_INVARIANT

# (mirror W?, flip H?) in the order the copies are stacked.
VARIANTS: tuple[tuple[bool, bool], ...] = ((False, False), (True, False), (False, True), (True, True))


def _channel_signs(channels: tuple[str, ...], negated: frozenset[str]) -> np.ndarray:
    return np.array([-1.0 if name in negated else 1.0 for name in channels], dtype=np.float32)


def augment_4x(X: np.ndarray, y: np.ndarray, channels: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(X4, y4)``: every clip in 4 versions, stacked variant by variant.

    ``X`` is (n, H, W, C) or (n, T, H, W, C); H is axis -3, W axis -2. The output
    holds ``[originals, mirrors, flips, mirror+flips]`` (4n rows, so row
    ``k * n + i`` comes from clip ``i``) and ``y4 = tile(y, 4)``. A mirror
    reverses W and negates the channels named ``u``; a flip reverses H and
    negates ``v``; ``strain``/``magnitude``/``grey`` channels are only moved.
    Unknown channel names raise ``ValueError`` rather than being guessed.
    """
    X = np.asarray(X)
    y = np.asarray(y)
    channels = tuple(channels)
    if X.ndim not in (4, 5):
        raise ValueError(f"augment_4x expects X of shape (n, H, W, C) or (n, T, H, W, C), got {X.shape}")
    if len(X) != len(y):
        raise ValueError(f"augment_4x: X has {len(X)} rows but y has {len(y)}")
    if X.shape[-1] != len(channels):
        raise ValueError(f"augment_4x: X has {X.shape[-1]} channels but channel names are {channels}")
    unknown = sorted(set(channels) - KNOWN_CHANNELS)
    if unknown:
        raise ValueError(f"augment_4x: unknown channel name(s) {unknown}; known: {sorted(KNOWN_CHANNELS)}")

    mirror_sign = _channel_signs(channels, NEGATED_BY_MIRROR).astype(X.dtype, copy=False)
    flip_sign = _channel_signs(channels, NEGATED_BY_FLIP).astype(X.dtype, copy=False)
    out = np.empty((4 * len(X),) + X.shape[1:], dtype=X.dtype)
    n = len(X)
    for k, (mirror, flip) in enumerate(VARIANTS):  # 4 whole-array operations, no per-sample loop
        block = X
        sign = np.ones(len(channels), dtype=X.dtype)
        if mirror:
            block = block[..., ::-1, :]
            sign = sign * mirror_sign
        if flip:
            block = block[..., ::-1, :, :]
            sign = sign * flip_sign
        np.multiply(block, sign, out=out[k * n : (k + 1) * n])
    return out, np.tile(y, 4)


def source_index(n: int) -> np.ndarray:
    """Row ``j`` of ``augment_4x``'s output comes from clip ``source_index(n)[j]``."""
    return np.tile(np.arange(n), 4)


def whole_dataset_augmentation(config) -> bool:
    """Whether ``config`` asks for the whole-dataset reading of Table 2 (optimistic/leaky, see the module doc)."""
    return bool(config.augment) and config.augment_scope == "whole_dataset"


def augmentation_label(config) -> str:
    """How a run augmented, for tables and metrics: says 'optimistic/leaky' for the whole-dataset reading."""
    if not config.augment:
        return "no augmentation"
    if whole_dataset_augmentation(config):
        return "4x augmentation of the WHOLE dataset before the split, test copies scored (optimistic/leaky)"
    return "4x augmentation of training clips only"


def augment_features(features: Features) -> Features:
    """Every clip of ``features`` in its 4 ``augment_4x`` versions, as one ``Features`` of 4n rows.

    Copies keep the subject, dataset and label of their clip and are named
    ``clip``, ``clip~mirror``, ``clip~flip``, ``clip~mirror_flip``.
    """
    X4, y4 = augment_4x(features.X, features.y, features.channels)
    clips = np.concatenate([np.char.add(features.clips.astype(str), suffix) for suffix in VARIANT_SUFFIXES])
    return dataclasses.replace(
        features,
        X=X4,
        y=y4,
        subjects=np.tile(features.subjects, 4),
        datasets=np.tile(features.datasets, 4),
        clips=clips,
        info={**features.info, "augment_scope": "whole_dataset"},
    )
