"""STSTNet and OFF-ApexNet: hand-derived sizes, shapes, a train step, input handling."""

import keras
import numpy as np
import pytest

from me_resnet.models.baselines import SelectChannels, build_off_apexnet, build_ststnet
from me_resnet.reporting.paper import PUBLISHED_RESULTS


def test_ststnet_parameter_count_by_hand():
    # three 3x3 convs on 3 input channels, with bias: 3*3*3*k + k for k = 3, 5, 8
    convs = (27 * 3 + 3) + (27 * 5 + 5) + (27 * 8 + 8)  # 84 + 140 + 224 = 448
    # BatchNorm: gamma, beta, moving mean, moving variance per channel, 3 + 5 + 8 = 16 channels
    batch_norm = 4 * 16  # 64
    # 28 -> max-pool 3/3 'same' -> 10 -> avg-pool 2 -> 5; 5*5*16 = 400 inputs to dense 3
    dense = 400 * 3 + 3  # 1203
    model = build_ststnet((28, 28, 3), 3)
    assert model.count_params() == convs + batch_norm + dense == 1715
    assert model.get_layer("flatten").output.shape == (None, 400)


def test_off_apexnet_parameter_count_by_hand():
    # per stream: conv 5x5 1->6 and 6->16 with bias
    stream = (5 * 5 * 1 * 6 + 6) + (5 * 5 * 6 * 16 + 16)  # 156 + 2416 = 2572
    # 'same' convs, two 2x2 pools: 28 -> 14 -> 7; 7*7*16 = 784 per stream, 1568 concatenated
    dense = (1568 * 1024 + 1024) + (1024 * 1024 + 1024) + (1024 * 3 + 3)  # 1606656 + 1049600 + 3075
    expected = 2 * stream + dense  # 2664475, the 2.66 M the Off-TANet port reports
    for channels in (2, 3):  # the strain channel adds no weights: it is dropped
        assert build_off_apexnet((28, 28, channels), 3).count_params() == expected == 2_664_475


@pytest.mark.parametrize("builder, channels", [(build_ststnet, 3), (build_off_apexnet, 2), (build_off_apexnet, 3)])
def test_forward_pass_and_one_train_step(builder, channels):
    keras.utils.set_random_seed(0)
    model = builder((28, 28, channels), 3)
    x = np.random.default_rng(0).normal(size=(4, 28, 28, channels)).astype("float32")
    y = keras.utils.to_categorical([0, 1, 2, 1], 3)
    probabilities = model.predict(x, verbose=0)
    assert probabilities.shape == (4, 3)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="categorical_crossentropy")
    before = [np.array(w) for w in model.trainable_weights]
    loss = model.train_on_batch(x, y)
    assert np.isfinite(loss)
    unchanged = [w.path for w, b in zip(model.trainable_weights, before) if np.array_equal(np.array(w), b)]
    assert unchanged == []  # every trainable weight moved: all streams are connected to the loss


def test_off_apexnet_uses_u_and_v_only_and_keeps_them_apart():
    keras.utils.set_random_seed(1)
    model = build_off_apexnet((28, 28, 3), 3)
    x = np.random.default_rng(1).normal(size=(2, 28, 28, 3)).astype("float32")
    base = model.predict(x, verbose=0)
    other_strain = x.copy()
    other_strain[..., 2] = 7.0
    np.testing.assert_allclose(model.predict(other_strain, verbose=0), base, rtol=1e-5, atol=1e-6)
    swapped = x[..., [1, 0, 2]]  # u and v go to different streams: swapping them matters
    assert not np.allclose(model.predict(swapped, verbose=0), base, atol=1e-6)


def test_select_channels_config_and_keras_file_round_trip(tmp_path):
    layer = SelectChannels([1, 0], name="pick")
    restored = SelectChannels.from_config(layer.get_config())
    assert restored.indices == (1, 0)
    x = np.arange(2 * 4 * 4 * 3, dtype="float32").reshape(2, 4, 4, 3)
    np.testing.assert_array_equal(np.asarray(restored(x)), x[..., [1, 0]])

    model = build_off_apexnet((28, 28, 3), 3, dense_units=8)
    path = tmp_path / "off_apexnet.keras"
    model.save(path)
    reloaded = keras.models.load_model(path)
    batch = np.random.default_rng(2).normal(size=(2, 28, 28, 3)).astype("float32")
    np.testing.assert_allclose(reloaded.predict(batch, verbose=0), model.predict(batch, verbose=0), rtol=1e-6)


def test_bad_input_shapes_are_rejected():
    with pytest.raises(ValueError, match=r"3 input channels.*\(28, 28, 2\)"):
        build_ststnet((28, 28, 2), 3)
    with pytest.raises(ValueError, match=r"2 or 3 input channels.*\(28, 28, 1\)"):
        build_off_apexnet((28, 28, 1), 3)
    with pytest.raises(ValueError, match="one flow field"):
        build_ststnet((5, 28, 28, 3), 3)
    with pytest.raises(ValueError, match="out of range"):
        SelectChannels([3])(keras.Input((4, 4, 3)))


def test_every_published_number_names_its_source():
    for name, entry in PUBLISHED_RESULTS.items():
        assert entry.get("source"), f"{name}: no source"
