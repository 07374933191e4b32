"""4x training-set augmentation by mirror and flip, aware of the flow's sign (SPEC §6).

The paper (Table 2) multiplies every training set by 4: original, horizontal
mirror, vertical flip and both. On an image that is a plain flip. On a flow
field it is not: mirroring the picture left-right turns a rightward motion into
a leftward one, so the horizontal component ``u`` must change sign as well as
being mirrored, and an up-down flip negates the vertical component ``v``. Optical
strain and flow magnitude are invariant under both and are only moved.

Only training clips are augmented; ``me_resnet.training.fold`` never calls this on
validation or test data.
"""

from __future__ import annotations

import numpy as np

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
