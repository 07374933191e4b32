"""One entry to the micro-expression loaders (me_resnet/data/loading.py): config switches and dataset roots."""

from __future__ import annotations

import dataclasses

import pytest

from me_resnet.config import Config
from me_resnet.data.loading import dataset_roots, load_dataset
from tests.data.test_casme2 import ROWS
from tests.support.trees import make_casme2


@pytest.fixture
def tree(tmp_path):
    return make_casme2(tmp_path / "CASME2", ROWS, skip=("EP03_01",))


def test_load_dataset_uses_config_switches(tree):
    config = dataclasses.replace(Config(), protocol="paper_extended", bad_apex="drop")
    result = load_dataset("casme2", tree, config)
    assert result.dataset == "casme2"
    assert sorted(record.clip for record in result.records) == ["EP02_01f", "EP06_02_01", "EP09f", "EP19_05f"]
    with pytest.raises(ValueError, match="'casme3'"):
        load_dataset("casme3", tree, config)


def test_smic_has_no_annotation_file(tmp_path):
    with pytest.raises(ValueError, match="SMIC has no annotation file; got annotations='sheet.xlsx'"):
        load_dataset("smic", tmp_path, Config(), annotations="sheet.xlsx")


def test_dataset_roots_prefer_arguments_to_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("ME_RESNET_CASME2", str(tmp_path / "from_env_casme2"))
    monkeypatch.setenv("ME_RESNET_SAMM", str(tmp_path / "from_env_samm"))
    monkeypatch.delenv("ME_RESNET_SMIC", raising=False)
    roots = dataset_roots(casme2=tmp_path / "given")
    assert roots == {"casme2": tmp_path / "given", "samm": tmp_path / "from_env_samm"}  # absent SMIC left out
