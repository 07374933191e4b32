"""The up-front check of a ``.keras`` model file: a model passes, anything else is named before any work."""

from __future__ import annotations

import dataclasses
import zipfile

import keras
import pytest

from me_resnet.config import DEMO
from me_resnet.training.pretrain import apply_pretraining
from me_resnet.utils.keras_files import check_keras_file


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "model.keras"
    keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]).save(path)
    return path


def test_a_saved_model_passes_and_apply_pretraining_keeps_it(model_file):
    assert check_keras_file(model_file) == model_file
    given = dataclasses.replace(DEMO, pretrained=str(model_file))
    assert apply_pretraining(given) is given


def test_anything_else_is_an_error_naming_the_file(model_file, tmp_path):
    junk = tmp_path / "junk.keras"
    junk.write_bytes(b"<html>404</html>")
    truncated = tmp_path / "truncated.keras"
    truncated.write_bytes(model_file.read_bytes()[:200])
    no_config = tmp_path / "weights_only.keras"
    with zipfile.ZipFile(no_config, "w") as archive:
        archive.writestr("model.weights.h5", b"")
    cases = {junk: "not a zip archive", truncated: "not a zip archive", no_config: "no config.json"}
    for path, problem in cases.items():
        with pytest.raises(ValueError, match=f"weights '{path}' is not a Keras .keras model file: {problem}"):
            check_keras_file(path, "weights")
    with pytest.raises(FileNotFoundError, match="missing.keras' does not exist"):
        check_keras_file(tmp_path / "missing.keras")
    with pytest.raises(ValueError, match=r"config\.pretrained"):
        apply_pretraining(dataclasses.replace(DEMO, pretrained=str(junk)))
