import dataclasses

import numpy as np
import pytest

from me_resnet.evaluation.experiment import protocol_label
from me_resnet.evaluation.loso import run_loso
from me_resnet.training.augment import (
    augment_4x,
    augment_features,
    augmentation_label,
    source_index,
    whole_dataset_augmentation,
)
from tests.support.tiny import FAST, tiny_build, tiny_features


def rightward_flow(n=2, t=3, h=6, w=8):
    """u > 0 only in the left half, v > 0 only in the top rows, strain a ramp: every flip is visible."""
    X = np.zeros((n, t, h, w, 3), dtype=np.float32)
    X[..., : w // 2, 0] = 1.0
    X[..., : h // 2, :, 1] = 2.0
    X[..., 2] = np.arange(h * w, dtype=np.float32).reshape(h, w)
    return X


def test_mirror_negates_u_and_mirrors_arrays():
    X = rightward_flow()
    X4, _ = augment_4x(X, np.array([0, 1]), ("u", "v", "strain"))
    mirrored = X4[2:4]
    # rightward motion on the left becomes leftward motion on the right
    assert np.all(mirrored[..., -4:, 0] == -1.0) and np.all(mirrored[..., :4, 0] == 0.0)
    np.testing.assert_array_equal(mirrored[..., 0], -X[..., ::-1, 0])
    np.testing.assert_array_equal(mirrored[..., 1], X[..., ::-1, 1])  # v moved, sign kept
    np.testing.assert_array_equal(mirrored[..., 2], X[..., ::-1, 2])  # strain only moved


def test_flip_negates_v_and_both_negates_both():
    X = rightward_flow()
    X4, _ = augment_4x(X, np.array([0, 1]), ("u", "v", "strain"))
    flipped, both = X4[4:6], X4[6:8]
    np.testing.assert_array_equal(flipped[..., 1], -X[..., ::-1, :, 1])
    np.testing.assert_array_equal(flipped[..., 0], X[..., ::-1, :, 0])
    np.testing.assert_array_equal(flipped[..., 2], X[..., ::-1, :, 2])
    np.testing.assert_array_equal(both[..., :2], -X[..., ::-1, ::-1, :2])
    np.testing.assert_array_equal(both[..., 2], X[..., ::-1, ::-1, 2])
    np.testing.assert_array_equal(X4[:2], X)  # originals first, untouched


def test_magnitude_and_images_only_move():
    X = np.random.default_rng(0).normal(size=(3, 5, 7, 3)).astype(np.float32)
    X4, _ = augment_4x(X, np.zeros(3, int), ("u", "v", "magnitude"))
    np.testing.assert_array_equal(X4[3:6, ..., 2], X[:, :, ::-1, 2])
    images, _ = augment_4x(X, np.zeros(3, int), ("grey",) * 3)
    np.testing.assert_array_equal(images[3:6], X[:, :, ::-1])
    np.testing.assert_array_equal(images[6:9], X[:, ::-1])


def test_count_labels_and_input_untouched():
    X = rightward_flow(n=5)
    before = X.copy()
    y = np.array([0, 1, 2, 1, 0])
    X4, y4 = augment_4x(X, y, ("u", "v", "strain"))
    assert X4.shape == (20,) + X.shape[1:] and X4.dtype == X.dtype
    np.testing.assert_array_equal(y4, np.tile(y, 4))
    np.testing.assert_array_equal(y4, y[source_index(5)])
    np.testing.assert_array_equal(X, before)


def test_bad_inputs():
    X = rightward_flow()
    with pytest.raises(ValueError, match="unknown channel"):
        augment_4x(X, np.array([0, 1]), ("u", "v", "depth"))
    with pytest.raises(ValueError, match="rows"):
        augment_4x(X, np.array([0]), ("u", "v", "strain"))
    with pytest.raises(ValueError, match="channels"):
        augment_4x(X, np.array([0, 1]), ("u", "v"))


def test_augment_features_copies_every_clip_with_named_variants():

    features = tiny_features(subjects=2, clips=3)
    augmented = augment_features(features)
    n = len(features.y)
    assert augmented.X.shape == (4 * n,) + features.X.shape[1:]
    assert list(augmented.clips[:n]) == list(features.clips)
    assert augmented.clips[n] == f"{features.clips[0]}~mirror" and augmented.clips[-1].endswith("~mirror_flip")
    assert list(augmented.subjects) == list(features.subjects) * 4
    np.testing.assert_array_equal(augmented.X[n, ..., 0], -features.X[0, :, ::-1, 0])  # mirrored u changes sign
    assert augmented.info["augment_scope"] == "whole_dataset"


def test_whole_dataset_reading_scores_test_copies_and_is_labelled_optimistic():

    features = tiny_features(subjects=3, clips=3)
    config = dataclasses.replace(FAST, augment_scope="whole_dataset", early_stop_on="none", epochs=1)
    assert whole_dataset_augmentation(config) and not whole_dataset_augmentation(FAST)
    table = run_loso(features, "tiny", config, build_fn=tiny_build, progress=False)
    assert len(table) == 4 * len(features.y)  # every test clip scored in its 4 versions
    assert table["optimistic"].all()
    for subject, rows in table.groupby("subject"):
        assert set(rows["fold"]) == {rows["fold"].iloc[0]}  # a clip's copies stay with its subject
    assert "optimistic/leaky" in augmentation_label(config) and "optimistic/leaky" in protocol_label(config)
    assert "optimistic" not in protocol_label(dataclasses.replace(FAST, early_stop_on="val"))
    with pytest.raises(ValueError, match="augment_scope.*'everything'"):
        whole_dataset_augmentation(dataclasses.replace(FAST, augment_scope="everything"))
