"""CASME II loader on tiny generated trees (docs/datasets.md quirks, both protocols, both bad_apex modes)."""

from __future__ import annotations

import shutil

import openpyxl
import pytest

from me_resnet.data.loading import load_casme2
from tests.support.trees import by_clip, make_casme2, write_image, write_megc_list

ROWS = [
    ("01", "EP02_01f", 10, 12, 14, "happiness"),
    ("01", "EP19_05f", 20, 21, 23, "disgust"),
    (2, "EP09f", 5, 5, 12, "repression"),  # int subject, apex == onset, frames cross 9 -> 10
    ("04", "EP12_01f", 30, "/", 34, "disgust"),  # apex '/'
    ("05", "EP06_02_01", 1, 3, 4, "surprise"),
    ("05", "EP01_2", 7, 8, 9, "others"),
    ("05", "EP03_01", 100, 101, 103, "fear"),  # no folder on disk
]
MEGC = [
    ("casme2", "sub01", "EP02_01f", 1),
    ("casme2", "sub01", "EP19_05f", 0),
    ("casme2", "sub02", "EP09f", 0),
    ("casme2", "sub04", "EP12_01f", 0),
    ("casme2", "sub05", "EP06_02_01", 2),
    ("casme2", "sub05", "EP03_01", 0),
    ("casme2", "sub26", "EP99_01", 0),  # listed, no sheet row
    ("samm", "6", "006_1_2", 0),
    ("smic", "s01", "s01_ne_01", 0),
]


@pytest.fixture
def tree(tmp_path):
    root = make_casme2(tmp_path / "CASME2", ROWS, skip=("EP03_01",), extra=[("sub09", "EP02_02f", 1, 3)])
    write_image(root / "CASME2_RAW_selected" / "sub01" / "EP02_01f" / "img40.jpg")  # outside onset..offset
    return root


@pytest.fixture
def megc(tmp_path):
    return write_megc_list(tmp_path / "megc.csv", MEGC)


def test_megc2019_selects_listed_clips_with_list_labels(tree, megc):
    result = load_casme2(tree, megc_list=megc)
    records = by_clip(result)
    assert list(records) == ["EP02_01f", "EP19_05f", "EP09f", "EP12_01f", "EP06_02_01"]  # sorted by subject, clip
    assert {c: r.label for c, r in records.items()} == {
        "EP02_01f": 1,
        "EP19_05f": 0,
        "EP09f": 0,
        "EP12_01f": 0,
        "EP06_02_01": 2,
    }
    assert records["EP09f"].subject == "sub02" and records["EP09f"].emotion == "repression"
    text = "\n".join(result.problems)
    assert "sub09/EP02_02f: folder without a coding-sheet row" in text
    assert "sub05/EP03_01: row without folder" in text
    assert "sub26/EP99_01: in the megc2019 list but no row" in text
    assert "1 coding-sheet rows not in the megc2019 list skipped" in text


def test_listed_clips_the_tree_lacks_are_counted_and_a_subset_tree_drops_them_from_problems(tree, megc):
    result = load_casme2(tree, megc_list=megc)
    assert result.listed == 7  # the list's CASME II clips
    assert list(result.listed_absent) == ["sub26/EP99_01"]  # no sheet row (EP03_01 has a row, no folder)
    subset = result.as_subset()  # a tree holding part of the list by design (the demo data)
    assert subset.problems == [p for p in result.problems if "sub26/EP99_01" not in p]
    assert len(subset.problems) == len(result.problems) - 1 and subset.listed_absent == result.listed_absent
    assert any("sub05/EP03_01: row without folder" in p for p in subset.problems)  # still a problem
    assert load_casme2(tree, protocol="paper_extended").listed == 0


def test_frames_run_onset_to_offset_in_numeric_order(tree, megc):
    record = by_clip(load_casme2(tree, megc_list=megc))["EP09f"]
    assert record.frame_numbers == tuple(range(5, 13))
    assert [p.rsplit("/", 1)[1] for p in record.frame_paths] == [f"img{n}.jpg" for n in range(5, 13)]
    assert (record.onset, record.apex, record.offset) == (5, 5, 12)  # apex == onset is valid
    assert record.problems == ()
    first = by_clip(load_casme2(tree, megc_list=megc))["EP02_01f"]
    assert first.frame_numbers == (10, 11, 12, 13, 14)  # img40.jpg outside the range is ignored


