import dataclasses
import json

import numpy as np
import pytest

from me_resnet.data.demo import DATASET_MARKER
from me_resnet.preprocessing.cache import PREPROCESSING_VERSION
from me_resnet.training.final_model import model_card_for, train_final_model
from me_resnet.training.model_card import (
    MIXED,
    REAL,
    SYNTHETIC,
    ModelCardError,
    card_path,
    data_description,
    data_notice,
    find_loso_metrics,
    load_model_with_card,
    read_card,
    save_model_with_card,
)
from tests.support.tiny import TINY, tiny_build, tiny_features


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    features = tiny_features(subjects=5, clips=3)
    config = dataclasses.replace(TINY, model="me_resnet")
    final = train_final_model(features, config, build_fn=tiny_build)
    card = model_card_for(final, features, config, "sequence", results_dir=None)
    path, _ = save_model_with_card(final.model, card, tmp_path_factory.mktemp("model") / "tiny.keras")
    return path, final, features


def test_card_round_trip_gives_the_same_model_and_statistics(saved):
    path, final, features = saved
    model, card = load_model_with_card(path)
    np.testing.assert_allclose(model(features.X[:4]), final.model(features.X[:4]), atol=1e-6)
    assert card["preprocessing_version"] == PREPROCESSING_VERSION
    np.testing.assert_allclose(card["standardisation"]["mean"], final.result.mean, rtol=1e-6)
    np.testing.assert_allclose(card["standardisation"]["std"], final.result.std, rtol=1e-6)
    assert card["input"]["shape"] == [4, 4, 3] and card["input"]["channels"] == ["u", "v", "strain"]
    assert card["datasets"]["casme2"]["clips"] == 15 and card["datasets"]["casme2"]["subjects"] == 5
    assert card["config"]["model"] == "me_resnet" and card["label_protocol"]["classes"][0] == "negative"
    assert card["provenance"]["versions"]["keras"]
    assert card_path(path).name == "tiny.card.json"


def _demo_folder(path):
    path.mkdir(parents=True)
    (path / DATASET_MARKER).write_text("demo\n")
    return path


def test_card_says_what_data_the_model_learnt_and_keeps_it_through_a_round_trip(saved, tmp_path):
    _, final, features = saved
    roots = {"casme2": _demo_folder(tmp_path / "demo" / "casme2")}
    config = dataclasses.replace(TINY, model="me_resnet")
    card = model_card_for(final, features, config, "sequence", data_roots=roots)
    path, _ = save_model_with_card(final.model, card, tmp_path / "model" / "demo.keras")
    _, loaded = load_model_with_card(path)
    assert loaded["data"] == {"kind": SYNTHETIC, "roots": {"casme2": {"path": str(roots["casme2"]), "synthetic": True}}}
    assert "synthetic demo data only" in data_notice(loaded)


def test_data_kind_follows_the_roots_not_the_flags(tmp_path):
    demo, real = _demo_folder(tmp_path / "demo" / "samm"), tmp_path / "SAMM"
    real.mkdir()
    assert data_description({"samm": demo})["kind"] == SYNTHETIC
    assert data_description({"samm": real})["kind"] == REAL
    mixed = {"kind": MIXED, **data_description({"samm": demo, "casme2": real})}
    assert data_description({"samm": demo, "casme2": real})["kind"] == MIXED and "samm" in data_notice({"data": mixed})
    assert data_notice({"data": data_description({"samm": real})}) is None
    assert data_description(None)["kind"] == "unknown" and "does not say" in data_notice({})


def test_early_stopping_holds_out_whole_training_subjects(saved):
    _, final, features = saved
    _, card = load_model_with_card(saved[0])
    held_out = set(card["training"]["val_subjects"])
    assert held_out and held_out == set(final.val_groups)
    assert card["training"]["clips_val"] == int(np.isin(features.groups, list(held_out)).sum())
    assert card["training"]["clips_fit"] + card["training"]["clips_val"] == len(features)
    assert card["training"]["best_epoch"] is not None


def _edit_card(path, **changes):
    card = json.loads(card_path(path).read_text())
    card.update(changes)
    card_path(path).write_text(json.dumps(card))


def test_card_of_another_preprocessing_version_is_refused(saved, tmp_path):
    path = tmp_path / "old.keras"
    path.write_bytes(saved[0].read_bytes())
    card_path(path).write_text(card_path(saved[0]).read_text())
    _edit_card(path, preprocessing_version=PREPROCESSING_VERSION - 1)
    with pytest.raises(ModelCardError, match=f"pre-processing version {PREPROCESSING_VERSION - 1}.*Retrain"):
        load_model_with_card(path)


def test_model_file_that_is_not_the_carded_one_is_refused(saved, tmp_path):
    path = tmp_path / "swapped.keras"
    path.write_bytes(saved[0].read_bytes() + b"\0")
    card_path(path).write_text(card_path(saved[0]).read_text())
    with pytest.raises(ModelCardError, match="sha256 differs"):
        load_model_with_card(path)


def test_missing_or_foreign_card_is_refused(saved, tmp_path):
    path = tmp_path / "bare.keras"
    path.write_bytes(saved[0].read_bytes())
    with pytest.raises(ModelCardError, match="no model card"):
        read_card(path)
    card_path(path).write_text(json.dumps({"format": "something else"}))
    with pytest.raises(ModelCardError, match="not an me_resnet model card"):
        read_card(path)
    with pytest.raises(FileNotFoundError, match="model file not found"):
        load_model_with_card(tmp_path / "absent.keras")


def test_loso_metrics_of_the_same_configuration_are_found(tmp_path):
    config = dataclasses.replace(TINY, model="me_resnet")
    rows = [
        {"method": "me_resnet", "variant": "default", "dataset": "composite", "uf1": 0.7, "uar": 0.6, "n": 9},
        {"method": "me_resnet", "variant": "num_frames=11", "dataset": "composite", "uf1": 0.1, "uar": 0.1, "n": 9},
        {"method": "ststnet", "variant": "default", "dataset": "composite", "uf1": 0.2, "uar": 0.2, "n": 9},
    ]
    document = {"artifact": "table5", "data": "synthetic demo data", "config": TINY.to_dict(), "metrics": rows}
    (tmp_path / "table5").mkdir()
    (tmp_path / "table5" / "metrics.json").write_text(json.dumps(document))
    found = find_loso_metrics(config, tmp_path)
    assert [entry["artifact"] for entry in found] == ["table5"]
    assert found[0]["rows"] == [{"dataset": "composite", "uf1": 0.7, "uar": 0.6, "n": 9}]
    assert find_loso_metrics(dataclasses.replace(config, num_frames=11), tmp_path)[0]["rows"][0]["uf1"] == 0.1
    assert find_loso_metrics(dataclasses.replace(config, width=99), tmp_path) == []
    older_kit = dict(document, config={k: v for k, v in TINY.to_dict().items() if k != "face_align"})
    (tmp_path / "table5" / "metrics.json").write_text(json.dumps(older_kit))
    assert find_loso_metrics(config, tmp_path) == []  # a setting it did not record is not assumed equal
