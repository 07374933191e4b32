"""Fer2013 pretraining (me_resnet/pretrain.py, reproduce/pretrain_fer2013.py) and its inflation."""

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from me_resnet.config import DEMO  # noqa: E402
from me_resnet.models.cbam import CBAM  # noqa: E402
from me_resnet.models.resnet import ResNetOptions, build_me_resnet, load_inflated  # noqa: E402
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


@pytest.mark.slow
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
    options = ResNetOptions(blocks=TINY.blocks, width=TINY.width, cbam_reduction=TINY.cbam_reduction)
    model_3d = build_me_resnet((5, 24, 24, 3), 3, options)
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
    from_builder = build_me_resnet((5, 24, 24, 3), 3, options, pretrained=weights)
    np.testing.assert_array_equal(
        from_builder.get_layer("conv1_conv").kernel.numpy(), model_3d.get_layer("conv1_conv").kernel.numpy()
    )


@pytest.fixture
def fake_pretraining(monkeypatch, tmp_path):
    """``pretrain_fer2013`` replaced by an untrained tiny twin, calls counted (the caching is tested, not the fit)."""
    from me_resnet.training import pretrain

    monkeypatch.setenv("ME_RESNET_CACHE", str(tmp_path / "cache"))
    calls = []

    def fake(data, config, verbose=0):
        calls.append(len(data))
        model = pretrain.build_pretrain_model(config)
        return pretrain.PretrainResult(model=model, accuracy={"train": 0.5}, counts={"train": len(data)})

    monkeypatch.setattr(pretrain, "pretrain_fer2013", fake)
    return calls


def test_ensure_pretrained_trains_once_per_content_and_config(fake_pretraining, tmp_path, caplog):
    from me_resnet.training import pretrain

    calls = fake_pretraining
    csv = _write_fer_csv(tmp_path / "fer2013.csv")
    path, sha256 = pretrain.ensure_pretrained(csv, TINY)
    assert path.is_file() and sha256 == pretrain.file_sha256(path) and len(calls) == 1
    record = json.loads(path.with_suffix(".json").read_text())
    assert record["weights_sha256"] == sha256 and record["synthetic"] is False
    assert record["data_sha256"] == pretrain.data_fingerprint(pretrain.load_fer2013(csv))
    assert pretrain.ensure_pretrained(csv, TINY) == (path, sha256) and len(calls) == 1  # cached
    moved = tmp_path / "copy" / "fer2013.csv"  # same content elsewhere: same key
    moved.parent.mkdir()
    moved.write_bytes(csv.read_bytes())
    assert pretrain.ensure_pretrained(moved, TINY)[0] == path and len(calls) == 1
    other_data = _write_fer_csv(tmp_path / "other.csv", seed=1)
    assert pretrain.ensure_pretrained(other_data, TINY)[0] != path and len(calls) == 2
    other_config = dataclasses.replace(TINY, learning_rate=TINY.learning_rate / 2)
    assert pretrain.ensure_pretrained(csv, other_config)[0] != path and len(calls) == 3
    assert pretrain.ensure_pretrained(csv, dataclasses.replace(TINY, num_frames=9))[0] == path  # not a 2D field
    path.write_bytes(path.read_bytes() + b"x")  # a damaged file is never used
    again, repaired = pretrain.ensure_pretrained(csv, TINY)
    assert again == path and len(calls) == 4 and repaired == pretrain.file_sha256(path)
    assert "do not match their record" in caplog.text


def test_apply_pretraining_requires_fer2013_or_an_explicit_opt_out(fake_pretraining, tmp_path):
    from me_resnet.training import pretrain

    with pytest.raises(pretrain.PretrainingMissing, match=r"pass fer2013 .*pretraining=False"):
        pretrain.apply_pretraining(TINY)
    unpretrained = pretrain.apply_pretraining(TINY, pretraining=False)
    assert unpretrained.pretrained is None
    assert pretrain.pretraining_label(unpretrained) == "no Fer2013 pretraining (deviation from the paper)"
    config = pretrain.apply_pretraining(TINY, fer2013=_write_fer_csv(tmp_path / "fer2013.csv"))
    assert config.pretrained and pretrain.pretraining_label(config).startswith("Fer2013-pretrained")
    model = build_me_resnet((3, 24, 24, 3), 3, ResNetOptions(blocks=(1, 1, 1, 1), width=4, cbam_reduction=2))
    assert load_inflated(model, config.pretrained).inflated  # what every fold's model gets
    given = dataclasses.replace(TINY, pretrained=config.pretrained)
    assert pretrain.apply_pretraining(given) is given  # the user's own weights: nothing to do
    assert len(fake_pretraining) == 1


def test_the_baselines_are_never_pretrained_nor_labelled_a_deviation(fake_pretraining, tmp_path):
    """The paper pretrains ME-ResNet and its Table 4 variants; STSTNet and OFF-ApexNet train from scratch."""
    from me_resnet.models.registry import method_config
    from me_resnet.training import pretrain

    baselines = ["ststnet", "off_apexnet"]
    assert pretrain.apply_pretraining(TINY, methods=baselines) is TINY  # FER2013 neither asked for nor read
    csv = _write_fer_csv(tmp_path / "fer2013.csv")
    assert pretrain.apply_pretraining(TINY, fer2013=csv, methods=baselines) is TINY and fake_pretraining == []
    with pytest.raises(pretrain.PretrainingMissing):
        pretrain.apply_pretraining(TINY, methods=["ststnet", "me_resnet"])
    weighted = pretrain.apply_pretraining(TINY, fer2013=csv, methods=["me_resnet", "ststnet"])
    assert weighted.pretrained and len(fake_pretraining) == 1
    for name in baselines:  # a mixed run's baselines get no weights, and say they never had any
        for config in (weighted, dataclasses.replace(TINY, pretrained=None)):
            own = method_config(name, config)
            assert own.pretrained is None
            assert pretrain.pretraining_label(own) == pretrain.FROM_SCRATCH_LABEL
            assert "deviation" not in pretrain.pretraining_label(own)
    assert pretrain.pretraining_label(method_config("me_resnet", TINY)) == pretrain.NO_PRETRAINING_LABEL


def test_pretraining_on_demo_faces_is_labelled_synthetic(fake_pretraining, tmp_path):
    from me_resnet.data.demo import DATASET_MARKER
    from me_resnet.training import pretrain

    folder = tmp_path / "demo_fer"
    folder.mkdir()
    (folder / DATASET_MARKER).write_text("demo\n")
    config = pretrain.apply_pretraining(TINY, fer2013=_write_fer_csv(folder / "fer2013.csv"))
    assert "SYNTHETIC" in pretrain.pretraining_label(config)
    record = json.loads(Path(config.pretrained).with_suffix(".json").read_text())
    assert record["synthetic"] is True and record["artifact"].startswith("SYNTHETIC")


def test_weights_path_separates_the_fig5_switches(monkeypatch, tmp_path):
    monkeypatch.setenv("ME_RESNET_CACHE", str(tmp_path))
    default = pretrained_weights_path(TINY)
    assert "_" not in default.stem.rsplit("_sigmoid", 1)[1]  # default switches: the plain name
    assert pretrained_weights_path(dataclasses.replace(TINY, shortcut_projection="every_block")) != default
    assert pretrained_weights_path(dataclasses.replace(TINY, num_frames=5)) == default  # not a 2D setting
