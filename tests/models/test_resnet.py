"""The ResNet builders (me_resnet/models/resnet.py): Keras' ResNet50, the 3D ResNet50 and ME-ResNet.

The demo model's build and step times are measured by benchmarks/demo_model_step.py, not asserted here.
"""

import dataclasses

import keras
import numpy as np
import pytest

from me_resnet.config import DEMO
from me_resnet.models.cbam import CBAM
from me_resnet.models.registry import build_model
from me_resnet.models.resnet import ResNetOptions, build_me_resnet, build_resnet3d, build_resnet50_2d
from me_resnet.training.losses import focal_loss

DEMO_SHAPE = (5, 32, 32, 3)  # DEMO: num_frames 6 -> 5 flow fields of 32x32x3


def _conv_kernels(model):
    return [(layer.name, tuple(layer.kernel.shape)) for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]


def test_resnet50_2d_is_keras_resnet50():
    ours = build_resnet50_2d((224, 224, 3), 1000)
    reference = keras.applications.ResNet50(weights=None, classes=1000)
    assert ours.count_params() == reference.count_params() == 25_636_712
    assert _conv_kernels(ours) == _conv_kernels(reference)
    assert [layer.name for layer in ours.layers[1:]] == [layer.name for layer in reference.layers[1:]]
    bn_eps = {layer.epsilon for layer in ours.layers if isinstance(layer, keras.layers.BatchNormalization)}
    assert bn_eps == {1.001e-5}


def test_me_resnet_parameter_count_at_paper_settings():
    model = build_me_resnet((10, 112, 112, 3), 3)
    # 2D ResNet50 without its 1000-class head: 25,636,712 - (2048*1000 + 1000) = 23,587,712
    # + stem kernel 3x7x7 instead of 7x7: 2 * 7*7*3*64                        =     18,816
    # + every 3x3 conv becomes 3x3x3: 2 * 9 * sum(blocks * f^2)
    #   = 2 * 9 * (3*64^2 + 4*128^2 + 6*256^2 + 3*512^2)                      = 22,634,496
    # + 3-class head 2048*3 + 3                                               =      6,147
    #   = 3D ResNet50 (Table 4 method 3)                                        46,247,171
    # + CBAM per block, C = 4f, h = C/16: MLP 2*C*h + h + C, conv 7*7*7*2 = 686 (no bias)
    #   3*(8,464+686) + 4*(33,312+686) + 6*(132,160+686) + 3*(526,464+686)   =  2,541,968
    #   = ME-ResNet                                                             48,789,139
    assert build_resnet3d((10, 112, 112, 3), 3).count_params() == 46_247_171
    assert model.count_params() == 48_789_139
    assert sum(isinstance(layer, CBAM) for layer in model.layers) == 16
    assert model.get_layer("conv1_conv").kernel.shape == (3, 7, 7, 3, 64)
    # time 10 -> 10 (stem, pool) -> 5 -> 3 -> 2; space 112 -> 28 -> 14 -> 7 -> 4
    assert model.get_layer("conv2_block3_out").output.shape[1:4] == (10, 28, 28)
    assert model.get_layer("conv5_block3_out").output.shape[1:] == (2, 4, 4, 2048)


@pytest.mark.parametrize("frames", [1, 2, 5])
def test_small_time_axis_still_builds(frames):
    model = build_me_resnet((frames, 32, 32, 3), 3, ResNetOptions(blocks=(1, 1, 1, 1), width=4, cbam_reduction=4))
    out = model.predict(np.zeros((1, frames, 32, 32, 3), "float32"), verbose=0)
    assert out.shape == (1, 3)


@pytest.mark.slow
def test_demo_profile_forward_and_train_step():
    keras.utils.set_random_seed(0)
    model = build_model("me_resnet", DEMO_SHAPE, 3, DEMO)
    assert model.count_params() < 1_500_000  # small enough for the CPU demo
    model.compile(optimizer=keras.optimizers.Adam(DEMO.learning_rate), loss=focal_loss([0.2, 0.3, 0.5]))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4,) + DEMO_SHAPE).astype("float32")
    y = keras.utils.to_categorical([0, 1, 2, 0], 3)
    probabilities = model.predict(x, verbose=0)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    before = [w.copy() for w in model.get_weights()]
    loss = model.train_on_batch(x, y)
    assert np.isfinite(loss)
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


def test_builders_reject_bad_shapes_and_options_naming_the_value():
    tiny = ResNetOptions(blocks=(1, 1, 1, 1), width=4, cbam_reduction=4)
    with pytest.raises(ValueError, match=r"\(T, H, W, C\), got \(32, 32, 3\)"):
        build_me_resnet((32, 32, 3), 3, tiny)
    with pytest.raises(ValueError, match=r"\(H, W, C\), got \(5, 32, 32, 3\)"):
        build_resnet50_2d(DEMO_SHAPE, 3, tiny)
    with pytest.raises(ValueError, match=r"blocks .*\(1, 1, 1\)"):
        build_resnet50_2d((32, 32, 3), 3, ResNetOptions(blocks=(1, 1, 1)))
    with pytest.raises(ValueError, match="num_classes must be >= 2, got 1"):
        build_resnet50_2d((32, 32, 3), 1, tiny)
    with pytest.raises(ValueError, match="temporal_kernel must be >= 1, got 0"):
        build_resnet3d(DEMO_SHAPE, 3, dataclasses.replace(tiny, temporal_kernel=0))
    with pytest.raises(FileNotFoundError, match="nowhere.keras"):
        build_me_resnet(DEMO_SHAPE, 3, tiny, pretrained="/nowhere.keras")


def test_softmax_output_stays_float32_under_mixed_precision():
    previous = keras.config.dtype_policy()
    try:
        keras.config.set_dtype_policy("mixed_bfloat16")
        model = build_me_resnet(DEMO_SHAPE, 3, ResNetOptions(blocks=(1, 1, 1, 1), width=4, cbam_reduction=4))
        assert model.get_layer("conv1_conv").compute_dtype == "bfloat16"
        assert model.get_layer("predictions").compute_dtype == "float32"
        assert model.predict(np.ones((1,) + DEMO_SHAPE, "float32"), verbose=0).dtype == np.float32
    finally:
        keras.config.set_dtype_policy(previous)
