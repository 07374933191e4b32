"""Label protocols: the shipped MEGC 2019 list, name canonicalisation, paper mapping."""

from __future__ import annotations

import collections

import pytest

from me_resnet.data.protocols import (
    MEGC2019_LIST,
    PROTOCOL_DESCRIPTIONS,
    PROTOCOLS,
    canonical_clip,
    canonical_subject,
    check_protocol,
    paper_label,
    read_megc2019_list,
)
from tests.support.trees import write_megc_list


def test_shipped_list_has_the_official_442_clips():
    entries = read_megc2019_list()
    assert MEGC2019_LIST.read_bytes().count(b"\r\n") == 442  # CRLF, no header
    expected = {"casme2": (145, [88, 32, 25], 24), "smic": (164, [70, 51, 43], 16), "samm": (133, [92, 26, 15], 28)}
    for dataset, (total, per_class, subjects) in expected.items():
        labels = collections.Counter(entries[dataset].values())
        assert len(entries[dataset]) == total, dataset
        assert [labels[k] for k in (0, 1, 2)] == per_class, dataset
        assert len({subject for subject, _ in entries[dataset]}) == subjects, dataset
    assert sum(len(v) for v in entries.values()) == 442


def test_list_names_are_canonical_folder_names():
    entries = read_megc2019_list()
    assert ("s1", "s1_ne_01") in entries["smic"] and ("s20", "s20_ne_01") in entries["smic"]
    assert ("006", "006_1_2") in entries["samm"]
    assert ("sub01", "EP02_01f") in entries["casme2"]
    assert all(not s.startswith("s0") for s, _ in entries["smic"])


@pytest.mark.parametrize(
    "dataset, given, expected",
    [
        ("casme2", 1, "sub01"),
        ("casme2", "01", "sub01"),
        ("casme2", "sub01", "sub01"),
        ("casme2", 17.0, "sub17"),
        ("samm", 6, "006"),
        ("samm", "006", "006"),
        ("samm", "6", "006"),
        ("smic", "s01", "s1"),
        ("smic", "s1", "s1"),
        ("smic", "s20", "s20"),
    ],
)
def test_canonical_subject(dataset, given, expected):
    assert canonical_subject(dataset, given) == expected


def test_canonical_clip_only_changes_smic_prefix():
    assert canonical_clip("smic", "s01_ne_01") == "s1_ne_01"
    assert canonical_clip("smic", "s10_sur_02") == "s10_sur_02"
    assert canonical_clip("casme2", " EP01_2 ") == "EP01_2"
    assert canonical_clip("samm", "006_1_2") == "006_1_2"


def test_paper_literal_mapping_is_the_texts_list():
    """§3.1: negative = 消极, 压抑, 恐惧, 悲伤; positive = 积极, 快乐; surprise = 惊讶; nothing else."""
    assert paper_label("casme2", "Happiness", "paper_literal") == 1
    for emotion in ("repression", "fear", "sadness"):
        assert paper_label("casme2", emotion, "paper_literal") == 0
    assert paper_label("casme2", "disgust", "paper_literal") is None
    for emotion in ("Anger", "Contempt", "Disgust", "Other"):
        assert paper_label("samm", emotion, "paper_literal") is None
    assert paper_label("samm", "Fear", "paper_literal") == 0 and paper_label("smic", "negative", "paper_literal") == 0


def test_paper_extended_mapping_adds_disgust_anger_contempt():
    assert paper_label("casme2", "Happiness", "paper_extended") == 1
    assert paper_label("casme2", "disgust", "paper_extended") == 0
    assert paper_label("casme2", "others", "paper_extended") is None
    assert (
        paper_label("samm", "Contempt", "paper_extended") == 0 and paper_label("samm", "Anger", "paper_extended") == 0
    )
    assert (
        paper_label("samm", "Other", "paper_extended") is None
        and paper_label("smic", "surprise", "paper_extended") == 2
    )
    with pytest.raises(ValueError, match="'megc2019'"):
        paper_label("casme2", "fear", "megc2019")


def test_every_protocol_is_described():
    assert set(PROTOCOL_DESCRIPTIONS) == set(PROTOCOLS)
    assert "paper" not in PROTOCOLS  # ambiguous: a run names the literal or the extended mapping


def test_malformed_list_line_and_unknown_protocol(tmp_path):
    path = write_megc_list(
        tmp_path / "bad.csv", [("casme2", "sub01", "EP02_01f", 1), ("casme2", "sub01", "EP19_05f", 5)]
    )
    with pytest.raises(ValueError, match=r"bad.csv line 2"):
        read_megc2019_list(path)
    with pytest.raises(FileNotFoundError, match="absent.csv"):
        read_megc2019_list(tmp_path / "absent.csv")
    with pytest.raises(ValueError, match="'megc2018'"):
        check_protocol("megc2018")
