import dataclasses
import hashlib
import json
import time

import numpy as np
import pandas as pd
import pytest

from me_resnet.evaluation import runner
from me_resnet.evaluation.folds import FoldSplit, LeakageError, check_no_leak, loso_splits
from me_resnet.evaluation.loso import run_loso
from me_resnet.evaluation.metrics import compute_metrics
from me_resnet.evaluation.run_dir import PREDICTION_COLUMNS, prepare_run_dir
from me_resnet.training.augment import augment_4x
from me_resnet.training.fold import channel_stats
from tests.support.tiny import FAST, tiny_build, tiny_features


def test_predictions_table_one_row_per_clip():
    features = tiny_features(subjects=4)
    table = run_loso(features, "tiny", FAST, build_fn=tiny_build, progress=False)
    assert tuple(table.columns) == PREDICTION_COLUMNS
    assert sorted(table["clip"]) == sorted(features.clips) and len(table) == len(features)
    assert (table.groupby("subject").fold.nunique() == 1).all() and table.fold.nunique() == 4
    assert set(table.model) == {"tiny"} and set(table.early_stop_on) == {"val"} and not table.optimistic.any()
    np.testing.assert_array_equal(
        table.y_pred, table[["prob_negative", "prob_positive", "prob_surprise"]].to_numpy().argmax(1)
    )
    again = run_loso(features, "tiny", FAST, build_fn=tiny_build, progress=False)
    pd.testing.assert_frame_equal(table, again, check_exact=True)  # same seed, same predictions


def test_no_test_subject_in_training_validation_stats_or_alpha(monkeypatch):
    features = tiny_features(subjects=5)
    seen = []
    real_train_fold = runner.train_fold

    def spy(train, val, test, config, **kwargs):
        result = real_train_fold(train, val, test, config, **kwargs)
        seen.append((set(test.groups), set(train.groups), set(val.groups), train, result))
        return result

    monkeypatch.setattr(runner, "train_fold", spy)
    run_loso(features, "tiny", FAST, build_fn=tiny_build, progress=False)
    assert len(seen) == 5
    for test_groups, train_groups, val_groups, train, result in seen:
        (group,) = test_groups
        assert group not in train_groups | val_groups and val_groups and not train_groups & val_groups
        assert result.alpha_keys == result.fit_keys
        for keys in (result.fit_keys, result.val_keys, result.stats_keys, result.alpha_keys):
            assert not any(key.startswith(group + "/") for key in keys)
        # the statistics really are those of the (augmented) training clips and nothing else
        mean, std = channel_stats(augment_4x(train.X, train.y, train.channels)[0])
        np.testing.assert_array_equal(result.mean, mean)
        np.testing.assert_array_equal(result.std, std)


def test_leak_check_raises():
    features = tiny_features(subjects=3)
    group, train_index, test_index = loso_splits(features)[0]
    with pytest.raises(LeakageError, match="overlap"):
        check_no_leak(features, FoldSplit(0, group, np.append(train_index, test_index[0]), None, test_index))
    bad_val = np.flatnonzero(features.groups == group)[:1] + 0
    with pytest.raises(LeakageError):
        check_no_leak(features, FoldSplit(0, group, train_index, bad_val, test_index))


def test_optimistic_protocol_is_labelled(tmp_path):
    config = dataclasses.replace(FAST, early_stop_on="test")
    table = run_loso(tiny_features(subjects=3), "tiny", config, run_dir=tmp_path, build_fn=tiny_build, progress=False)
    assert table.optimistic.all() and set(table.early_stop_on) == {"test"}
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["optimistic"] is True and manifest["status"] == "finished"
    assert compute_metrics(table, bootstrap_resamples=0).optimistic.all()


def test_folds_by_index_or_group_name():
    features = tiny_features(subjects=4)
    table = run_loso(features, "tiny", FAST, folds=[0, "casme2/003"], build_fn=tiny_build, progress=False)
    assert sorted(set(table.subject)) == ["000", "003"]
    with pytest.raises(ValueError, match=r"folds \['casme2/999'\] name no fold"):
        run_loso(features, "tiny", FAST, folds=["casme2/999"], build_fn=tiny_build, progress=False)
    with pytest.raises(ValueError, match=r"folds \[4\] name no fold.*0-3"):
        run_loso(features, "tiny", FAST, folds=[4], build_fn=tiny_build, progress=False)


def test_truncated_fold_file_is_recomputed(tmp_path):
    features = tiny_features(subjects=3)
    reference = run_loso(features, "tiny", FAST, run_dir=tmp_path, build_fn=tiny_build, progress=False)
    fold_path = sorted(tmp_path.glob("fold_*.csv"))[1]
    text = fold_path.read_text()
    fold_path.write_text(text[: len(text) - 30])  # cut inside the last row
    calls = []
    counting_build = lambda *args: calls.append(args) or tiny_build(*args)  # noqa: E731
    again = run_loso(features, "tiny", FAST, run_dir=tmp_path, build_fn=counting_build, progress=False)
    assert len(calls) == 1
    pd.testing.assert_frame_equal(again, reference, check_exact=True)
    fold_path.write_text("garbage\n")
    run_loso(features, "tiny", FAST, run_dir=tmp_path, build_fn=counting_build, progress=False)
    assert len(calls) == 2


