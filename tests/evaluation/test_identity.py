"""What names a LOSO run directory (me_resnet/evaluation/identity.py): seed, config, code, stack and data.

Runs that land in (or resume) the directory these names give are in ``test_experiment.py``.
"""

import dataclasses
import re
import shutil

from me_resnet.config import DEMO
from me_resnet.evaluation import identity
from tests.support.tiny import tiny_features


def test_the_code_fingerprint_follows_the_training_code_on_disk(tmp_path):
    root = tmp_path / "me_resnet"
    shutil.copytree(identity.PACKAGE_ROOT, root, ignore=shutil.ignore_patterns("__pycache__"))
    before = identity.code_fingerprint(root)
    assert before == identity.code_fingerprint(identity.PACKAGE_ROOT)
    names = [path.relative_to(root).as_posix() for path in identity.training_code_files(root)]
    assert "training/fold.py" in names and "models/resnet.py" in names and "evaluation/runner.py" in names
    assert "reporting/tables.py" not in names  # reporting does not decide what a fold predicts

    fold = root / "training" / "fold.py"
    fold.write_text(fold.read_text().replace('"""', '"""Reworded. ', 1) + "\n# a comment\n")
    assert identity.code_fingerprint(root) == before  # docstrings and comments train nothing
    fold.write_text(fold.read_text() + "\nCHANGED = True\n")
    changed = identity.code_fingerprint(root)
    assert changed != before
    (root / "models" / "extra_layer.py").write_text("X = 1\n")  # a new module counts too
    added = identity.code_fingerprint(root)
    assert added not in (before, changed)
    (root / "reporting" / "tables.py").write_text("")  # code outside the training path does not
    assert identity.code_fingerprint(root) == added


def test_config_and_data_hashes_follow_what_the_folds_learn_from(tmp_path):
    assert identity.config_hash(DEMO) == identity.config_hash(dataclasses.replace(DEMO))
    assert identity.config_hash(
        dataclasses.replace(DEMO, learning_rate=DEMO.learning_rate * 2)
    ) != identity.config_hash(DEMO)
    features = tiny_features(subjects=2)
    data = identity.data_hash(features, DEMO)
    assert data == identity.data_hash(tiny_features(subjects=2), DEMO)
    assert data != identity.data_hash(tiny_features(subjects=2, seed=1), DEMO)
    weights = tmp_path / "w.keras"
    weights.write_bytes(b"first")
    with_weights = identity.data_hash(features, dataclasses.replace(DEMO, pretrained=str(weights)))
    weights.write_bytes(b"second pretraining, same path")
    assert (
        len({data, with_weights, identity.data_hash(features, dataclasses.replace(DEMO, pretrained=str(weights)))}) == 3
    )


def test_run_dir_name_holds_every_part():
    name = identity.run_dir_name(dataclasses.replace(DEMO, seed=7), "d4t4")
    match = re.fullmatch(r"seed7-([0-9a-f]{10})-code([0-9a-f]{8})-stack([0-9a-f]{8})-datad4t4", name)
    assert match is not None, name
    assert match.groups() == (
        identity.config_hash(dataclasses.replace(DEMO, seed=7)),
        identity.code_fingerprint(),
        identity.stack_hash(),
    )
