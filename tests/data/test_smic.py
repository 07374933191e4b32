"""SMIC-HS loader: no annotation, apex middle / spot, megc2019 names s01 vs folders s1."""

from __future__ import annotations

import pytest

from me_resnet.data.loading import load_smic
from tests.support.trees import by_clip, make_smic, write_megc_list

CLIPS = [
    (1, "negative", 1, 100, 5),
    (1, "positive", 1, 200, 4),
    (2, "surprise", 1, 998, 6),  # frames 998..1003
    (10, "negative", 2, 7, 3),
    (3, "positive", 1, 50, 3),  # not in the list below
]
MEGC = [
    ("smic", "s01", "s01_ne_01", 0),
    ("smic", "s01", "s01_po_01", 1),
    ("smic", "s02", "s02_sur_01", 2),
    ("smic", "s10", "s10_ne_02", 0),
    ("smic", "s04", "s04_ne_01", 0),
    ("casme2", "sub01", "EP02_01f", 1),
]


@pytest.fixture
def megc(tmp_path):
    return write_megc_list(tmp_path / "megc.csv", MEGC)


@pytest.mark.parametrize("root_part", ["", "SMIC_all_cropped", "SMIC_all_cropped/HS"])
def test_megc2019_matches_zero_padded_names_to_folders(tmp_path, megc, root_part):
    make_smic(tmp_path, CLIPS)
    result = load_smic(tmp_path / root_part, megc_list=megc)
    records = by_clip(result)
    assert list(records) == ["s1_ne_01", "s1_po_01", "s2_sur_01", "s10_ne_02"]  # natural subject order
    assert [r.subject for r in result.records] == ["s1", "s1", "s2", "s10"]
    assert [r.label for r in result.records] == [0, 1, 2, 0]
    text = "\n".join(result.problems)
    assert "s4/s4_ne_01: in the megc2019 list but no clip folder" in text
    assert "1 clip folders not in the megc2019 list skipped" in text
    assert result.listed == 5 and list(result.listed_absent) == ["s4/s4_ne_01"]
    assert "s4/s4_ne_01: in the megc2019 list but no clip folder; skipped" not in result.as_subset().problems


def test_onset_offset_and_middle_apex_from_frames(tmp_path, megc):
    make_smic(tmp_path, CLIPS)
    record = by_clip(load_smic(tmp_path, megc_list=megc))["s2_sur_01"]
    assert (record.onset, record.apex, record.offset) == (998, 1000, 1003)  # 998 + 5 // 2
    assert record.frame_numbers == tuple(range(998, 1004))
    assert record.frame_paths[-1].endswith("reg_image001003.bmp")
    assert record.emotion == "surprise"


def test_paper_protocol_labels_from_class_folders_raw_names(tmp_path):
    make_smic(tmp_path, CLIPS, prefix="image")
    result = load_smic(tmp_path, protocol="paper_extended")
    assert {c: r.label for c, r in by_clip(result).items()} == {
        "s1_ne_01": 0,
        "s1_po_01": 1,
        "s2_sur_01": 2,
        "s3_po_01": 1,
        "s10_ne_02": 0,
    }
    assert result.problems == []
    assert result.records[0].frame_paths[0].endswith("image000100.bmp")


def test_spot_apex_is_frame_most_different_from_onset(tmp_path):
    make_smic(tmp_path, [(1, "negative", 1, 10, 5)], values=[0, 20, 90, 40, 10])
    record = load_smic(tmp_path, protocol="paper_extended", smic_apex="spot").records[0]
    assert record.apex == 12
    assert load_smic(tmp_path, protocol="paper_extended").records[0].apex == 12  # middle agrees here by design
    make_smic(tmp_path, [(1, "negative", 1, 10, 5)], values=[0, 90, 20, 40, 10])
    assert load_smic(tmp_path, protocol="paper_extended", smic_apex="spot").records[0].apex == 11


def test_spot_unreadable_frame_names_file(tmp_path):
    hs = make_smic(tmp_path, [(1, "negative", 1, 10, 3)])
    bad = hs / "s1" / "micro" / "negative" / "s1_ne_01" / "reg_image000011.bmp"
    bad.write_bytes(b"not an image")
    with pytest.raises(ValueError, match="reg_image000011.bmp"):
        load_smic(tmp_path, protocol="paper_extended", smic_apex="spot")


def test_gap_in_frames_drops_clip(tmp_path):
    hs = make_smic(tmp_path, CLIPS)
    (hs / "s1" / "micro" / "negative" / "s1_ne_01" / "reg_image000102.bmp").unlink()
    result = load_smic(tmp_path, protocol="paper_extended")
    assert "s1_ne_01" not in by_clip(result)
    assert any("s1_ne_01: 1 of 5 frames 100..104 missing" in p for p in result.problems)


def test_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no_smic"):
        load_smic(tmp_path / "no_smic")
    with pytest.raises(FileNotFoundError, match="SMIC-HS"):
        load_smic(tmp_path)  # exists, but holds no s<N> folders
    with pytest.raises(ValueError, match="'peak'"):
        load_smic(tmp_path, smic_apex="peak")
    with pytest.raises(ValueError, match="'mine'"):
        load_smic(tmp_path, protocol="mine")


def test_shipped_list_yields_164_smic_clips(tmp_path):
    """Folders (s1/.../s1_ne_01) for every SMIC entry of the shipped list (s01/s01_ne_01)."""
    from me_resnet.data.protocols import MEGC2019_LIST
    from tests.support.trees import write_image

    classes = {"ne": "negative", "po": "positive", "sur": "surprise"}
    for line in MEGC2019_LIST.read_text().splitlines():
        dataset, subject, clip, _ = line.split(",")
        if dataset == "smic":
            number = int(subject[1:])
            class_folder = tmp_path / "HS" / f"s{number}" / "micro" / classes[clip.split("_")[1]]
            folder = class_folder / (f"s{number}_" + clip.split("_", 1)[1])
            for frame in (1, 2):
                write_image(folder / f"reg_image{frame:06d}.bmp", size=1)
    result = load_smic(tmp_path)
    assert len(result.records) == 164 and result.problems == []
    assert result.class_counts() == {"negative": 70, "positive": 51, "surprise": 43}
    assert len(result.subject_counts()) == 16
