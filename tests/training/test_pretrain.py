"""Fer2013 pretraining (me_resnet/pretrain.py, reproduce/pretrain_fer2013.py) and its inflation."""

import dataclasses
import json

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from me_resnet.config import DEMO  # noqa: E402
from me_resnet.models.cbam import CBAM  # noqa: E402
from me_resnet.models.resnet import build_me_resnet, load_inflated  # noqa: E402
from me_resnet.training.pretrain import Fer2013Batches, fer_inputs, pretrained_weights_path  # noqa: E402
from reproduce import pretrain_fer2013  # noqa: E402

TINY = dataclasses.replace(DEMO, image_size=24, blocks=(1, 1, 1, 1), width=4, cbam_reduction=2, epochs=1, batch_size=8)
USAGE_COUNTS = {"Training": 2, "PublicTest": 1, "PrivateTest": 1}  # images per class


def _write_fer_csv(path, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for usage, per_class in USAGE_COUNTS.items():
        for label in np.repeat(np.arange(7), per_class):
            pixels = rng.integers(0, 256, 48 * 48)
            rows.append(f"{label},{' '.join(map(str, pixels))},{usage}")
    path.write_text("emotion,pixels,Usage\n" + "\n".join(rows) + "\n")
    return path


def test_fer_inputs_resize_standardise_and_replicate():
    images = np.random.default_rng(0).integers(0, 256, (3, 48, 48)).astype(np.uint8)
    x = fer_inputs(images, 32)
    assert x.shape == (3, 32, 32, 3) and x.dtype == np.float32
    np.testing.assert_allclose(x.mean(axis=(1, 2, 3)), 0, atol=1e-4)
    np.testing.assert_allclose(x.std(axis=(1, 2, 3)), 1, atol=1e-3)
    np.testing.assert_array_equal(x[..., 0], x[..., 2])
    with pytest.raises(ValueError, match="grey"):
        fer_inputs(np.zeros((2, 48, 48, 3)), 32)


def test_batches_cover_every_image_once_and_mirror_only_in_training():
    images = np.random.default_rng(1).integers(0, 256, (10, 48, 48)).astype(np.uint8)
    labels = np.arange(10) % 7
    evaluation = Fer2013Batches(images, labels, 16, batch_size=4)
    assert len(evaluation) == 3
    x, y = evaluation[2]
    assert x.shape == (2, 16, 16, 3) and y.shape == (2, 7)
    np.testing.assert_array_equal(np.concatenate([evaluation[i][1] for i in range(3)]).argmax(1), labels)
    np.testing.assert_array_equal(evaluation[0][0], fer_inputs(images[:4], 16))
    training = Fer2013Batches(images, labels, 16, batch_size=10, shuffle=True, seed=0)
    x, y = training[0]
    assert sorted(y.argmax(1)) == sorted(labels)
    reference = fer_inputs(images[training.order], 16)
    mirrored = [not np.allclose(a, b) for a, b in zip(x, reference)]
    assert any(mirrored) and all(np.allclose(a[:, ::-1], b) for a, b, m in zip(x, reference, mirrored) if m)


def test_weights_path_names_the_architecture(monkeypatch, tmp_path):
    monkeypatch.setenv("ME_RESNET_CACHE", str(tmp_path))
    path = pretrained_weights_path(TINY)
    assert path.parent == tmp_path / "pretrained" and path.suffix == ".keras"
    assert path != pretrained_weights_path(dataclasses.replace(TINY, width=8))


def test_script_without_data_exits_2(monkeypatch, capsys):
    monkeypatch.delenv("ME_RESNET_FER2013", raising=False)
    assert pretrain_fer2013.main([]) == 2
    assert "--demo" in capsys.readouterr().err


def test_script_trains_saves_and_the_model_inflates_into_me_resnet(tmp_path, monkeypatch):
    monkeypatch.setenv("ME_RESNET_CACHE", str(tmp_path / "cache"))
    csv = _write_fer_csv(tmp_path / "fer2013.csv")
    out = tmp_path / "results"
    argv = ["--fer2013", str(csv), "--profile", "demo", "--out", str(out)]
    for key in ("image_size", "width", "cbam_reduction", "epochs", "batch_size"):
        argv += [f"--{key}", str(getattr(TINY, key))]
    argv += ["--blocks", "1,1,1,1"]
    assert pretrain_fer2013.main(argv) == 0

    summary = json.loads((out / "summary.json").read_text())
    weights = pretrained_weights_path(TINY)
    assert summary["weights_path"] == str(weights) and weights.is_file()
    assert summary["counts"] == {"train": 14, "validation": 7, "test": 7}
    assert set(summary["accuracy"]) == {"train", "validation", "test"}
    assert all(0.0 <= value <= 1.0 for value in summary["accuracy"].values())
    assert summary["config"]["width"] == TINY.width and "versions" in summary["provenance"]

    model_2d = keras.saving.load_model(weights, compile=False)
    model_3d = build_me_resnet(
        (5, 24, 24, 3), 3, blocks=TINY.blocks, width=TINY.width, cbam_reduction=TINY.cbam_reduction
    )
    report = load_inflated(model_3d, weights)
    weighted = {layer.name for layer in model_3d.layers if layer.weights}
    assert set(report.inflated) | set(report.copied) == weighted - {"predictions"}
    assert report.skipped == {"predictions": "classifier head (replaced)"}
    assert not report.mismatched and not report.unused_source
    cbam_names = {layer.name for layer in model_3d.layers if isinstance(layer, CBAM)}
    assert cbam_names and cbam_names <= set(report.inflated)  # their 7x7 spatial kernels became 7x7x7
    np.testing.assert_allclose(
        model_3d.get_layer("conv2_block1_cbam").mlp_out.kernel.numpy(),
        model_2d.get_layer("conv2_block1_cbam").mlp_out.kernel.numpy(),
    )
    from_builder = build_me_resnet(
        (5, 24, 24, 3), 3, blocks=TINY.blocks, width=TINY.width, cbam_reduction=TINY.cbam_reduction, pretrained=weights
    )
    np.testing.assert_array_equal(
        from_builder.get_layer("conv1_conv").kernel.numpy(), model_3d.get_layer("conv1_conv").kernel.numpy()
    )
