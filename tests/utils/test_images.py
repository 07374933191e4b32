"""Reading image files so that a damaged one is an error naming it (me_resnet/utils/images.py)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from me_resnet.utils.images import check_image_file, image_problem, read_image

IMAGE = np.arange(8 * 8, dtype=np.uint8).reshape(8, 8) * 3


def encoded(suffix: str) -> bytes:
    return cv2.imencode(suffix, IMAGE)[1].tobytes()


@pytest.mark.parametrize("suffix", [".jpg", ".png", ".bmp"])
def test_whole_files_pass_and_truncated_ones_are_named(suffix, tmp_path):
    data = encoded(suffix)
    assert image_problem(data) is None
    path = tmp_path / f"frame{suffix}"
    path.write_bytes(data)
    image = read_image(path)
    assert image.shape == (8, 8)
    if suffix != ".jpg":  # lossless
        np.testing.assert_array_equal(image, IMAGE)
    path.write_bytes(data[: len(data) - 20])
    with pytest.raises(ValueError, match=rf"damaged image file .*frame\{suffix}: truncated"):
        read_image(path)
    assert "truncated" in check_image_file(path)


def test_problems_say_what_is_missing():
    jpeg = encoded(".jpg")
    assert image_problem(b"") == "empty file"
    assert image_problem(jpeg[:2] + b"\x00" * 10) == "JPEG without image data (no start-of-scan marker)"
    bmp = encoded(".bmp")
    assert image_problem(bmp[:100]) == f"truncated BMP (100 bytes, header declares {len(bmp)})"
    assert image_problem(b"not an image at all") is None  # left to the decoder


def test_missing_and_undecodable_files_name_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="image file not found: .*absent.png"):
        read_image(tmp_path / "absent.png")
    (tmp_path / "notes.png").write_bytes(b"not an image at all")
    with pytest.raises(ValueError, match=r"cannot decode image file .*notes\.png"):
        read_image(tmp_path / "notes.png")
    assert check_image_file(tmp_path / "absent.png").startswith("image file not found")
