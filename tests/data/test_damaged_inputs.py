"""Damaged, duplicated and mislaid inputs give the documented error or a counted problem (docs/reliability.md)."""

from __future__ import annotations

import json
import shutil

import cv2
import numpy as np
import openpyxl
import pytest

from me_resnet.cli import datasets as datasets_cli
from me_resnet.data import demo, demo_layouts
from me_resnet.data.fer2013 import load_fer2013
from me_resnet.data.loading import load_casme2, load_samm, load_smic
from me_resnet.preprocessing.frames import read_grey
from tests.support.trees import make_casme2, make_samm, make_smic, write_frames, write_megc_list

ROWS = [
    ("01", "EP02_01f", 10, 12, 14, "happiness"),
    ("02", "EP09f", 5, 6, 8, "disgust"),
]
MEGC = [("casme2", "sub01", "EP02_01f", 1), ("casme2", "sub02", "EP09f", 0)]


@pytest.fixture
def megc(tmp_path):
    return write_megc_list(tmp_path / "megc.csv", MEGC)


def truncate(path, keep: float = 0.6) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


@pytest.mark.parametrize("suffix", [".jpg", ".png", ".bmp"])
def test_truncated_frame_is_an_error_naming_the_file(tmp_path, suffix):
    path = tmp_path / f"img7{suffix}"
    rng = np.random.default_rng(0)
    assert cv2.imwrite(str(path), rng.integers(0, 255, (64, 64), dtype=np.uint8))
    whole = read_grey(path)
    truncate(path)
    if suffix == ".jpg":  # OpenCV alone decodes the truncated JPEG: grey rows, only a warning on stderr
        assert cv2.imread(str(path), cv2.IMREAD_GRAYSCALE).shape == (64, 64)
    with pytest.raises(ValueError, match=rf"damaged image file .*img7\{suffix}: truncated"):
        read_grey(path)
    assert whole.shape == (64, 64)


def test_check_frames_lists_the_damaged_frame_and_fails(tmp_path, megc, monkeypatch, capsys):
    root = make_casme2(tmp_path / "casme2", ROWS)
    frame = root / "CASME2_RAW_selected" / "sub02" / "EP09f" / "img7.jpg"
    cv2.imwrite(str(frame), np.random.default_rng(1).integers(0, 255, (32, 32), dtype=np.uint8))
    monkeypatch.setattr(
        datasets_cli, "load_dataset", lambda name, root, config, annotations: load_casme2(root, megc_list=megc)
    )
    argv = ["--casme2", str(root), "--json", "--check-frames"]
    assert datasets_cli.main(argv) == 0
    assert json.loads(capsys.readouterr().out)["datasets"]["casme2"]["damaged_frames"] == []
    truncate(frame)
    assert datasets_cli.main(argv) == 1
    report = json.loads(capsys.readouterr().out)["datasets"]["casme2"]
    assert len(report["damaged_frames"]) == 1 and "img7.jpg: truncated JPEG" in report["damaged_frames"][0]
    assert datasets_cli.main(argv[:-1]) == 0  # frames are only decoded on request


def test_truncated_xlsx_is_an_error_naming_the_file(tmp_path, megc, capsys):
    root = make_casme2(tmp_path / "casme2", ROWS)
    sheet = root / "CASME2-coding-20190701.xlsx"
    truncate(sheet)
    with pytest.raises(ValueError, match=r"cannot read .*CASME2-coding-20190701\.xlsx: not a readable \.xlsx"):
        load_casme2(root, megc_list=megc)
    assert datasets_cli.main(["--casme2", str(root)]) == 1  # reported, not a traceback
    assert "CASME2-coding-20190701.xlsx" in capsys.readouterr().out


def test_truncated_fer2013_csv_names_the_file_and_line(tmp_path):
    path = tmp_path / "fer2013.csv"
    pixels = " ".join(["7"] * 2304)
    path.write_text(f"emotion,pixels,Usage\n0,{pixels},Training\n1,{pixels},Training\n")
    truncate(path, keep=0.75)
    with pytest.raises(ValueError, match=r"fer2013\.csv line 3: "):
        load_fer2013(path)


def test_duplicated_sheet_row_with_another_label_is_an_error(tmp_path, megc):
    rows = ROWS + [("02", "EP09f", 5, 6, 8, "happiness")]
    root = make_casme2(tmp_path / "casme2", rows)
    with pytest.raises(ValueError, match=r"row 3 and .* row 4 .*sub02/EP09f.*emotion 'disgust' vs 'happiness'"):
        load_casme2(root, megc_list=megc)


def test_duplicated_identical_sheet_row_is_counted_once(tmp_path, megc):
    root = make_samm(tmp_path / "samm", [(6, "006_1_2", 10, 12, 14, "Anger")] * 2)
    result = load_samm(root, megc_list=write_megc_list(tmp_path / "list.csv", [("samm", "6", "006_1_2", 0)]))
    assert [record.clip for record in result.records] == ["006_1_2"]
    assert any("1 duplicated coding-sheet row(s) counted once" in problem for problem in result.problems)


