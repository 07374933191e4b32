"""A tiny learnable feature set, a tiny model and fast configs shared by the training and evaluation tests."""

import dataclasses

import numpy as np

from me_resnet.config import DEMO
from me_resnet.data.records import Features

TINY = dataclasses.replace(
    DEMO,
    epochs=3,
    patience=2,
    batch_size=8,
    learning_rate=1e-2,
    loss="crossentropy",
    seed=3,
    early_stop_on="val",
    augment=True,
)  # explicit: independent of DEMO tuning


def tiny_features(subjects=6, clips=4, seed=0, dataset="casme2", shape=(4, 4, 3)) -> Features:
    """(n, *shape) flow-like clips whose strain channel carries the class: learnable in a few epochs.

    (Strain, not u: the sign of u flips under the mirror augmentation.)
    """
    rng = np.random.default_rng(seed)
    n = subjects * clips
    y = np.tile(np.arange(3), n // 3 + 1)[:n]
    X = rng.normal(0, 0.3, size=(n, *shape)).astype(np.float32)
    X[..., 2] += (y - 1).reshape((n,) + (1,) * (len(shape) - 1)).astype(np.float32)
    return Features(
        X=X,
        y=y,
        subjects=np.repeat([f"{k:03d}" for k in range(subjects)], clips),
        datasets=np.full(n, dataset),
        clips=np.array([f"c{i}" for i in range(n)]),
        channels=("u", "v", "strain"),
    )


def tiny_build(name, input_shape, num_classes, config):
    import keras

    inputs = keras.Input(input_shape)
    x = keras.layers.Flatten()(inputs)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name=name)


FAST = dataclasses.replace(TINY, epochs=2, patience=1, loss="focal")  # focal: alpha is computed per fold
