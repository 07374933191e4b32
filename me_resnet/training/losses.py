"""Focal loss with per-class alpha (paper eq. (15), §3.2).

``FL(p_i) = -alpha_i (1 - p_i)^gamma log(p_i)`` is Keras'
``CategoricalFocalCrossentropy``, which accepts alpha as a list of one weight
per class (Keras 3.15: ``alpha`` is broadcast over the class axis). The
default alpha is the inverse class frequency of the *training fold only*,
normalised to sum 1, so the held-out subject never influences it.
"""

from __future__ import annotations

import keras
import numpy as np

from me_resnet.data.records import CLASS_NAMES


def _class_name(index: int, num_classes: int) -> str:
    return f"{index} ({CLASS_NAMES[index]})" if num_classes == len(CLASS_NAMES) else str(index)


def class_alpha(y, num_classes: int = 3) -> np.ndarray:
    """Inverse class frequency of the labels ``y``, normalised to sum 1.

    ``y`` holds integer labels (n,) or one-hot rows (n, num_classes). A class
    absent from ``y`` has no defined frequency: ``ValueError`` naming it (a LOSO
    training fold always holds every class in the 3 official datasets).
    """
    y = np.asarray(y)
    if y.ndim == 2:
        if y.shape[1] != num_classes:
            raise ValueError(f"one-hot labels have {y.shape[1]} columns, expected num_classes={num_classes}")
        y = np.argmax(y, axis=1)
    if y.ndim != 1 or len(y) == 0:
        raise ValueError(f"class_alpha needs a non-empty 1-D label array, got shape {y.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        if not np.all(np.equal(np.mod(y, 1), 0)):
            raise ValueError(f"class_alpha needs integer labels, got dtype {y.dtype}")
        y = y.astype(int)
    outside = sorted(set(y[(y < 0) | (y >= num_classes)].tolist()))
    if outside:
        raise ValueError(f"labels {outside} outside 0..{num_classes - 1}")
    counts = np.bincount(y, minlength=num_classes)
    missing = [_class_name(i, num_classes) for i in np.flatnonzero(counts == 0)]
    if missing:
        raise ValueError(
            f"class(es) {missing} absent from the training labels; "
            f"inverse frequency undefined (counts {counts.tolist()})"
        )
    inverse = 1.0 / counts
    return inverse / inverse.sum()


def focal_loss(alpha, gamma: float = 2.0) -> keras.losses.CategoricalFocalCrossentropy:
    """Keras' categorical focal loss with one alpha per class (eq. (15)); one-hot targets, softmax outputs.

    ``alpha=None`` means no class balancing (alpha_i = 1 for every class).
    """
    if alpha is None:
        alpha = [1.0]
    alpha_list = [float(a) for a in np.ravel(alpha)]
    if not alpha_list or any(a < 0 for a in alpha_list):
        raise ValueError(f"alpha must be non-negative weights, one per class, got {alpha!r}")
    if gamma < 0:
        raise ValueError(f"gamma must be >= 0, got {gamma!r}")
    return keras.losses.CategoricalFocalCrossentropy(alpha=alpha_list, gamma=float(gamma))


def make_loss(config, y_train, num_classes: int = 3) -> keras.losses.Loss:
    """The training loss ``config`` asks for, with alpha from the training labels ``y_train``.

    ``config.loss``: ``"focal"`` (default) or ``"crossentropy"``;
    ``config.focal_alpha``: ``"inverse_frequency"`` (default) or ``"none"``
    (alpha_i = 1: focal modulation without class balancing).
    """
    if config.loss == "crossentropy":
        return keras.losses.CategoricalCrossentropy()
    alpha = class_alpha(y_train, num_classes) if config.focal_alpha == "inverse_frequency" else None
    return focal_loss(alpha, gamma=config.focal_gamma)


class FoldFocalLoss(keras.losses.CategoricalFocalCrossentropy):
    """Keras' categorical focal loss (eq. (15)) whose per-class alpha is a variable.

    A traced train step reads the variable, so ``set_alpha`` changes the alpha of
    the next fold without retracing; the arithmetic is that of
    ``keras.losses.categorical_focal_crossentropy`` with a constant alpha.
    """

    def __init__(self, alpha, gamma: float = 2.0, **kwargs):
        super().__init__(alpha=alpha, gamma=gamma, **kwargs)
        self.alpha_weights = keras.Variable(
            np.asarray(alpha, dtype="float32"), trainable=False, dtype="float32", name="focal_alpha"
        )

    def set_alpha(self, alpha) -> None:
        alpha = np.asarray(alpha, dtype="float32")
        if alpha.shape != tuple(self.alpha_weights.shape):
            raise ValueError(f"alpha of shape {alpha.shape} cannot replace one of shape {self.alpha_weights.shape}")
        self.alpha_weights.assign(alpha)
        self.alpha = alpha.tolist()

    def call(self, y_true, y_pred):
        return keras.losses.categorical_focal_crossentropy(
            y_true,
            y_pred,
            alpha=self.alpha_weights,
            gamma=self.gamma,
            from_logits=self.from_logits,
            label_smoothing=self.label_smoothing,
            axis=self.axis,
        )
