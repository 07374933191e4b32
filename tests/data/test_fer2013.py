"""FER2013: fer2013.csv, icml_face_data.csv (spaced column names), train/test folders, malformed rows."""

from __future__ import annotations

import numpy as np
import pytest

from me_resnet.data.loading import FER2013_CLASSES, load_fer2013
from tests.support.trees import write_image


def pixel_text(value: int) -> str:
    return " ".join(str((value + i) % 256) for i in range(48 * 48))


ROWS = [(3, 10, "Training"), (0, 20, "Training"), (6, 30, "PublicTest"), (5, 40, "PrivateTest")]


def write_csv(path, header="emotion,pixels,Usage", rows=ROWS):
    lines = [header] + [f'{emotion},"{pixel_text(value)}",{usage}' for emotion, value, usage in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_fer2013_csv(tmp_path):
    data = load_fer2013(write_csv(tmp_path / "fer2013.csv"))
    assert data.images.shape == (4, 48, 48) and data.images.dtype == np.uint8
    assert data.labels.tolist() == [3, 0, 6, 5]
    assert data.usage.tolist() == ["Training", "Training", "PublicTest", "PrivateTest"]
    assert data.images[1, 0, :3].tolist() == [20, 21, 22] and data.images[1, 1, 0] == (20 + 48) % 256  # row-major
    assert len(data.split("Training")) == 2


def test_icml_face_data_with_spaced_columns_in_a_folder(tmp_path):
    (tmp_path / "challenge").mkdir()
    lines = ["emotion, Usage, pixels"] + [f'{e}, {u},"{pixel_text(v)}"' for e, v, u in ROWS]
    (tmp_path / "challenge" / "icml_face_data.csv").write_text("\n".join(lines) + "\n")
    data = load_fer2013(tmp_path)
    assert data.labels.tolist() == [3, 0, 6, 5]
    assert data.usage.tolist() == ["Training", "Training", "PublicTest", "PrivateTest"]


def test_malformed_pixels_row_names_line_and_file(tmp_path):
    path = write_csv(tmp_path / "fer2013.csv")
    lines = path.read_text().splitlines()
    lines[3] = '6,"1 2 3",PublicTest'  # line 4 of the file
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=r"fer2013.csv line 4: 'pixels' has 3 values .*expected 2304"):
        load_fer2013(path)


def test_bad_emotion_and_missing_column(tmp_path):
    path = write_csv(tmp_path / "fer2013.csv", rows=[(9, 1, "Training")])
    with pytest.raises(ValueError, match="line 2: emotion '9'"):
        load_fer2013(path)
    path = write_csv(tmp_path / "fer2013.csv", header="emotion,pixels,split")
    with pytest.raises(ValueError, match=r"missing column\(s\) \['Usage'\]"):
        load_fer2013(path)


def test_folder_variant_and_test_split(tmp_path, caplog):
    for name in ("happy", "sad"):
        write_image(tmp_path / "train" / name / "Training_1.jpg", 100, size=48)
    write_image(tmp_path / "train" / "fear" / "im0.jpg", 10, size=64)  # resized, logged
    for index in range(3):
        write_image(tmp_path / "test" / "angry" / f"im{index}.jpg", 50, size=48)  # no usage in the name
    write_image(tmp_path / "test" / "neutral" / "PrivateTest_7.jpg", 60, size=48)
    write_image(tmp_path / "test" / "neutral" / "PublicTest_9.jpg", 60, size=48)
    data = load_fer2013(tmp_path)
    assert data.images.shape == (8, 48, 48)
    training = data.labels[data.usage == "Training"]
    assert sorted(FER2013_CLASSES[i] for i in training) == ["fear", "happy", "sad"]
    angry = data.usage[data.labels == FER2013_CLASSES.index("angry")].tolist()
    assert angry == ["PublicTest", "PublicTest", "PrivateTest"]  # first half public, second private
    neutral = data.usage[data.labels == FER2013_CLASSES.index("neutral")].tolist()
    assert neutral == ["PrivateTest", "PublicTest"]  # from the names (a half split would give Public, Private)
    assert "1 images were not 48x48" in caplog.text


def test_unknown_class_folder_and_missing_path(tmp_path):
    write_image(tmp_path / "train" / "Contempt" / "a.jpg", size=48)
    (tmp_path / "test").mkdir()
    with pytest.raises(ValueError, match="'Contempt'"):
        load_fer2013(tmp_path)
    with pytest.raises(FileNotFoundError, match="absent"):
        load_fer2013(tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="fer2013.csv"):
        load_fer2013(tmp_path / "empty")


def test_non_integer_and_out_of_range_pixels(tmp_path):
    path = write_csv(tmp_path / "fer2013.csv", rows=[(1, 0, "Training")])
    text = path.read_text()
    path.write_text(text.replace('"0 1 2 ', '"0 x 2 ', 1))
    with pytest.raises(ValueError, match=r"line 2: 'pixels' has 2304 values \(0 read as integers\)"):
        load_fer2013(path)
    path.write_text(text.replace('"0 1 2 ', '"0 256 2 ', 1))
    with pytest.raises(ValueError, match="line 2: 'pixels' values outside 0..255"):
        load_fer2013(path)
