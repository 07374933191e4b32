"""The Fig. 5 reading switches of the bottleneck (models/resnet.py): shapes, parameter counts, .keras round trip."""

import dataclasses
import hashlib

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from me_resnet.config import PAPER  # noqa: E402
from me_resnet.models.registry import build_model  # noqa: E402
from me_resnet.models.resnet import ResNetOptions, build_resnet50_2d  # noqa: E402
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
    default = build_resnet50_2d((32, 32, 3), 3, ResNetOptions(blocks=(1, 1, 1, 1), width=4))
    every = build_resnet50_2d(
        (32, 32, 3), 3, ResNetOptions(blocks=(1, 1, 1, 1), width=4, shortcut_projection="first_block")
    )
    assert [w.shape for w in default.weights] == [w.shape for w in every.weights]


# The default layout's parameter counts and layer names (sha256 of the names in order, after the
# input layer, whose name Keras numbers per session), which 2D->3D inflation matches by name and the
# 2D twin shares: ``cbam_position``'s default must keep them.
DEFAULT_PARAMETERS = {"me_resnet": 87_361, "twin_2d": 58_993}
DEFAULT_NAMES_SHA256 = "927579e4648f744c"


def _names_sha256(model):
    return hashlib.sha256("\n".join(layer.name for layer in model.layers[1:]).encode()).hexdigest()[:16]


def _cbam_blocks(model):
    return [layer.name.removesuffix("_cbam") for layer in model.layers if layer.name.endswith("_cbam")]


def test_cbam_position_default_keeps_the_layout(default_model):
    explicit = _model(cbam_position="after_third_conv")
    twin = build_pretrain_model(SMALL)
    for model in (default_model, explicit):
        assert model.count_params() == DEFAULT_PARAMETERS["me_resnet"]
        assert _names_sha256(model) == DEFAULT_NAMES_SHA256
    assert twin.count_params() == DEFAULT_PARAMETERS["twin_2d"]
    assert _names_sha256(twin) == DEFAULT_NAMES_SHA256
    assert _previous_layer(default_model, "conv3_block1_add") in ("conv3_block1_cbam", "conv3_block1_0_bn")
    assert len(_cbam_blocks(default_model)) == sum(SMALL.blocks)


def test_cbam_after_the_sum(default_model, tmp_path):
    model = _model(cbam_position="after_add")
    assert _cbam_blocks(model) == _cbam_blocks(default_model)  # every block, same names
    assert _previous_layer(model, "conv2_block1_cbam") == "conv2_block1_out"
    assert _previous_layer(model, "conv2_block2_1_conv") == "conv2_block1_cbam"  # the next block reads it
    assert {_previous_layer(model, "conv2_block1_add")} <= {"conv2_block1_3_bn", "conv2_block1_0_bn"}
    without_relu = _model(cbam_position="after_add", post_add_activation="none")
    assert _previous_layer(without_relu, "conv2_block1_cbam") == "conv2_block1_add"
    assert model.count_params() == default_model.count_params()  # CBAM sees 4 * filters channels either way
    _round_trip(model, tmp_path)


def test_cbam_in_every_other_block(default_model, tmp_path):
    model = _model(cbam_position="every_other_block")
    # blocks (2, 1, 1, 1): the network's blocks 1, 3 and 5 (counted over the stages) keep CBAM
    assert _cbam_blocks(model) == ["conv2_block1", "conv3_block1", "conv5_block1"]
    assert _previous_layer(model, "conv2_block2_add") in ("conv2_block2_3_bn", "conv2_block1_out")
    skipped = sum(default_model.get_layer(f"{block}_cbam").count_params() for block in ("conv2_block2", "conv4_block1"))
    assert default_model.count_params() - model.count_params() == skipped > 0
    _round_trip(model, tmp_path)


@pytest.mark.parametrize("position", ["after_add", "every_other_block"])
def test_2d_twin_follows_cbam_position(position, tmp_path):
    config = dataclasses.replace(SMALL, cbam_position=position)
    twin = build_pretrain_model(config)
    path = tmp_path / "twin.keras"
    twin.save(path)
    model = build_model("me_resnet", SHAPE, 3, dataclasses.replace(config, pretrained=str(path)))
    assert _cbam_blocks(model) == _cbam_blocks(twin)
    weights_2d = [w.numpy() for w in twin.get_layer("conv2_block1_cbam").weights]
    weights_3d = [w.numpy() for w in model.get_layer("conv2_block1_cbam").weights]
    same_shape = [(w3, w2) for w3, w2 in zip(weights_3d, weights_2d) if w3.shape == w2.shape]
    assert len(same_shape) == 4  # the shared MLP's two kernels and biases, copied as they are
    for weight_3d, weight_2d in same_shape:
        np.testing.assert_allclose(weight_3d, weight_2d, rtol=1e-6)


def test_bad_cbam_position_is_rejected():
    with pytest.raises(ValueError, match="cbam_position.*'before_add'"):
        _model(cbam_position="before_add")
