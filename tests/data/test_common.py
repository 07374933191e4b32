"""What every annotated loader shares (me_resnet/data/common.py): option checks, one clip's record, clip selection."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from me_resnet.data.common import (
    ClipSpec,
    LoadResult,
    absent_from_list,
    check_choice,
    check_options,
    make_record,
    middle_frame,
    require_records,
    select_clips,
    sort_records,
)
from me_resnet.data.sheets import AnnotationRow
from tests.support.trees import write_megc_list

SOURCE = "CASME2-coding-20190701.xlsx row 7"


def clip_folder(root: Path, numbers, pattern: str = "img{}.jpg") -> Path:
    folder = root / "sub01" / "EP02_01f"
    folder.mkdir(parents=True)
    for number in numbers:
        (folder / pattern.format(number)).write_bytes(b"")
    return folder


def spec(folder: Path, onset, apex, offset) -> ClipSpec:
    return ClipSpec("casme2", "sub01", folder, onset, apex, offset, "happiness", 1, SOURCE)


def row(subject, clip, emotion, onset=1, apex=2, offset=3) -> AnnotationRow:
    return AnnotationRow(subject, clip, onset, apex, offset, emotion, f"sheet.xlsx row {clip}")


@pytest.mark.parametrize(("onset", "offset", "middle"), [(30, 34, 32), (1071, 1074, 1072), (5, 5, 5), (1, 2, 1)])
def test_middle_frame_rounds_down(onset, offset, middle):
    assert middle_frame(onset, offset) == middle


def test_check_choice_error_names_the_value_and_the_choices():
    check_choice("smic_apex", "spot", ("middle", "spot"))
    with pytest.raises(ValueError, match=r"unknown smic_apex 'peak'; choose one of \['middle', 'spot'\]"):
        check_choice("smic_apex", "peak", ("middle", "spot"))


def test_check_options_checks_protocol_and_bad_apex():
    check_options("megc2019", "repair")
    check_options("paper_literal", "drop")
    with pytest.raises(ValueError, match=r"unknown protocol 'loso2020'; choose one of \['megc2019', 'paper_literal'"):
        check_options("loso2020", "repair")
    with pytest.raises(ValueError, match=r"unknown bad_apex 'fix'; choose one of \['repair', 'drop'\]"):
        check_options("megc2019", "fix")


def test_make_record_frames_onset_to_offset_only(tmp_path):
    folder = clip_folder(tmp_path, [8, 9, 10, 11, 12, 40])
    record, notes = make_record(spec(folder, 9, 10, 11), "repair")
    assert notes == [] and record.problems == ()
    assert record.frame_numbers == (9, 10, 11)
    assert [Path(p).name for p in record.frame_paths] == ["img9.jpg", "img10.jpg", "img11.jpg"]
    assert (record.onset, record.apex, record.offset) == (9, 10, 11)
    assert (record.key, record.label, record.emotion) == ("casme2/sub01/EP02_01f", 1, "happiness")


@pytest.mark.parametrize("apex", [10, 14])
def test_make_record_apex_at_onset_or_offset_is_valid(tmp_path, apex):
    record, notes = make_record(spec(clip_folder(tmp_path, range(10, 15)), 10, apex, 14), "drop")
    assert record.apex == apex and notes == []


# a clip of frames 10..14 whose apex the sheet gives as: (apex, what the loader says of it)
BAD_APEXES = [
    (20, "apex 20 outside onset..offset 10..14"),
    (3, "apex 3 outside onset..offset 10..14"),
    (None, "apex is not a frame number (e.g. '/')"),
]


@pytest.mark.parametrize(("apex", "why"), BAD_APEXES)
def test_make_record_bad_apex_repaired_to_middle_frame(tmp_path, apex, why):
    record, notes = make_record(spec(clip_folder(tmp_path, range(10, 15)), 10, apex, 14), "repair")
    assert record.apex == 12
    assert notes == [f"sub01/EP02_01f: {why} ({SOURCE}); repaired to middle frame 12"]
    assert record.problems == tuple(notes)
    assert record.frame_numbers == (10, 11, 12, 13, 14)


@pytest.mark.parametrize(("apex", "why"), BAD_APEXES)
def test_make_record_bad_apex_dropped(tmp_path, apex, why):
    record, notes = make_record(spec(clip_folder(tmp_path, range(10, 15)), 10, apex, 14), "drop")
    assert record is None
    assert notes == [f"sub01/EP02_01f: {why} ({SOURCE}); clip dropped"]


@pytest.mark.parametrize(("onset", "offset"), [(None, 14), (10, None), (14, 10)])
@pytest.mark.parametrize("bad_apex", ["repair", "drop"])
def test_make_record_unusable_onset_or_offset_drops_the_clip(tmp_path, onset, offset, bad_apex):
    record, notes = make_record(spec(clip_folder(tmp_path, range(10, 15)), onset, 12, offset), bad_apex)
    assert record is None
    assert notes == [f"sub01/EP02_01f: unusable onset/offset ({onset}, {offset}) in {SOURCE}; clip dropped"]


def test_make_record_missing_frames_drop_the_clip_naming_the_first(tmp_path):
    folder = clip_folder(tmp_path, [10, 11, 13])
    record, notes = make_record(spec(folder, 10, 11, 15), "repair")
    assert record is None
    assert notes == [f"sub01/EP02_01f: 3 of 6 frames 10..15 missing in {folder} (first: 12); clip dropped"]


def test_a_clip_dropped_for_its_frames_still_reports_its_repaired_apex(tmp_path):
    folder = clip_folder(tmp_path, [10, 11, 13])
    record, notes = make_record(spec(folder, 10, 20, 15), "repair")
    assert record is None and len(notes) == 2
    assert notes[0] == f"sub01/EP02_01f: apex 20 outside onset..offset 10..15 ({SOURCE}); repaired to middle frame 12"
    assert notes[1].endswith("(first: 12); clip dropped")


def test_images_without_a_frame_number_are_reported_and_the_clip_kept(tmp_path):
    folder = clip_folder(tmp_path, [10, 11, 12])
    (folder / "cover.jpg").write_bytes(b"")
    (folder / "notes.txt").write_bytes(b"")  # not an image: not a frame, not reported
    record, notes = make_record(spec(folder, 10, 11, 12), "repair")
    assert record is not None and record.frame_numbers == (10, 11, 12)
    assert notes == [f"{folder}: 1 image file(s) without a frame number at the end of the name left out: cover.jpg"]
    assert record.problems == ()  # nothing was repaired: the clip is not counted as loader_repaired


def test_a_misnamed_frame_is_named_beside_the_missing_frame_it_leaves(tmp_path):
    folder = clip_folder(tmp_path, [10, 11, 13])
    (folder / "img12a.jpg").write_bytes(b"")
    record, notes = make_record(spec(folder, 10, 11, 13), "repair")
    assert record is None and len(notes) == 2
    assert notes[0].endswith("left out: img12a.jpg")
    assert notes[1] == f"sub01/EP02_01f: 1 of 4 frames 10..13 missing in {folder} (first: 12); clip dropped"


def test_make_record_refuses_an_unknown_bad_apex_policy(tmp_path):
    with pytest.raises(ValueError, match=r"unknown bad_apex 'fix'; choose one of \['repair', 'drop'\]"):
        make_record(spec(clip_folder(tmp_path, [1, 2, 3]), 1, 2, 3), "fix")


def test_make_record_two_images_of_one_frame_drop_the_clip(tmp_path):
    folder = clip_folder(tmp_path, [10, 11, 12])
    (folder / "img011.jpg").write_bytes(b"")
    record, notes = make_record(spec(folder, 10, 11, 12), "repair")
    assert record is None
    assert len(notes) == 1 and "two images for frame 11" in notes[0] and notes[0].endswith("; clip dropped")


ROWS = [
    row("sub01", "EP02_01f", "happiness"),
    row("sub01", "EP19_05f", "disgust"),
    row("sub02", "EP09f", "Repression"),
    row("sub05", "EP01_2", "others"),
]


def test_select_clips_paper_literal_excludes_disgust_and_counts_exclusions():
    selected, problems, absent = select_clips("casme2", ROWS, "paper_literal")
    assert [(r.clip, label) for r, label in selected] == [("EP02_01f", 1), ("EP09f", 0)]  # emotion case ignored
    assert problems == ["2 rows excluded by the paper_literal protocol: disgust 1, others 1"]
    assert absent == {}


def test_select_clips_paper_extended_keeps_disgust_as_negative():
    selected, problems, absent = select_clips("casme2", ROWS, "paper_extended")
    assert [(r.clip, label) for r, label in selected] == [("EP02_01f", 1), ("EP19_05f", 0), ("EP09f", 0)]
    assert problems == ["1 rows excluded by the paper_extended protocol: others 1"]
    assert absent == {}


def test_select_clips_megc2019_takes_the_lists_clips_and_labels(tmp_path):
    megc = write_megc_list(
        tmp_path / "megc.csv",
        [
            ("casme2", "sub02", "EP09f", 2),  # the list's label, not the sheet's emotion
            ("casme2", "1", "EP02_01f", 1),  # subject spelled as the sheets do
            ("casme2", "sub26", "EP99_01", 0),  # no row
            ("samm", "6", "006_1_2", 0),  # another dataset
        ],
    )
    selected, problems, absent = select_clips("casme2", ROWS, "megc2019", megc)
    assert [(r.clip, label) for r, label in selected] == [("EP09f", 2), ("EP02_01f", 1)]  # in list order
    assert absent == {"sub26/EP99_01": "sub26/EP99_01: in the megc2019 list but no row in the coding sheet; skipped"}
    assert problems == [absent["sub26/EP99_01"], "2 coding-sheet rows not in the megc2019 list skipped"]


def test_select_clips_unknown_protocol():
    with pytest.raises(ValueError, match="'loso2020'"):
        select_clips("casme2", ROWS, "loso2020")


def test_absent_from_list_names_the_listed_clips_not_present():
    listed = {("s1", "s1_ne_01"): 0, ("s4", "s4_ne_01"): 0, ("s2", "s2_po_01"): 1}
    absent = absent_from_list(listed, {("s1", "s1_ne_01")}, "no clip folder")
    assert absent == {
        "s4/s4_ne_01": "s4/s4_ne_01: in the megc2019 list but no clip folder; skipped",
        "s2/s2_po_01": "s2/s2_po_01: in the megc2019 list but no clip folder; skipped",
    }
    assert absent_from_list(listed, listed, "no clip folder") == {}


def test_sort_records_in_natural_subject_then_clip_order(tmp_path):
    record, _ = make_record(spec(clip_folder(tmp_path, [1, 2]), 1, 1, 2), "repair")
    names = [("sub10", "EP01"), ("sub2", "EP10"), ("sub2", "EP9")]
    records = [dataclasses.replace(record, subject=s, clip=c) for s, c in names]
    ordered = [(r.subject, r.clip) for r in sort_records(records)]
    assert ordered == [("sub2", "EP9"), ("sub2", "EP10"), ("sub10", "EP01")]


def test_require_records_refuses_an_empty_result_quoting_its_first_problems(tmp_path):
    problems = [f"problem {n}" for n in range(7)]
    with pytest.raises(ValueError) as error:
        require_records(LoadResult("samm", [], problems), tmp_path)
    message = str(error.value)
    assert f"no samm clip loaded from {str(tmp_path)!r}" in message
    assert "7 problem(s), first: problem 0; problem 1; problem 2; problem 3; problem 4" in message
    assert "problem 5" not in message
    with pytest.raises(ValueError, match=r"0 problem\(s\), first: none"):
        require_records(LoadResult("smic", []), tmp_path)


def test_require_records_passes_a_result_with_clips_through(tmp_path):
    record, _ = make_record(spec(clip_folder(tmp_path, [1, 2]), 1, 1, 2), "repair")
    result = LoadResult("casme2", [record], ["a problem"])
    assert require_records(result, tmp_path) is result
