"""CBAM layer (me_resnet/models/cbam.py): shapes, a hand-computed output, serialisation, attention ranges."""

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from me_resnet.models.cbam import CBAM  # noqa: E402

SHAPES = {2: (2, 6, 7, 16), 3: (2, 4, 6, 7, 16)}


def _inputs(rank, seed=0):
    return np.random.default_rng(seed).normal(size=SHAPES[rank]).astype("float32")


@pytest.mark.parametrize("rank", [2, 3])
@pytest.mark.parametrize("gate", ["sigmoid", "softmax"])
def test_output_shape_equals_input_shape(rank, gate):
    x = _inputs(rank)
    y = CBAM(rank=rank, reduction=4, gate=gate)(x)
    assert tuple(y.shape) == x.shape
    assert np.all(np.isfinite(keras.ops.convert_to_numpy(y)))


@pytest.mark.parametrize("rank", [2, 3])
def test_sigmoid_attention_in_unit_interval_and_applied(rank):
    x = _inputs(rank)
    layer = CBAM(rank=rank, reduction=4)
    maps = {k: keras.ops.convert_to_numpy(v) for k, v in layer.attention_maps(x).items()}
    assert maps["channel"].shape == (x.shape[0], x.shape[-1])
    assert maps["spatial"].shape == x.shape[:-1] + (1,)
    for values in maps.values():
        assert np.all(values > 0) and np.all(values < 1)
    # output = x * channel map * spatial map (CBAM's two sequential refinements)
    expected = x * maps["channel"].reshape((x.shape[0],) + (1,) * rank + (x.shape[-1],)) * maps["spatial"]
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(x)), expected, rtol=1e-5, atol=1e-6)


def _sigmoid(value):
    return 1.0 / (1.0 + np.exp(-value))


def test_hand_computed_maps_use_both_average_and_max_pooling():
    # One 2x2 image, 2 channels; identity MLP (reduction 1, zero biases) and a 1x1 spatial conv that weighs the
    # channel mean by 1 and the channel max by 2 (eq. (10)-(14) with the sigmoid gate).
    x = np.zeros((1, 2, 2, 2), "float32")
    x[0, :, :, 0] = [[4.0, 0.0], [0.0, 0.0]]  # average 1, max 4
    x[0, :, :, 1] = [[2.0, 2.0], [2.0, 2.0]]  # average 2, max 2
    layer = CBAM(rank=2, reduction=1, spatial_kernel=1)
    layer.build(x.shape)
    layer.mlp_hidden.set_weights([np.eye(2, dtype="float32"), np.zeros(2, "float32")])
    layer.mlp_out.set_weights([np.eye(2, dtype="float32"), np.zeros(2, "float32")])
    layer.spatial_conv.set_weights([np.array([1.0, 2.0], "float32").reshape(1, 1, 2, 1)])
    maps = {k: keras.ops.convert_to_numpy(v) for k, v in layer.attention_maps(x).items()}

    # channel: MLP(avg) + MLP(max) = (1 + 4, 2 + 2); average alone would give (1, 2), max alone (4, 2)
    np.testing.assert_allclose(maps["channel"], [[_sigmoid(5.0), _sigmoid(4.0)]], rtol=1e-6)
    refined = x * maps["channel"].reshape(1, 1, 1, 2)
    top_left = _sigmoid((4 * _sigmoid(5.0) + 2 * _sigmoid(4.0)) / 2 + 2 * 4 * _sigmoid(5.0))
    elsewhere = _sigmoid(2 * _sigmoid(4.0) / 2 + 2 * 2 * _sigmoid(4.0))
    np.testing.assert_allclose(maps["spatial"][0, :, :, 0], [[top_left, elsewhere], [elsewhere, elsewhere]], rtol=1e-6)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(x)), refined * maps["spatial"], rtol=1e-6)


@pytest.mark.parametrize("rank", [2, 3])
def test_softmax_attention_sums_to_one(rank):
    x = _inputs(rank)
    maps = CBAM(rank=rank, reduction=4, gate="softmax").attention_maps(x)
    channel = keras.ops.convert_to_numpy(maps["channel"])
    spatial = keras.ops.convert_to_numpy(maps["spatial"])
    np.testing.assert_allclose(channel.sum(axis=-1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(spatial.reshape(len(x), -1).sum(axis=-1), 1.0, rtol=1e-5)
    assert not np.allclose(spatial, spatial.mean())  # positions are actually weighted differently


def test_return_attention_in_a_functional_model():
    inputs = keras.Input(SHAPES[3][1:])
    outputs = CBAM(rank=3, reduction=4, return_attention=True)(inputs)
    model = keras.Model(inputs, list(outputs))
    features, channel, spatial = model.predict(_inputs(3), verbose=0)
    assert features.shape == SHAPES[3] and channel.shape == (2, 16) and spatial.shape == SHAPES[3][:-1] + (1,)


def test_parameter_count():
    layer = CBAM(rank=3, reduction=4)
    layer.build(SHAPES[3])
    # MLP 16->4->16 with biases, plus a bias-free 7x7x7 conv from 2 maps to 1
    assert layer.count_params() == (16 * 4 + 4) + (4 * 16 + 16) + 7 * 7 * 7 * 2


def test_config_round_trip():
    layer = CBAM(rank=3, reduction=8, gate="softmax", spatial_kernel=(1, 5, 5), name="att")
    clone = CBAM.from_config(layer.get_config())
    for key in ("rank", "reduction", "gate", "spatial_kernel", "return_attention", "name"):
        assert getattr(clone, key) == getattr(layer, key)


@pytest.mark.parametrize("rank", [2, 3])
def test_keras_file_round_trip_gives_identical_outputs(rank, tmp_path):
    keras.utils.set_random_seed(1)
    inputs = keras.Input(SHAPES[rank][1:])
    model = keras.Model(inputs, CBAM(rank=rank, reduction=4, gate="softmax", name="cbam")(inputs))
    path = tmp_path / "cbam.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded.get_layer("cbam"), CBAM)
    x = _inputs(rank, seed=3)
    np.testing.assert_array_equal(model.predict(x, verbose=0), loaded.predict(x, verbose=0))


@pytest.mark.parametrize(
    "kwargs",
    [{"rank": 4}, {"reduction": 0}, {"gate": "tanh"}, {"rank": 3, "spatial_kernel": (7, 7)}],
)
def test_bad_arguments_raise_value_error(kwargs):
    with pytest.raises(ValueError):
        CBAM(**kwargs)