def test_run_dir_of_another_run_is_refused(tmp_path):
    features = tiny_features(subjects=3)
    run_loso(features, "tiny", FAST, run_dir=tmp_path, folds=[0], build_fn=tiny_build, progress=False)
    with pytest.raises(ValueError, match=r"config\.learning_rate"):
        run_loso(features, "tiny", dataclasses.replace(FAST, learning_rate=0.5), run_dir=tmp_path, build_fn=tiny_build)
    changed = tiny_features(subjects=3, seed=1)
    with pytest.raises(ValueError, match=r"features\.x_hash"):
        run_loso(changed, "tiny", FAST, run_dir=tmp_path, build_fn=tiny_build)
    with pytest.raises(ValueError, match="model"):
        run_loso(features, "other", FAST, run_dir=tmp_path, build_fn=tiny_build)
    assert len(list(tmp_path.glob("fold_*.csv"))) == 1  # the refused runs wrote nothing


def test_pretrained_weights_are_identified_by_content(tmp_path):
    features = tiny_features(subjects=3)
    weights = tmp_path / "pretrained.keras"
    weights.write_bytes(b"weights of the first pretraining")
    config = dataclasses.replace(FAST, pretrained=str(weights))
    prepare_run_dir(tmp_path / "run", config, "tiny", features)
    identity = json.loads((tmp_path / "run" / "config.json").read_text())
    assert identity["pretrained_sha256"] == hashlib.sha256(weights.read_bytes()).hexdigest()
    prepare_run_dir(tmp_path / "run", config, "tiny", features)  # same weights: the same run
    weights.write_bytes(b"weights of a second pretraining, same path")
    with pytest.raises(ValueError, match="pretrained_sha256"):
        prepare_run_dir(tmp_path / "run", config, "tiny", features)
    weights.unlink()
    with pytest.raises(FileNotFoundError, match="pretrained.keras"):
        prepare_run_dir(tmp_path / "other", config, "tiny", features)


def test_manifest_records_fallbacks(tmp_path):
    features = tiny_features(subjects=3)
    features.fallbacks = {"face_not_found": ["casme2/001/c5"], "repeated_frames": []}
    run_loso(features, "tiny", FAST, run_dir=tmp_path, folds=[0], build_fn=tiny_build, progress=False)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["fallbacks"] == {
        "face_not_found": {"count": 1, "clips": ["casme2/001/c5"]},
        "repeated_frames": {"count": 0, "clips": []},
    }


def test_bad_inputs():
    features = tiny_features(subjects=3)
    features.X[5, 1, 1, 1] = np.inf
    with pytest.raises(ValueError, match="casme2/001/c5"):
        run_loso(features, "tiny", FAST, build_fn=tiny_build, progress=False)
    with pytest.raises(ValueError, match="at least 2 subjects"):
        run_loso(tiny_features(subjects=1), "tiny", FAST, build_fn=tiny_build, progress=False)


def test_single_clip_subject_and_subject_ids_kept_as_text(tmp_path):
    features = tiny_features(subjects=4)
    keep = np.r_[0:12, 12]  # subject 003 has a single clip
    table = run_loso(features.subset(keep), "tiny", FAST, run_dir=tmp_path, build_fn=tiny_build, progress=False)
    assert (table.subject == "003").sum() == 1
    assert set(table.subject) == {"000", "001", "002", "003"}  # "003" did not become 3 on the way through CSV


@pytest.fixture(scope="module")
def demo_casme2_features(tmp_path_factory):
    """Demo CASME II sequence features, generated and cached in a private tmp dir."""
    from me_resnet.config import DEMO
    from me_resnet.data.demo import ensure_demo_data
    from me_resnet.data.loading import load_casme2
    from me_resnet.preprocessing.features import extract_features

    cache = tmp_path_factory.mktemp("me_resnet_cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ME_RESNET_CACHE", str(cache))
        root = ensure_demo_data(cache / "demo")
        records = load_casme2(root / "casme2").records
        return extract_features(records, DEMO, kind="sequence", cache_dir=cache / "features", workers=1, progress=False)


@pytest.mark.slow
def test_end_to_end_demo_casme2_me_resnet_above_chance(demo_casme2_features, tmp_path):
    """Real ME-ResNet, focal loss, 4x augmentation and the demo profile's fixed epochs on the demo CASME II."""
    from me_resnet.config import DEMO

    started = time.monotonic()
    predictions = run_loso(demo_casme2_features, "me_resnet", DEMO, run_dir=tmp_path, progress=False)
    metrics = compute_metrics(predictions, bootstrap_resamples=DEMO.bootstrap_resamples).set_index("dataset")
    print(metrics.to_string(), f"\n{time.monotonic() - started:.0f} s")
    assert len(predictions) == len(demo_casme2_features) and not predictions.optimistic.any()
    # The demo data are calibrated to be as hard as real clips (docs/demo_data.md), and each fold trains the small
    # demo model on four subjects' clips: this asserts learning above chance (about 1/3 for three balanced
    # classes), not a high score.
    assert metrics.loc["casme2", "uf1"] >= 0.4
    assert metrics.loc["casme2", "uar"] >= 0.4
