"""Reader of the STSTNet authors' precomputed 28x28 (u, v, strain) images, on fixture trees."""

import logging

import cv2
import numpy as np
import pytest

from me_resnet.data.precomputed_flow import load_precomputed_flow, parse_sample_name

# (dataset, subject as in the list, clip as in the list, label)
SMALL_LIST = [
    ("casme2", "sub01", "EP02_01f", 1),
    ("casme2", "sub01", "EP19_05f", 0),
    ("casme2", "sub02", "EP01_11f", 2),
    ("smic", "s01", "s01_ne_01", 0),
    ("samm", "6", "006_1_2", 2),
    ("casme2", "sub03", "EP07_04", 0),  # never written: must be reported missing
]


def write_list(path, rows=SMALL_LIST):
    path.write_bytes("".join(f"{d},{s},{c},{label}\r\n" for d, s, c, label in rows).encode())
    return path


def write_image(path, uvs=(10, 20, 30), size=28):
    """An image whose (u, v, strain) channels are the constants ``uvs`` (written RGB-in-file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rgb = np.empty((size, size, 3), np.uint8)
    rgb[...] = uvs
    assert cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return path


def per_subject_tree(root):
    """sub01: 2 test clips (one named with a space before .png); sub02, s01, 006: one each."""
    write_image(root / "sub01" / "u_test" / "1" / "sub01_EP02_01f.png", (11, 12, 13))
    write_image(root / "sub01" / "u_test" / "0" / "sub01_EP19_05f .png", (21, 22, 23))
    write_image(root / "sub01" / "u_train" / "2" / "sub02_EP01_11f.png")
    write_image(root / "sub02" / "u_test" / "2" / "sub02_EP01_11f.png", (31, 32, 33))
    write_image(root / "sub02" / "u_train" / "1" / "sub01_EP02_01f.png")
    write_image(root / "s01" / "u_test" / "0" / "s01_s01_ne_01.png", (41, 42, 43))
    write_image(root / "006" / "u_test" / "2" / "006_006_1_2 .png", (51, 52, 53))
    return root


def test_per_subject_layout_reads_clips_labels_and_channel_order(tmp_path, caplog):
    root = per_subject_tree(tmp_path / "norm_u_v_os")
    megc = write_list(tmp_path / "list.csv")
    with caplog.at_level(logging.WARNING):
        features = load_precomputed_flow(root, megc_list=megc)
    assert features.X.shape == (5, 28, 28, 3) and features.X.dtype == np.float32
    assert features.channels == ("u", "v", "strain")
    by_clip = {clip: i for i, clip in enumerate(features.clips)}
    assert set(by_clip) == {"EP02_01f", "EP19_05f", "EP01_11f", "s01_ne_01", "006_1_2"}
    spaced = by_clip["EP19_05f"]  # came from 'sub01_EP19_05f .png'
    np.testing.assert_allclose(features.X[spaced, 0, 0], np.array([21, 22, 23]) / 255.0, rtol=1e-6)
    labels = dict(zip(features.clips, features.y))
    assert labels == {"EP02_01f": 1, "EP19_05f": 0, "EP01_11f": 2, "s01_ne_01": 0, "006_1_2": 2}
    subjects = dict(zip(features.clips, features.subjects))
    assert subjects["s01_ne_01"] == "s01" and subjects["006_1_2"] == "006"
    datasets = dict(zip(features.clips, features.datasets))
    assert datasets == {
        "EP02_01f": "casme2",
        "EP19_05f": "casme2",
        "EP01_11f": "casme2",
        "s01_ne_01": "smic",
        "006_1_2": "samm",
    }
    assert features.info["layout"] == "per_subject"
    assert features.info["missing"] == ["casme2/sub03/EP07_04"]
    assert "EP07_04" in caplog.text and "not found" in caplog.text


def test_raw_value_range_keeps_pixels(tmp_path):
    root = per_subject_tree(tmp_path / "tree")
    features = load_precomputed_flow(root, megc_list=write_list(tmp_path / "list.csv"), value_range="raw")
    assert features.X.max() == 53.0


def test_flat_layout_with_shipped_list(tmp_path, caplog):
    root = tmp_path / "flat"
    write_image(root / "sub01_EP02_01f.png")
    write_image(root / "s1_ne_01.png")  # bare SMIC clip name, unpadded subject
    write_image(root / "006_1_2 .png")  # bare SAMM clip name, space before the extension
    write_image(root / "sub01_EP99_99.png")  # not on the list
    with caplog.at_level(logging.WARNING):
        features = load_precomputed_flow(root)
    labels = {(d, s, c): int(y) for d, s, c, y in zip(features.datasets, features.subjects, features.clips, features.y)}
    # labels from me_resnet/data/megc2019_combined_3class_gt.csv
    assert labels == {("casme2", "sub01", "EP02_01f"): 1, ("smic", "s1", "s1_ne_01"): 0, ("samm", "006", "006_1_2"): 0}
    assert features.info["layout"] == "flat"
    assert len(features.info["missing"]) == 442 - 3
    assert features.info["skipped_not_on_list"] == ["casme2/sub01/EP99_99"]
    assert "not on the MEGC 2019 list, skipped" in caplog.text and "EP99_99" in caplog.text


def test_wrong_size_image_names_file_and_shape(tmp_path):
    root = per_subject_tree(tmp_path / "tree")
    bad = write_image(root / "sub02" / "u_test" / "2" / "sub02_EP01_11f.png", size=32)
    with pytest.raises(ValueError, match=r"sub02_EP01_11f\.png.*\(32, 32, 3\)"):
        load_precomputed_flow(root, megc_list=write_list(tmp_path / "list.csv"))
    assert bad.exists()


def test_unreadable_image_is_named(tmp_path):
    root = per_subject_tree(tmp_path / "tree")
    (root / "sub02" / "u_test" / "2" / "sub02_EP01_11f.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match=r"cannot decode image file .*sub02_EP01_11f\.png"):
        load_precomputed_flow(root, megc_list=write_list(tmp_path / "list.csv"))


def test_clip_in_two_subjects_u_test_names_both(tmp_path):
    root = per_subject_tree(tmp_path / "tree")
    write_image(root / "sub02" / "u_test" / "1" / "sub01_EP02_01f.png")
    with pytest.raises(ValueError, match=r"twice.*sub01[/\\]u_test.*sub02[/\\]u_test"):
        load_precomputed_flow(root, megc_list=write_list(tmp_path / "list.csv"))


def test_unknown_label_folder(tmp_path):
    root = per_subject_tree(tmp_path / "tree")
    write_image(root / "sub02" / "u_test" / "happiness" / "sub02_EP01_11f.png")
    with pytest.raises(ValueError, match="unknown label folder 'happiness'"):
        load_precomputed_flow(root, megc_list=write_list(tmp_path / "list.csv"))


def test_label_folder_contradicting_list(tmp_path):
    rows = [row if row[2] != "EP02_01f" else ("casme2", "sub01", "EP02_01f", 2) for row in SMALL_LIST]
    root = per_subject_tree(tmp_path / "tree")
    with pytest.raises(ValueError, match=r"sub01_EP02_01f\.png: label folder says 1.*list says 2"):
        load_precomputed_flow(root, megc_list=write_list(tmp_path / "list.csv", rows))


def test_test_clip_leaking_into_own_u_train(tmp_path):
    root = per_subject_tree(tmp_path / "tree")
    write_image(root / "sub01" / "u_train" / "1" / "sub01_EP02_01f.png")
    with pytest.raises(ValueError, match="also in its u_train"):
        load_precomputed_flow(root, megc_list=write_list(tmp_path / "list.csv"))


def test_missing_root_and_unrecognised_layout(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        load_precomputed_flow(tmp_path / "nowhere")
    (tmp_path / "empty" / "something").mkdir(parents=True)
    with pytest.raises(ValueError, match="neither layout"):
        load_precomputed_flow(tmp_path / "empty")


@pytest.mark.parametrize(
    "stem, expected",
    [
        ("sub01_EP02_01f", ("casme2", "sub01", "EP02_01f")),
        ("sub07_EP06_02_01", ("casme2", "sub07", "EP06_02_01")),
        ("s01_s01_ne_01", ("smic", "s01", "s01_ne_01")),
        ("s1_ne_01", ("smic", "s1", "s1_ne_01")),
        ("s03_s03_sur_06", ("smic", "s03", "s03_sur_06")),
        ("006_006_1_2", ("samm", "006", "006_1_2")),
        ("006_1_2", ("samm", "006", "006_1_2")),
        ("011_011_4_12", ("samm", "011", "011_4_12")),
    ],
)
def test_parse_sample_name(stem, expected):
    assert parse_sample_name(stem) == expected


@pytest.mark.parametrize("stem", ["EP02_01f", "s01_s02_ne_01", "006_007_1_2", "face"])
def test_parse_sample_name_rejects(stem):
    with pytest.raises(ValueError, match=stem):
        parse_sample_name(stem)
