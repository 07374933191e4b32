"""Focal loss with per-class alpha (me_resnet/losses.py; paper eq. (15))."""

import dataclasses

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from me_resnet.config import PAPER  # noqa: E402
from me_resnet.training.losses import class_alpha, focal_loss, make_loss  # noqa: E402


def test_class_alpha_sums_to_one_and_orders_by_inverse_frequency():
    y = np.array([0] * 60 + [1] * 25 + [2] * 15)
    alpha = class_alpha(y)
    assert alpha.shape == (3,)
    np.testing.assert_allclose(alpha.sum(), 1.0)
    assert alpha[2] > alpha[1] > alpha[0]
    # inverse frequency: alpha_k * count_k is the same for every class
    counts = np.bincount(y)
    np.testing.assert_allclose(alpha * counts, (alpha * counts)[0])


def test_class_alpha_accepts_one_hot_labels():
    y = np.array([0, 0, 0, 1, 2, 2])
    np.testing.assert_allclose(class_alpha(keras.utils.to_categorical(y, 3)), class_alpha(y))


def test_class_alpha_names_an_absent_class():
    with pytest.raises(ValueError, match="surprise"):
        class_alpha(np.array([0, 1, 1, 0]))
    with pytest.raises(ValueError, match="outside"):
        class_alpha(np.array([0, 1, 2, 3]))
    with pytest.raises(ValueError, match="non-empty"):
        class_alpha(np.array([], dtype=int))


def _formula(y_true, y_pred, alpha, gamma):
    """Eq. (15) averaged over the batch: -alpha_t (1 - p_t)^gamma log p_t of the true class."""
    index = np.argmax(y_true, axis=1)
    p_true = y_pred[np.arange(len(y_pred)), index]
    return np.mean(-np.asarray(alpha)[index] * (1 - p_true) ** gamma * np.log(p_true))


@pytest.mark.parametrize("gamma", [0.0, 2.0, 3.5])
def test_focal_loss_equals_eq_15(gamma):
    y_true = keras.utils.to_categorical([0, 1, 2, 2, 1], 3)
    y_pred = np.array(
        [[0.7, 0.2, 0.1], [0.3, 0.4, 0.3], [0.05, 0.15, 0.8], [0.6, 0.3, 0.1], [0.1, 0.85, 0.05]], dtype="float32"
    )
    alpha = np.array([0.2, 0.3, 0.5])
    loss = float(focal_loss(alpha, gamma)(y_true, y_pred))
    np.testing.assert_allclose(loss, _formula(y_true, y_pred, alpha, gamma), rtol=1e-5)
    # the weights really are per class: permuting alpha changes the loss
    assert not np.isclose(loss, float(focal_loss(alpha[::-1], gamma)(y_true, y_pred)))


def test_focal_loss_serialises_with_per_class_alpha():
    loss = focal_loss([0.2, 0.3, 0.5])
    clone = keras.losses.CategoricalFocalCrossentropy.from_config(loss.get_config())
    assert list(clone.alpha) == [0.2, 0.3, 0.5] and clone.gamma == 2.0


def test_make_loss_follows_config():
    y = np.array([0, 0, 0, 1, 2])
    focal = make_loss(PAPER, y)
    np.testing.assert_allclose(focal.alpha, class_alpha(y))
    assert make_loss(dataclasses.replace(PAPER, focal_alpha="none"), y).alpha == [1.0]
    assert isinstance(
        make_loss(dataclasses.replace(PAPER, loss="crossentropy"), y), keras.losses.CategoricalCrossentropy
    )
    with pytest.raises(ValueError, match="hinge"):
        make_loss(dataclasses.replace(PAPER, loss="hinge"), y)
    with pytest.raises(ValueError):
        focal_loss([0.5, -0.1, 0.6])
