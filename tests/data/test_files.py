"""Dataset files on disk (me_resnet/data/files.py): natural order, frame numbers, the sheet's and frames' places."""

from __future__ import annotations

import pytest

from me_resnet.data.files import (
    add_clip_folder,
    clip_folders,
    find_file,
    find_frames_root,
    folder_alias_problems,
    list_frames,
    locate_annotation,
    natural_key,
    require_dir,
)


def touch(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


def test_natural_key_compares_digit_runs_as_numbers():
    names = ["img10", "img2", "img1", "EP10_01", "EP2_10", "EP2_9", "s10", "s2"]
    assert sorted(names, key=natural_key) == ["EP2_9", "EP2_10", "EP10_01", "img1", "img2", "img10", "s2", "s10"]
    assert sorted(names) != sorted(names, key=natural_key)  # plain string order puts img10 before img2
    assert natural_key("sub02") == natural_key("sub2") == ("sub", 2, "")  # zero padding does not matter


@pytest.mark.parametrize(
    ("pattern", "numbers"),
    [("img{}.jpg", [9, 10, 46]), ("006_{:05d}.jpg", [9998, 10000]), ("reg_image{:06d}.bmp", [1, 123])],
)
def test_list_frames_keys_images_by_trailing_number(tmp_path, pattern, numbers):
    for number in numbers:
        touch(tmp_path / pattern.format(number))
    frames, problems, unnumbered = list_frames(tmp_path)
    assert problems == [] and unnumbered == []
    assert {number: path.name for number, path in frames.items()} == {n: pattern.format(n) for n in numbers}


def test_list_frames_skips_files_that_are_not_numbered_images_and_names_the_unnumbered_images(tmp_path):
    touch(tmp_path / "img3.JPG")  # upper-case suffix is an image
    touch(tmp_path / "img4.txt")  # numbered, not an image
    touch(tmp_path / "cover.jpg")  # an image without a frame number
    touch(tmp_path / "img12a.png")  # a misnamed frame
    touch(tmp_path / "Thumbs.db")
    (tmp_path / "img5.jpg").mkdir()  # a folder named like a frame
    frames, problems, unnumbered = list_frames(tmp_path)
    assert {number: path.name for number, path in frames.items()} == {3: "img3.JPG"}
    assert problems == [] and unnumbered == ["cover.jpg", "img12a.png"]


def test_list_frames_reports_two_images_of_one_frame_number(tmp_path):
    touch(tmp_path / "img5.jpg")
    touch(tmp_path / "img5.png")
    touch(tmp_path / "img6.jpg")
    frames, problems, _ = list_frames(tmp_path)
    assert sorted(frames) == [5, 6]
    assert len(problems) == 1
    assert "two images for frame 5" in problems[0] and "img5.jpg" in problems[0] and "img5.png" in problems[0]
    assert str(tmp_path) in problems[0]


def test_require_dir_returns_the_folder_and_names_a_missing_one(tmp_path):
    assert require_dir(tmp_path, "CASME II") == tmp_path
    with pytest.raises(FileNotFoundError, match=r"CASME II root '.*nowhere' does not exist or is not a directory"):
        require_dir(tmp_path / "nowhere", "CASME II")
    file = touch(tmp_path / "sheet.xlsx")
    with pytest.raises(FileNotFoundError, match=r"SAMM root '.*sheet\.xlsx'"):
        require_dir(file, "SAMM")


def test_find_file_looks_depth_levels_deep_and_no_deeper(tmp_path):
    deep = touch(tmp_path / "a" / "b" / "sheet.xlsx")  # two levels below the root
    assert find_file(tmp_path, ("sheet.xlsx",)) == deep
    assert find_file(tmp_path, ("sheet.xlsx",), depth=1) is None
    touch(tmp_path / "x" / "y" / "z" / "other.xlsx")  # three levels below
    assert find_file(tmp_path, ("other.xlsx",)) is None
    assert find_file(tmp_path, ("other.xlsx",), depth=3).parent.name == "z"
    assert find_file(tmp_path, ("missing.xlsx",)) is None


def test_find_file_prefers_the_earlier_name_over_a_shallower_folder(tmp_path):
    old = touch(tmp_path / "old.xlsx")
    new = touch(tmp_path / "a" / "new.xlsx")
    assert find_file(tmp_path, ("new.xlsx", "old.xlsx")) == new  # name order beats depth
    assert find_file(tmp_path, ("old.xlsx", "new.xlsx")) == old


def test_find_file_prefers_the_shallower_folder_over_folder_order(tmp_path):
    touch(tmp_path / "a" / "c" / "sheet.xlsx")
    shallow = touch(tmp_path / "b" / "sheet.xlsx")
    assert find_file(tmp_path, ("sheet.xlsx",)) == shallow


NAMES = ("CASME2-coding-20190701.xlsx", "CASME2-coding-20140508.xlsx")


def test_locate_annotation_given_path_wins_over_a_found_sheet(tmp_path):
    root = tmp_path / "casme2"
    touch(root / NAMES[0])
    given = touch(tmp_path / "mine.xlsx")
    assert locate_annotation(root, given, NAMES, "casme2") == given
    assert locate_annotation(root, str(given), NAMES, "casme2") == given
    with pytest.raises(FileNotFoundError, match=r"casme2 annotation file '.*gone\.xlsx' does not exist"):
        locate_annotation(root, tmp_path / "gone.xlsx", NAMES, "casme2")


def test_locate_annotation_searches_the_root_then_only_the_parent_itself(tmp_path):
    root = tmp_path / "data" / "casme2"
    root.mkdir(parents=True)
    beside = touch(tmp_path / "data" / NAMES[1])
    assert locate_annotation(root, None, NAMES, "casme2") == beside  # in the parent
    inside = touch(root / "sheets" / NAMES[1])
    assert locate_annotation(root, None, NAMES, "casme2") == inside  # inside the root comes first
    beside.unlink()
    inside.unlink()
    touch(tmp_path / "data" / "other" / NAMES[0])  # a sibling of the root: not searched
    with pytest.raises(FileNotFoundError) as error:
        locate_annotation(root, None, NAMES, "casme2")
    message = str(error.value)
    assert "no casme2 annotation file found in" in message and str(root) in message
    assert str(list(NAMES)) in message and "annotations=" in message


@pytest.mark.parametrize("place", ["", "CASME2_RAW_selected", "release/CASME2_RAW_selected", "release/Cropped"])
def test_find_frames_root_at_root_named_folder_or_one_level_deeper(tmp_path, place):
    frames = tmp_path / place if place else tmp_path
    (frames / "sub01" / "EP02_01f").mkdir(parents=True)
    assert find_frames_root(tmp_path, r"sub\d+", ("CASME2_RAW_selected", "Cropped"), "CASME II") == frames


def test_find_frames_root_prefers_the_first_folder_name(tmp_path):
    for name in ("Cropped", "CASME2_RAW_selected"):
        (tmp_path / name / "sub01").mkdir(parents=True)
    found = find_frames_root(tmp_path, r"sub\d+", ("CASME2_RAW_selected", "Cropped"), "CASME II")
    assert found == tmp_path / "CASME2_RAW_selected"


def test_find_frames_root_error_names_dataset_pattern_and_root(tmp_path):
    (tmp_path / "CASME2_RAW_selected" / "sub01_backup").mkdir(parents=True)  # pattern must match whole name
    (tmp_path / "a" / "b" / "CASME2_RAW_selected" / "sub01").mkdir(parents=True)  # two levels deeper
    with pytest.raises(FileNotFoundError) as error:
        find_frames_root(tmp_path, r"sub\d+", ("CASME2_RAW_selected",), "CASME II")
    message = str(error.value)
    assert "no CASME II subject folders (matching 'sub\\\\d+')" in message
    assert str(tmp_path) in message and "['CASME2_RAW_selected']" in message


def test_clip_folders_keys_are_canonical_and_other_folders_ignored(tmp_path):
    for clip in ("sub1/EP02_01f", "sub1/EP19_05f", "sub10/EP01_2", "notes/EP03"):
        (tmp_path / clip).mkdir(parents=True)
    touch(tmp_path / "sub1" / "readme.txt")  # a file, not a clip folder
    folders = clip_folders("casme2", tmp_path, r"sub\d+")
    assert folders == {
        ("sub01", "EP02_01f"): tmp_path / "sub1" / "EP02_01f",
        ("sub01", "EP19_05f"): tmp_path / "sub1" / "EP19_05f",
        ("sub10", "EP01_2"): tmp_path / "sub10" / "EP01_2",
    }


def test_add_clip_folder_refuses_a_second_spelling_naming_both_folders(tmp_path):
    folders = {}
    first, second = tmp_path / "s1" / "s1_ne_01", tmp_path / "s01" / "s01_ne_01"
    add_clip_folder(folders, "smic", "s1", "s1_ne_01", (first, "negative"))
    add_clip_folder(folders, "smic", "s1", "s1_ne_02", (first.with_name("s1_ne_02"), "negative"))
    assert list(folders) == [("s1", "s1_ne_01"), ("s1", "s1_ne_02")]
    with pytest.raises(ValueError) as error:
        add_clip_folder(folders, "smic", "s01", "s01_ne_01", (second, "negative"))
    message = str(error.value)
    assert f"{first} and {second} are two folders of the same smic clip s1/s1_ne_01" in message
    assert folders[("s1", "s1_ne_01")] == (first, "negative")  # the first one is kept


def test_folder_alias_problems_counts_non_canonical_names(tmp_path):
    canonical = {("sub01", "EP02_01f"): tmp_path / "sub01" / "EP02_01f"}
    assert folder_alias_problems("casme2", canonical) == []
    renamed = {
        ("sub01", "EP02_01f"): tmp_path / "sub1" / "EP02_01f",
        ("sub01", "EP19_05f"): tmp_path / "sub1" / "EP19_05f",
        ("sub02", "EP09f"): tmp_path / "sub02" / "EP09f",
    }
    expected = "1 folder name(s) read under the canonical spelling: sub1 -> sub01"  # counted once for two clips
    assert folder_alias_problems("casme2", renamed) == [expected]


def test_folder_alias_problems_smic_subject_is_three_levels_up(tmp_path):
    clip = tmp_path / "s01" / "micro" / "negative" / "s01_ne_01"
    problems = folder_alias_problems("smic", {("s1", "s1_ne_01"): (clip, "negative")})
    assert problems == ["2 folder name(s) read under the canonical spelling: s01 -> s1, s01_ne_01 -> s1_ne_01"]


def test_folder_alias_problems_lists_ten_pairs_and_counts_all(tmp_path):
    folders = {(f"{n:03d}", f"{n:03d}_1_1"): tmp_path / str(n) / f"{n:03d}_1_1" for n in range(1, 13)}
    [problem] = folder_alias_problems("samm", folders)
    assert problem.startswith("12 folder name(s) read under the canonical spelling: ")
    assert problem.count(" -> ") == 10
