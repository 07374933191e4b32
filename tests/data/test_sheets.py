"""Coding sheets (me_resnet/data/sheets.py): the header row found by content, integer cells, repeated rows."""

from __future__ import annotations

import math

import openpyxl
import pytest

from me_resnet.data.sheets import (
    AnnotationRow,
    cell_int,
    check_onsets_before_offsets,
    deduplicate_rows,
    megc2019_list_duplicates,
    read_sheet,
    sheet_rows,
)

COLUMNS = {"subject": "Subject", "clip": "Clip", "onset": "On", "apex": "Apex", "offset": "Off", "emotion": "Emotion"}
HEADER = ["Subject", "Clip", "On", "Apex", "Off", "Emotion"]


def write_book(path, rows):
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    book.save(path)
    return path


def test_header_found_below_a_preamble_and_rows_keep_their_spreadsheet_line(tmp_path):
    path = write_book(
        tmp_path / "s.xlsx",
        [["A preamble line"], [], [" Subject ", "Clip", "On", "Apex", "Off", "Emotion", "Clip"]]
        + [["01", "EP01", 3, 4, 5, "happiness", "ignored"], [None, "note", None, None, None, None], ["02", "EP02"]],
    )
    table = read_sheet(path, ("Subject", "Clip"))
    assert list(table.columns) == HEADER + ["line"]  # stripped names, a repeated column kept once
    assert table["Clip"].tolist() == ["EP01", "EP02"]  # the row without a subject is not a clip
    assert table["line"].tolist() == [4, 6]


def test_missing_column_and_missing_header_name_the_file_and_the_column(tmp_path):
    path = write_book(tmp_path / "s.xlsx", [["Subject", "Clip"], ["01", "EP01"]])
    with pytest.raises(ValueError, match=r"s\.xlsx: missing required column\(s\) \['Apex'\]"):
        read_sheet(path, ("Subject", "Clip", "Apex"))
    with pytest.raises(ValueError, match=r"no header row holding 'Sample' in the first 40 rows"):
        read_sheet(path, ("Sample",))
    with pytest.raises(ValueError, match=r"cannot read sheet 'MICRO_ONLY' of .*s\.xlsx"):
        read_sheet(path, ("Subject",), sheet="MICRO_ONLY")


@pytest.mark.parametrize(
    ("value", "expected"),
    [(12, 12), (12.0, 12), (" 12 ", 12), ("12.0", 12), (12.5, None), ("/", None), ("", None), (None, None)]
    + [(math.nan, None), (True, None), ("twelve", None)],
)
def test_cell_int(value, expected):
    assert cell_int(value) == expected


def test_sheet_rows_are_canonical_and_name_their_source(tmp_path):
    path = write_book(tmp_path / "s.xlsx", [HEADER, [1, " EP02_01f ", 10, "/", 14.0, " disgust "]])
    (row,) = sheet_rows("casme2", path, COLUMNS)
    assert row == AnnotationRow("sub01", "EP02_01f", 10, None, 14, "disgust", "s.xlsx row 2")


def _row(clip, onset=1, apex=2, offset=3, emotion="happiness", line=2):
    return AnnotationRow("sub01", clip, onset, apex, offset, emotion, f"s.xlsx row {line}")


def test_onset_after_offset_in_every_row_names_the_swapped_headers(tmp_path):
    rows = [_row("EP01", onset=9, offset=3), _row("EP02", onset=None, offset=1), _row("EP03", onset=8, offset=2)]
    with pytest.raises(ValueError, match=r"On > Off in every one of its 2 rows \(e\.g\. s\.xlsx row 2: 9 > 3\)"):
        check_onsets_before_offsets(rows, tmp_path / "s.xlsx", COLUMNS)
    check_onsets_before_offsets(rows + [_row("EP04")], tmp_path / "s.xlsx", COLUMNS)  # one good row: no error


def test_identical_repeat_counted_once_and_a_contradicting_one_refused():
    rows, problems = deduplicate_rows([_row("EP01"), _row("EP02", line=3), _row("EP01", line=4)])
    assert [row.clip for row in rows] == ["EP01", "EP02"]
    assert problems == ["1 duplicated coding-sheet row(s) counted once: ['s.xlsx row 4 repeats s.xlsx row 2']"]
    with pytest.raises(ValueError, match=r"row 2 and s\.xlsx row 5 .* \(apex 2 vs 7; emotion 'happiness' vs 'fear'\)"):
        deduplicate_rows([_row("EP01"), _row("EP01", apex=7, emotion="fear", line=5)])


def test_megc_list_repeats_compared_by_canonical_key(tmp_path):
    path = tmp_path / "megc.csv"
    path.write_text("smic,s1,s1_ne_01,0\nsamm,006,006_1_2,1\nsmic,s01,s01_ne_01,0\n", encoding="utf-8")
    assert megc2019_list_duplicates("smic", path) == [
        "megc.csv: 1 duplicated smic line(s) counted once: ['line 3 repeats line 1 (s1/s1_ne_01)']"
    ]
    assert megc2019_list_duplicates("samm", path) == []
    path.write_text("smic,s1,s1_ne_01,0\nsmic,s01,s01_ne_01,2\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"lines 1 and 2 give clip smic/s1/s1_ne_01 two labels \(0 and 2\)"):
        megc2019_list_duplicates("smic", path)