def test_slash_apex_repaired_to_middle_and_reported(tree, megc):
    result = load_casme2(tree, megc_list=megc)
    record = by_clip(result)["EP12_01f"]
    assert record.apex == 32  # 30 + (34 - 30) // 2
    assert any("repaired to middle frame 32" in p for p in record.problems)
    assert any("EP12_01f" in p and "repaired" in p for p in result.problems)


def test_slash_apex_dropped_with_bad_apex_drop(tree, megc):
    result = load_casme2(tree, megc_list=megc, bad_apex="drop")
    assert "EP12_01f" not in by_clip(result)
    assert any("EP12_01f" in p and "dropped" in p for p in result.problems)


def test_paper_protocol_maps_emotions_and_counts_exclusions(tree):
    result = load_casme2(tree, protocol="paper_extended")
    labels = {c: r.label for c, r in by_clip(result).items()}
    assert labels == {"EP02_01f": 1, "EP19_05f": 0, "EP09f": 0, "EP12_01f": 0, "EP06_02_01": 2}
    assert any("1 rows excluded by the paper_extended protocol: others 1" in p for p in result.problems)
    assert any("EP03_01: row without folder" in p for p in result.problems)
    assert result.class_counts() == {"negative": 3, "positive": 1, "surprise": 1}


def test_cropped_variant_and_root_at_subject_folder(tmp_path, megc):
    root = make_casme2(tmp_path / "c", ROWS, variant="cropped", sheet_name="CASME2-coding-20140508.xlsx")
    whole = load_casme2(root, megc_list=megc)
    assert len(whole.records) == 6 and whole.records[0].frame_paths[0].endswith("reg_img10.jpg")
    direct = load_casme2(root / "Cropped", megc_list=megc)  # sheet found in the parent
    assert [r.key for r in direct.records] == [r.key for r in whole.records]


def test_given_annotation_file(tmp_path, megc):
    root = make_casme2(tmp_path / "c", ROWS)
    moved = tmp_path / "elsewhere.xlsx"
    shutil.move(root / "CASME2-coding-20190701.xlsx", moved)
    assert len(load_casme2(root, annotations=moved, megc_list=megc).records) == 6


def test_missing_frames_drop_the_clip(tree, megc):
    (tree / "CASME2_RAW_selected" / "sub01" / "EP19_05f" / "img22.jpg").unlink()
    result = load_casme2(tree, megc_list=megc)
    assert "EP19_05f" not in by_clip(result)
    assert any("EP19_05f: 1 of 4 frames 20..23 missing" in p for p in result.problems)


def test_duplicate_frame_numbers_drop_the_clip(tree, megc):
    write_image(tree / "CASME2_RAW_selected" / "sub01" / "EP19_05f" / "img020.jpg")
    result = load_casme2(tree, megc_list=megc)
    assert "EP19_05f" not in by_clip(result)
    assert any("two images for frame 20" in p for p in result.problems)


def test_missing_root_names_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        load_casme2(tmp_path / "nowhere")


def test_missing_annotation_names_official_files(tmp_path):
    root = make_casme2(tmp_path / "c", ROWS)
    (root / "CASME2-coding-20190701.xlsx").unlink()
    with pytest.raises(FileNotFoundError, match="CASME2-coding-20190701.xlsx.*CASME2-coding-20140508.xlsx"):
        load_casme2(root)
    with pytest.raises(FileNotFoundError, match="missing.xlsx"):
        load_casme2(root, annotations=tmp_path / "missing.xlsx")


def test_unknown_protocol_and_bad_apex_mode(tree):
    with pytest.raises(ValueError, match="'loso2020'"):
        load_casme2(tree, protocol="loso2020")
    with pytest.raises(ValueError, match="'fix'"):
        load_casme2(tree, bad_apex="fix")


def test_missing_column_names_column_and_file(tree):
    path = tree / "CASME2-coding-20190701.xlsx"
    book = openpyxl.load_workbook(path)
    book.active["E1"] = "Apex"  # the sheet's "ApexFrame" header renamed
    book.save(path)
    with pytest.raises(ValueError, match=r"CASME2-coding-20190701.xlsx: missing required column\(s\) \['ApexFrame'\]"):
        load_casme2(tree)
