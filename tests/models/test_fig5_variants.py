"""The Fig. 5 reading switches of the bottleneck (models/resnet.py): shapes, parameter counts, .keras round trip."""

import dataclasses

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from me_resnet.config import PAPER  # noqa: E402
from me_resnet.models.registry import build_model  # noqa: E402
from me_resnet.models.resnet import build_resnet50_2d  # noqa: E402
from me_resnet.training.pretrain import build_pretrain_model  # noqa: E402

SHAPE = (4, 8, 8, 3)
SMALL = dataclasses.replace(PAPER, blocks=(2, 1, 1, 1), width=4, cbam_reduction=2, image_size=8)
WIDTH = SMALL.width


def _model(**switches):
    keras.utils.set_random_seed(0)
    return build_model("me_resnet", SHAPE, 3, dataclasses.replace(SMALL, **switches))


def _round_trip(model, tmp_path):
    """Save to .keras, reload, and check equal outputs on a fixed input."""
    x = np.random.default_rng(1).normal(size=(2,) + tuple(model.input.shape[1:])).astype("float32")
    path = tmp_path / f"{model.name}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(model(x)), rtol=1e-5, atol=1e-6)
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]


def _previous_layer(model, layer_name):
    node = model.get_layer(layer_name)._inbound_nodes[0]
    return node.parent_nodes[0].operation.name


@pytest.fixture(scope="module")
def default_model():
    return _model()


def test_defaults_are_resnet_v1_with_cbam(default_model):
    model = default_model
    assert _previous_layer(model, "conv2_block1_1_relu") == "conv2_block1_1_bn"
    assert _previous_layer(model, "conv2_block1_cbam") == "conv2_block1_3_bn"
    assert "conv2_block1_0_conv" in {layer.name for layer in model.layers}
    assert "conv2_block2_0_conv" not in {layer.name for layer in model.layers}  # identity shortcut
    assert model.get_layer("conv1_conv").kernel.shape == (3, 7, 7, 3, WIDTH)
    assert model.get_layer("conv2_block1_cbam").spatial_kernel == (7, 7, 7)
    # time 4 -> 4 (conv2) -> 2 -> 1 -> 1
    assert model.get_layer("conv5_block1_out").output.shape[1:4] == (1, 1, 1)
    assert model.output.shape[1:] == (3,)


def test_relu_before_batch_norm(default_model, tmp_path):
    model = _model(bottleneck_order="relu_bn")
    assert _previous_layer(model, "conv2_block1_1_bn") == "conv2_block1_1_relu"
    assert _previous_layer(model, "conv2_block1_1_relu") == "conv2_block1_1_conv"
    assert "conv2_block1_3_relu" not in {layer.name for layer in model.layers}
    assert model.count_params() == default_model.count_params()
    _round_trip(model, tmp_path)


def test_relu_after_third_conv(default_model, tmp_path):
    model = _model(bottleneck_third_relu=True)
    assert _previous_layer(model, "conv2_block1_3_relu") == "conv2_block1_3_bn"
    assert _previous_layer(model, "conv2_block1_cbam") == "conv2_block1_3_relu"
    fig5_text = _model(bottleneck_order="relu_bn", bottleneck_third_relu=True)
    assert _previous_layer(fig5_text, "conv2_block1_cbam") == "conv2_block1_3_bn"
    assert _previous_layer(fig5_text, "conv2_block1_3_bn") == "conv2_block1_3_relu"
    assert model.count_params() == fig5_text.count_params() == default_model.count_params()
    _round_trip(fig5_text, tmp_path)


def test_projection_on_every_block(default_model, tmp_path):
    model = _model(shortcut_projection="every_block")
    names = {layer.name for layer in model.layers}
    assert {"conv2_block2_0_conv", "conv2_block2_0_bn"} <= names
    channels = 4 * WIDTH  # conv2_block2: C -> C, 1x1x1 conv with bias + BN (4 weights per channel)
    assert model.count_params() - default_model.count_params() == channels * channels + channels + 4 * channels
    _round_trip(model, tmp_path)


