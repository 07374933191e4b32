"""2D -> 3D inflation by layer name (me_resnet/inflation.py), "boring video" checks."""

import logging

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from me_resnet.models.cbam import CBAM  # noqa: E402
from me_resnet.models.inflation import inflate_conv_kernel, inflate_weights  # noqa: E402
from me_resnet.models.resnet import (  # noqa: E402
    ResNetOptions,
    build_me_resnet,
    build_resnet3d,
    build_resnet50_2d,
    load_inflated,
)

SIZE, FRAMES = 32, 5
SMALL = {"blocks": (1, 1, 1, 1), "width": 4, "cbam_reduction": 2}


def _randomise_batch_norm(model, seed=0):
    """Give every BN non-trivial statistics so copying them is actually tested."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, variance = layer.get_weights()
            layer.set_weights(
                [
                    rng.uniform(0.5, 1.5, gamma.shape),
                    rng.normal(0, 0.1, beta.shape),
                    rng.normal(0, 0.1, mean.shape),
                    rng.uniform(0.5, 2.0, variance.shape),
                ]
            )


def _boring_video(frame, frames=FRAMES):
    return np.repeat(frame[:, np.newaxis], frames, axis=1)


def _model_2d(seed=0):
    keras.utils.set_random_seed(seed)
    model = build_resnet50_2d((SIZE, SIZE, 3), 3, ResNetOptions(**SMALL), cbam=True)
    _randomise_batch_norm(model, seed)
    return model


def test_inflate_conv_kernel_repeats_and_divides():
    kernel = np.random.default_rng(0).normal(size=(3, 3, 2, 4))
    inflated = inflate_conv_kernel(kernel, 5)
    assert inflated.shape == (5, 3, 3, 2, 4)
    np.testing.assert_allclose(inflated.sum(axis=0), kernel)
    np.testing.assert_allclose(inflated[2], kernel / 5)
    with pytest.raises(ValueError, match="kh, kw"):
        inflate_conv_kernel(np.zeros((3, 3, 2)), 3)


def test_every_inflated_conv3d_reproduces_its_2d_layer_on_a_boring_video():
    model_2d = _model_2d()
    model_3d = build_me_resnet((FRAMES, SIZE, SIZE, 3), 3, ResNetOptions(**SMALL))
    report = inflate_weights(model_2d, model_3d)
    convs = [layer for layer in model_3d.layers if isinstance(layer, keras.layers.Conv3D)]
    assert {layer.name for layer in convs} <= set(report.inflated)
    rng = np.random.default_rng(1)
    for layer_3d in convs:
        layer_2d = model_2d.get_layer(layer_3d.name)
        frame = rng.normal(size=(1,) + tuple(layer_2d.input.shape[1:])).astype("float32")
        expected = keras.ops.convert_to_numpy(layer_2d(frame))[0]
        output = keras.ops.convert_to_numpy(layer_3d(_boring_video(frame)))[0]
        kt = layer_3d.kernel_size[0]
        half = kt // 2 if layer_3d.padding == "same" else 0
        interior = range(half, output.shape[0] - half)  # time windows that see no zero padding
        assert len(interior) > 0, layer_3d.name
        for t in interior:
            np.testing.assert_allclose(output[t], expected, rtol=1e-4, atol=1e-4, err_msg=f"{layer_3d.name} t={t}")


def test_inflated_cbam_reproduces_2d_cbam_on_a_boring_video():
    model_2d = _model_2d()
    model_3d = build_me_resnet((FRAMES, SIZE, SIZE, 3), 3, ResNetOptions(**SMALL))
    inflate_weights(model_2d, model_3d)
    cbam_2d, cbam_3d = model_2d.get_layer("conv2_block1_cbam"), model_3d.get_layer("conv2_block1_cbam")
    assert cbam_3d.spatial_conv.kernel.shape == (7, 7, 7, 2, 1)
    frame = np.random.default_rng(2).normal(size=(1, 8, 8, cbam_2d.mlp_out.units)).astype("float32")
    expected = keras.ops.convert_to_numpy(cbam_2d(frame))[0]
    output = keras.ops.convert_to_numpy(cbam_3d(_boring_video(frame, frames=9)))[0]
    for t in range(3, 6):  # a 7-frame temporal window fits inside 9 frames only at t = 3..5
        np.testing.assert_allclose(output[t], expected, rtol=1e-4, atol=1e-5)


def test_frame_wise_3d_model_gives_the_2d_model_outputs():
    model_2d = _model_2d(seed=3)
    frame_wise = ResNetOptions(**SMALL, temporal_kernel=1, cbam_temporal_kernel=1)
    model_3d = build_resnet3d((FRAMES, SIZE, SIZE, 3), 3, frame_wise, cbam=True)
    report = inflate_weights(model_2d, model_3d)
    assert report.skipped == {"predictions": "classifier head (replaced)"} and not report.mismatched
    model_3d.get_layer("predictions").set_weights(model_2d.get_layer("predictions").get_weights())
    frames = np.random.default_rng(4).normal(size=(2, SIZE, SIZE, 3)).astype("float32")
    features_2d = keras.Model(model_2d.input, model_2d.get_layer("avg_pool").output).predict(frames, verbose=0)
    features_3d = keras.Model(model_3d.input, model_3d.get_layer("avg_pool").output).predict(
        _boring_video(frames), verbose=0
    )
    np.testing.assert_allclose(features_3d, features_2d, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(
        model_3d.predict(_boring_video(frames), verbose=0), model_2d.predict(frames, verbose=0), rtol=1e-4, atol=1e-6
    )


def test_report_accounts_for_every_weighted_layer_and_logs(caplog):
    model_2d = _model_2d()
    model_3d = build_resnet3d((FRAMES, SIZE, SIZE, 3), 3, ResNetOptions(**SMALL))  # no CBAM in 3D
    with caplog.at_level(logging.INFO, logger="me_resnet.models.inflation"):
        report = inflate_weights(model_2d, model_3d)
    weighted = {layer.name for layer in model_3d.layers if layer.weights}
    accounted = set(report.inflated) | set(report.copied) | set(report.skipped)
    assert accounted == weighted and not report.mismatched
    assert set(report.unused_source) == {layer.name for layer in model_2d.layers if isinstance(layer, CBAM)}
    assert "conv2_block1_1_bn" in report.copied and "conv1_conv" in report.inflated
    np.testing.assert_array_equal(
        model_3d.get_layer("conv1_bn").get_weights()[2], model_2d.get_layer("conv1_bn").get_weights()[2]
    )
    assert "conv1_conv inflated" in caplog.text and "predictions skipped" in caplog.text


def test_width_mismatch_is_reported_and_refused(tmp_path):
    model_2d = _model_2d()
    wider = ResNetOptions(blocks=SMALL["blocks"], width=8, cbam_reduction=2)
    other = build_me_resnet((FRAMES, SIZE, SIZE, 3), 3, wider)
    report = inflate_weights(model_2d, other)
    assert report.mismatched and any(entry.startswith("conv1_conv") for entry in report.mismatched)
    path = tmp_path / "narrow.keras"
    model_2d.save(path)
    with pytest.raises(ValueError, match="narrow.keras"):
        load_inflated(other, path)
