"""A LOSO run directory (me_resnet/evaluation/run_dir.py): its identity, lock, fold files and their checks.

Runs that resume, wait on and refuse run directories are in ``test_experiment.py`` and ``test_faults.py``.
"""

from __future__ import annotations

import dataclasses
import json

import pandas as pd
import pytest

from me_resnet.config import DEMO
from me_resnet.evaluation import run_dir
from me_resnet.utils.io import TEMPORARY_SUFFIX
from tests.support.tiny import tiny_features


def fold_table(clips, **changes) -> pd.DataFrame:
    rows = [
        {"dataset": "samm", "subject": "006", "clip": clip, "y_true": 0, "y_pred": 1, "prob_negative": 0.2}
        | {"prob_positive": 0.7, "prob_surprise": 0.1, "fold": 0, "seed": 1, "epochs_trained": 3, "model": "m"}
        | {"early_stop_on": "train", "optimistic": False}
        for clip in clips
    ]
    return pd.DataFrame(rows).assign(**changes)[list(run_dir.PREDICTION_COLUMNS)]


def test_a_fold_file_reads_back_with_its_types_and_leading_zeros(tmp_path):
    path = run_dir.fold_file(tmp_path, 3, "samm/006 a")
    assert path.name == "fold_003_samm-006-a.csv"
    fold_table(["006_1_2", "007"]).to_csv(path, index=False)
    table = run_dir.read_fold_file(path, ["006_1_2", "007"])
    assert table["subject"].tolist() == ["006", "006"] and table["clip"].tolist() == ["006_1_2", "007"]
    assert table["y_pred"].dtype == int and table["optimistic"].dtype == bool


def test_a_damaged_fold_file_is_an_error_saying_what_is_wrong(tmp_path):
    path = tmp_path / "fold.csv"
    fold_table(["a", "b"]).drop(columns="seed").to_csv(path, index=False)
    with pytest.raises(ValueError, match=r"fold\.csv: columns .* != "):
        run_dir.read_fold_file(path, ["a", "b"])
    fold_table(["a"]).to_csv(path, index=False)  # truncated after one row
    with pytest.raises(ValueError, match="1 rows / clips do not match the 2 expected test clips"):
        run_dir.read_fold_file(path, ["a", "b"])
    fold_table(["a", "b"]).assign(prob_positive=[0.5, None]).to_csv(path, index=False)
    with pytest.raises(ValueError, match=r"missing values in \['prob_positive'\]"):
        run_dir.read_fold_file(path, ["a", "b"])
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ValueError, match="unreadable"):
        run_dir.read_fold_file(path, ["a", "b"])


def test_resume_reads_a_finished_fold_and_recomputes_a_corrupt_one(tmp_path):
    assert run_dir.resume_fold(tmp_path, 0, "g", ["a"]) == (None, None)
    path = run_dir.fold_file(tmp_path, 0, "g")
    fold_table(["a"]).to_csv(path, index=False)
    table, info = run_dir.resume_fold(tmp_path, 0, "g", ["a"])  # no sidecar: info from the table
    assert table["clip"].tolist() == ["a"] and info == {"fold": 0, "group": "g", "epochs_trained": 3, "resumed": True}
    path.with_suffix(".json").write_text(json.dumps({"fold": 0, "note": "sidecar"}))
    assert run_dir.resume_fold(tmp_path, 0, "g", ["a"])[1] == {"fold": 0, "note": "sidecar", "resumed": True}
    assert run_dir.resume_fold(tmp_path, 0, "g", ["a", "b"]) == (None, None)  # clips differ: recomputed


def test_prepare_run_dir_names_every_differing_key(tmp_path):
    features = tiny_features(subjects=2)
    run_dir.prepare_run_dir(tmp_path, DEMO, "me_resnet", features)
    stored = json.loads((tmp_path / "config.json").read_text())
    assert stored["model"] == "me_resnet" and stored["features"] == run_dir.features_fingerprint(features)
    run_dir.prepare_run_dir(tmp_path, DEMO, "me_resnet", features)  # the same run: accepted
    with pytest.raises(run_dir.RunDirMismatch, match=r"differing keys \['config\.seed', 'model'\]: config\.seed: "):
        run_dir.prepare_run_dir(tmp_path, dataclasses.replace(DEMO, seed=DEMO.seed + 1), "ststnet", features)
    (tmp_path / "config.json").write_text("{")
    with pytest.raises(ValueError, match="config.json is not valid JSON"):
        run_dir.prepare_run_dir(tmp_path, DEMO, "me_resnet", features)


def test_features_fingerprint_sees_one_changed_value_and_one_renamed_clip():
    features = tiny_features(subjects=2)
    base = run_dir.features_fingerprint(features)
    assert base == run_dir.features_fingerprint(tiny_features(subjects=2))
    changed = tiny_features(subjects=2)
    changed.X[1, 2, 3, 0] += 1e-3
    renamed = tiny_features(subjects=2)
    renamed.clips[0] = "other"
    assert [k for k in base if base[k] != run_dir.features_fingerprint(changed)[k]] == ["x_hash"]
    assert [k for k in base if base[k] != run_dir.features_fingerprint(renamed)[k]] == ["clips_hash"]


def test_pretrained_weights_are_identified_by_content(tmp_path):
    assert run_dir.pretrained_sha256(DEMO) is None
    weights = tmp_path / "w.keras"
    weights.write_bytes(b"abc")
    config = dataclasses.replace(DEMO, pretrained=str(weights))
    # sha256("abc"), FIPS 180-2 appendix B.1
    assert run_dir.pretrained_sha256(config) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    with pytest.raises(FileNotFoundError, match=r"pretrained weights '.*absent\.keras' \(config\.pretrained\)"):
        run_dir.pretrained_sha256(dataclasses.replace(DEMO, pretrained=str(tmp_path / "absent.keras")))


def test_the_lock_refuses_a_second_open_in_this_process_and_records_its_owner(tmp_path):
    lock = run_dir.RunDirLock(tmp_path / "run").acquire()
    try:
        owner = json.loads((tmp_path / "run" / run_dir.OWNER_NAME).read_text())
        assert set(owner) == {"pid", "host", "since"}
        with pytest.raises(RuntimeError, match="already open in this process"):
            run_dir.RunDirLock(tmp_path / "run").acquire()
    finally:
        lock.release()
    again = run_dir.RunDirLock(tmp_path / "run").acquire(timeout=0)  # released: free again
    again.release()


def test_remove_temporary_files_leaves_finished_ones(tmp_path):
    (tmp_path / f"fold_000_a.csv{TEMPORARY_SUFFIX}").write_text("half")
    (tmp_path / "fold_000_a.csv").write_text("whole")
    assert [path.name for path in run_dir.remove_temporary_files(tmp_path)] == [f"fold_000_a.csv{TEMPORARY_SUFFIX}"]
    assert [path.name for path in tmp_path.iterdir()] == ["fold_000_a.csv"]