def test_no_activation_after_the_sum(default_model, tmp_path):
    model = _model(post_add_activation="none")
    names = {layer.name for layer in model.layers}
    assert "conv2_block1_out" not in names and "conv2_block1_add" in names
    assert model.count_params() == default_model.count_params()
    _round_trip(model, tmp_path)


def test_no_temporal_stride_keeps_every_frame(default_model, tmp_path):
    model = _model(temporal_strides="none")
    assert model.get_layer("conv5_block1_out").output.shape[1:4] == (SHAPE[0], 1, 1)
    assert model.count_params() == default_model.count_params()
    _round_trip(model, tmp_path)


@pytest.mark.parametrize("kernel", [1, 5])
def test_stem_temporal_kernel(default_model, tmp_path, kernel):
    model = _model(stem_temporal_kernel=kernel)
    assert model.get_layer("conv1_conv").kernel.shape == (kernel, 7, 7, 3, WIDTH)
    assert model.get_layer("conv2_block1_2_conv").kernel.shape[0] == 3  # the 3x3x3 convs keep kt = 3
    assert model.get_layer("conv1_conv").output.shape[1] == SHAPE[0]  # 'same' padding in time
    assert model.count_params() - default_model.count_params() == (kernel - 3) * 7 * 7 * 3 * WIDTH
    _round_trip(model, tmp_path)


def test_cbam_spatial_kernel(default_model, tmp_path):
    model = _model(cbam_spatial_kernel=3)
    assert model.get_layer("conv2_block1_cbam").spatial_kernel == (3, 3, 3)
    blocks = sum(SMALL.blocks)
    assert default_model.count_params() - model.count_params() == blocks * (7**3 - 3**3) * 2  # no bias, 2 maps in
    _round_trip(model, tmp_path)


def test_bad_switch_values_are_rejected():
    with pytest.raises(ValueError, match="bottleneck_order.*'bn_first'"):
        _model(bottleneck_order="bn_first")
    with pytest.raises(ValueError, match="shortcut_projection.*'some'"):
        _model(shortcut_projection="some")
    with pytest.raises(ValueError, match="temporal_strides.*'all'"):
        _model(temporal_strides="all")
    with pytest.raises(ValueError, match="stem_temporal_kernel"):
        _model(stem_temporal_kernel=0)


def test_2d_twin_follows_the_switches_so_inflation_matches(tmp_path):
    switches = {
        "bottleneck_order": "relu_bn",
        "bottleneck_third_relu": True,
        "shortcut_projection": "every_block",
        "post_add_activation": "none",
        "cbam_spatial_kernel": 3,
    }
    config = dataclasses.replace(SMALL, **switches)
    twin = build_pretrain_model(config)
    names = {layer.name for layer in twin.layers}
    assert {"conv2_block2_0_conv", "conv2_block1_3_relu"} <= names and "conv2_block1_out" not in names
    assert twin.get_layer("conv2_block1_cbam").spatial_kernel == (3, 3)
    path = tmp_path / "twin.keras"
    twin.save(path)
    model = build_model("me_resnet", SHAPE, 3, dataclasses.replace(config, pretrained=str(path)))
    kernel_2d = twin.get_layer("conv2_block2_0_conv").kernel.numpy()
    kernel_3d = model.get_layer("conv2_block2_0_conv").kernel.numpy()
    np.testing.assert_allclose(kernel_3d[0], kernel_2d, rtol=1e-6)  # 1x1x1: kt = 1, copied as is


def test_2d_defaults_unchanged():
    default = build_resnet50_2d((32, 32, 3), 3, blocks=(1, 1, 1, 1), width=4)
    every = build_resnet50_2d((32, 32, 3), 3, blocks=(1, 1, 1, 1), width=4, shortcut_projection="first_block")
    assert [w.shape for w in default.weights] == [w.shape for w in every.weights]
