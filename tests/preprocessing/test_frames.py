"""Key frame selection and image reading (me_resnet/preprocessing/frames.py, paper §2.1 step 1)."""

import logging

import cv2
import numpy as np
import pytest

from me_resnet.data.records import ClipRecord
from me_resnet.preprocessing.frames import key_frame_indices, key_frames, read_grey, read_rgb


def _record(tmp_path, numbers, onset, apex, write=False):
    paths = tuple(str(tmp_path / f"img{n}.jpg") for n in numbers)
    if write:
        for p in paths:
            cv2.imwrite(p, np.full((16, 16), 100, np.uint8))
    return ClipRecord("casme2", "sub01", "EP01", paths, tuple(numbers), onset, apex, numbers[-1], "happiness", 1)


def test_eleven_frames_from_46_to_59():
    # linspace(46, 59, 11) = 46, 47.3, 48.6, 49.9, 51.2, 52.5, 53.8, 55.1, 56.4, 57.7, 59 (rounded half up)
    assert key_frame_indices(46, 59, 11).tolist() == [46, 47, 49, 50, 51, 53, 54, 55, 56, 58, 59]


def test_snaps_to_existing_frames():
    # frames 50 and 51 are missing on disk: 49.9 -> 49 or 52 -> the nearest existing one
    existing = [46, 47, 48, 49, 52, 53, 54, 55, 56, 57, 58, 59]
    got = key_frame_indices(46, 59, 11, existing)
    assert set(got.tolist()) <= set(existing)
    assert got.tolist() == [46, 47, 49, 49, 52, 53, 54, 55, 56, 58, 59]


def test_apex_equal_onset_gives_copies(tmp_path, caplog):
    record = _record(tmp_path, list(range(10, 20)), onset=12, apex=12)
    with caplog.at_level(logging.INFO, logger="me_resnet.preprocessing.frames"):
        key = key_frames(record, 5)
    assert key.numbers == (12,) * 5
    assert key.repeated
    assert "repeated" in caplog.text


def test_fewer_distinct_frames_than_n_repeats_nearest(tmp_path, caplog):
    record = _record(tmp_path, list(range(0, 8)), onset=1, apex=4)
    with caplog.at_level(logging.INFO, logger="me_resnet.preprocessing.frames"):
        key = key_frames(record, 7)
    assert key.numbers == (1, 2, 2, 3, 3, 4, 4)  # linspace(1, 4, 7) = 1, 1.5, 2, 2.5, 3, 3.5, 4 half-up
    assert key.paths[0].endswith("img1.jpg") and key.paths[-1].endswith("img4.jpg")
    assert key.repeated and "repeated" in caplog.text
    assert not key_frames(record, 4).repeated


def test_bad_arguments_raise_value_error():
    with pytest.raises(ValueError, match="before onset"):
        key_frame_indices(10, 5, 3)
    with pytest.raises(ValueError, match="num_frames"):
        key_frame_indices(1, 5, 1)


def test_missing_and_unreadable_files_name_the_file(tmp_path):
    missing = tmp_path / "nope.jpg"
    with pytest.raises(FileNotFoundError, match="nope.jpg"):
        read_grey(missing)
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg at all")
    with pytest.raises(ValueError, match="broken.jpg"):
        read_rgb(broken)


def test_grey_file_reads_as_three_channel_rgb(tmp_path):
    path = tmp_path / "grey.png"
    cv2.imwrite(str(path), np.arange(64, dtype=np.uint8).reshape(8, 8))
    rgb = read_rgb(path)
    assert rgb.shape == (8, 8, 3) and rgb.dtype == np.uint8
    assert np.array_equal(rgb[..., 0], read_grey(path)) and np.array_equal(rgb[..., 1], rgb[..., 2])
