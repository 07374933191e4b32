"""SAMM loader on tiny generated trees: 13-row preamble, '006' subjects, 4/5-digit frames, bad apex rows."""

from __future__ import annotations

import pytest

from me_resnet.data.loading import load_samm
from tests.support.trees import SAMM_HEADER, by_clip, make_samm, write_megc_list, write_samm_sheet

ROWS = [
    ("006", "006_1_2", 5562, 5564, 5566, "Anger"),
    (6, "006_1_3", 9998, 9999, 10002, "Happiness"),  # int subject; frames 09998 .. 10002 (4 -> 5 digits)
    ("028", "028_4_1", 1071, 1079, 1074, "Contempt"),  # apex > offset
    ("032", "032_3_1", 4896, 1930, 4900, "Surprise"),  # apex < onset
    ("032", "032_3_2", 200, 201, 202, "Other"),
]
MEGC = [
    ("samm", "6", "006_1_2", 0),
    ("samm", "6", "006_1_3", 1),
    ("samm", "28", "028_4_1", 0),
    ("samm", "32", "032_3_1", 2),
    ("casme2", "sub01", "EP02_01f", 1),
]


@pytest.fixture
def megc(tmp_path):
    return write_megc_list(tmp_path / "megc.csv", MEGC)


def test_megc2019_repairs_bad_apex_rows(tmp_path, megc):
    result = load_samm(make_samm(tmp_path / "samm", ROWS), megc_list=megc)
    records = by_clip(result)
    assert list(records) == ["006_1_2", "006_1_3", "028_4_1", "032_3_1"]
    assert records["006_1_2"].subject == "006"
    assert records["028_4_1"].apex == 1072 and records["032_3_1"].apex == 4898  # middle frames
    assert records["028_4_1"].problems and records["006_1_2"].problems == ()
    repaired = [p for p in result.problems if "repaired" in p]
    assert len(repaired) == 2 and "SAMM_Micro_FACS_Codes_v2.xlsx row 17" in repaired[0]  # rows 15.. after header row 14
    assert any("1 coding-sheet rows not in the megc2019 list" in p for p in result.problems)
    assert {r.label for r in records.values()} == {0, 1, 2}


def test_bad_apex_drop(tmp_path, megc):
    result = load_samm(make_samm(tmp_path / "samm", ROWS), megc_list=megc, bad_apex="drop")
    assert list(by_clip(result)) == ["006_1_2", "006_1_3"]
    assert sum("dropped" in p for p in result.problems) == 2


def test_four_and_five_digit_frame_numbers_in_numeric_order(tmp_path, megc):
    record = by_clip(load_samm(make_samm(tmp_path / "samm", ROWS), megc_list=megc))["006_1_3"]
    assert record.frame_numbers == (9998, 9999, 10000, 10001, 10002)
    names = [p.rsplit("/", 1)[1] for p in record.frame_paths]
    assert names[0] == "006_09998.jpg" and names[-1] == "006_10002.jpg"


def test_paper_protocol_samm_emotions(tmp_path):
    result = load_samm(make_samm(tmp_path / "samm", ROWS, nested=False), protocol="paper_extended")
    labels = {c: r.label for c, r in by_clip(result).items()}
    assert labels == {"006_1_2": 0, "006_1_3": 1, "028_4_1": 0, "032_3_1": 2}  # anger, contempt negative
    assert any("excluded by the paper_extended protocol: Other 1" in p for p in result.problems)


def test_row_without_folder_and_folder_without_row(tmp_path, megc):
    root = make_samm(tmp_path / "samm", ROWS, skip=("006_1_3",))
    (root / "SAMM" / "007" / "007_7_7").mkdir(parents=True)
    result = load_samm(root, megc_list=megc)
    assert "006_1_3" not in by_clip(result)
    text = "\n".join(result.problems)
    assert "006/006_1_3: row without folder" in text and "007/007_7_7: folder without a coding-sheet row" in text


def test_missing_sheet_and_missing_column(tmp_path):
    root = make_samm(tmp_path / "samm", ROWS)
    write_samm_sheet(root / "SAMM_Micro_FACS_Codes_v2.xlsx", ROWS, sheet_name="Sheet1")
    with pytest.raises(ValueError, match="MICRO_ONLY"):
        load_samm(root)
    header = [h if h != "Onset Frame" else "Onset" for h in SAMM_HEADER]
    write_samm_sheet(root / "SAMM_Micro_FACS_Codes_v2.xlsx", ROWS, header=header)
    with pytest.raises(
        ValueError, match=r"SAMM_Micro_FACS_Codes_v2.xlsx: missing required column\(s\) \['Onset Frame'\]"
    ):
        load_samm(root)


def test_missing_annotation_and_root(tmp_path):
    root = make_samm(tmp_path / "samm", ROWS)
    (root / "SAMM_Micro_FACS_Codes_v2.xlsx").unlink()
    with pytest.raises(FileNotFoundError, match="SAMM_Micro_FACS_Codes_v2.xlsx"):
        load_samm(root)
    with pytest.raises(FileNotFoundError, match="no_samm_here"):
        load_samm(tmp_path / "no_samm_here")