def test_megc_list_duplicates_counted_and_conflicts_refused(tmp_path):
    root = make_casme2(tmp_path / "casme2", ROWS)
    repeated = write_megc_list(tmp_path / "repeated.csv", MEGC + [("casme2", "sub01", "EP02_01f", 1)])
    result = load_casme2(root, megc_list=repeated)
    assert len(result.records) == 2
    assert any(
        "1 duplicated casme2 line(s)" in problem and "line 3 repeats line 1" in problem for problem in result.problems
    )
    conflicting = write_megc_list(tmp_path / "conflict.csv", MEGC + [("casme2", "1", "EP02_01f", 2)])
    with pytest.raises(ValueError, match=r"conflict\.csv lines 1 and 3 give clip casme2/sub01/EP02_01f two labels"):
        load_casme2(root, megc_list=conflicting)


def test_folder_aliases_are_reported_and_two_spellings_refused(tmp_path, megc):
    root = make_casme2(tmp_path / "casme2", ROWS)
    frames = root / "CASME2_RAW_selected"
    (frames / "sub02").rename(frames / "sub2")
    result = load_casme2(root, megc_list=megc)
    assert len(result.records) == 2
    assert any("sub2 -> sub02" in problem for problem in result.problems)
    shutil.copytree(frames / "sub2", frames / "sub02")
    with pytest.raises(ValueError, match=r"sub0?2/EP09f and .*sub0?2/EP09f are two folders of the same casme2 clip"):
        load_casme2(root, megc_list=megc)


def test_smic_alias_folders_refused(tmp_path):
    hs = make_smic(tmp_path / "smic", [(1, "negative", 1, 100, 5)])
    write_frames(hs / "s01" / "micro" / "negative" / "s01_ne_01", "reg_image{:06d}.bmp", range(100, 105))
    with pytest.raises(ValueError, match="two folders of the same smic clip s1/s1_ne_01"):
        load_smic(tmp_path / "smic", protocol="paper_extended")


def test_smic_without_micro_level_is_an_error_naming_the_path(tmp_path):
    hs = make_smic(tmp_path / "smic", [(1, "negative", 1, 100, 5), (2, "positive", 1, 10, 4)])
    for subject in ("s1", "s2"):
        for class_dir in (hs / subject / "micro").iterdir():
            class_dir.rename(hs / subject / class_dir.name)
        (hs / subject / "micro").rmdir()
    with pytest.raises(ValueError, match=r"HS/s1: class folders \['negative'\] .*micro/ level is missing"):
        load_smic(tmp_path / "smic", protocol="paper_extended")
    shutil.rmtree(hs / "s1" / "negative")
    shutil.rmtree(hs / "s2" / "positive")
    with pytest.raises(ValueError, match=r"no subject folder of .*HS has a micro/ folder"):
        load_smic(tmp_path / "smic", protocol="paper_extended")


def test_empty_dataset_is_an_error(tmp_path, megc):
    root = make_casme2(tmp_path / "casme2", ROWS)
    empty_list = write_megc_list(tmp_path / "other.csv", [("samm", "6", "006_1_2", 0)])
    with pytest.raises(ValueError, match=r"no casme2 clip loaded from .*casme2"):
        load_casme2(root, megc_list=empty_list)


def test_swapped_onset_and_offset_headers_are_named_in_one_line(tmp_path, megc):
    root = make_casme2(tmp_path / "casme2", ROWS)
    sheet = root / "CASME2-coding-20190701.xlsx"
    book = openpyxl.load_workbook(sheet)
    header = book.active[1]
    onset, offset = (next(cell for cell in header if cell.value == name) for name in ("OnsetFrame", "OffsetFrame"))
    onset.value, offset.value = "OffsetFrame", "OnsetFrame"
    book.save(sheet)
    with pytest.raises(ValueError) as error:
        load_casme2(root, megc_list=megc)
    message = str(error.value)
    assert "OnsetFrame > OffsetFrame in every one of its 2 rows" in message and "headers swapped?" in message
    assert "row 2: 14 > 10" in message and "\n" not in message and "no casme2 clip loaded" not in message


def test_one_row_with_onset_after_offset_is_dropped_not_blamed_on_the_headers(tmp_path, megc):
    rows = [ROWS[0], ("02", "EP09f", 8, 6, 5, "disgust")]
    root = make_casme2(tmp_path / "casme2", rows, extra=[("sub02", "EP09f", 5, 8)])
    result = load_casme2(root, megc_list=megc)
    assert [record.clip for record in result.records] == ["EP02_01f"]
    assert any("sub02/EP09f: unusable onset/offset (8, 5)" in problem for problem in result.problems)


def test_demo_never_deletes_a_folder_it_did_not_mark(tmp_path, monkeypatch):
    real = tmp_path / "out" / "casme2"
    write_frames(real / "CASME2_RAW_selected" / "sub01" / "EP01", "img{}.jpg", [1, 2])
    with pytest.raises(FileExistsError, match=r"casme2.*not written by the demo generator"):
        demo.generate_demo(tmp_path / "out")
    assert len(list(real.rglob("*.jpg"))) == 2

    for writer in ("casme2_jobs", "samm_jobs", "smic_jobs"):  # only the folder handling is under test
        monkeypatch.setattr(demo_layouts, writer, lambda *args: [])
    monkeypatch.setattr(demo, "_fer2013", lambda *args: 0)
    marked = tmp_path / "marked"
    (marked / "casme2").mkdir(parents=True)
    (marked / "casme2" / demo.DATASET_MARKER).write_text("")
    (marked / "casme2" / "stale.txt").write_text("from another seed")
    demo.generate_demo(marked)
    assert not (marked / "casme2" / "stale.txt").exists() and (marked / "casme2" / demo.DATASET_MARKER).is_file()
    assert all((marked / name / demo.DATASET_MARKER).is_file() for name in demo.DATASETS)
