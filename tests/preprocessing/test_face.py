"""MTCNN face box on the onset frame, square crop, centre fallback (me_resnet/face.py, SPEC §4.2)."""

import logging

import matplotlib.cbook
import matplotlib.image
import numpy as np
import pytest
import skimage.data

from me_resnet.preprocessing import face
from me_resnet.preprocessing.face import FaceCropper, centre_box, square_box


def _inside(box, x, y):
    x0, y0, x1, y1 = box
    return x0 <= x < x1 and y0 <= y < y1


@pytest.fixture(scope="module")
def cropper():
    return FaceCropper("mtcnn", margin=0.10, image_size=64)


def test_finds_the_astronauts_face(cropper):
    rgb = skimage.data.astronaut()  # face around x 180-265, y 65-170 (eyes ~ (205, 100), (245, 100))
    box, found = cropper.box(rgb)
    assert found
    x0, y0, x1, y1 = box
    assert x1 - x0 == y1 - y0 and 80 <= x1 - x0 <= 200
    assert _inside(box, 205, 100) and _inside(box, 245, 100) and _inside(box, 225, 140)
    assert not _inside(box, 400, 400)
    crop = cropper.crop(rgb.mean(axis=2).astype(np.uint8), box)
    assert crop.shape == (64, 64) and crop.dtype == np.uint8


def test_finds_grace_hoppers_face_on_a_grey_copy(cropper):
    with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as handle:
        rgb = np.asarray(matplotlib.image.imread(handle, format="jpg"))
    grey = rgb.mean(axis=2).astype(np.uint8)
    box, found = cropper.box(np.repeat(grey[..., None], 3, axis=2))  # SAMM-style grey frame
    assert found
    assert _inside(box, 260, 240)  # nose
    assert _inside(box, 220, 190) and _inside(box, 305, 190)  # eyes
    assert (box[2] - box[0]) < min(grey.shape) * 0.8


def test_blank_frame_takes_the_logged_centre_fallback(cropper, caplog):
    blank = np.full((90, 120, 3), 128, np.uint8)
    with caplog.at_level(logging.WARNING, logger="me_resnet.preprocessing.face"):
        box, found = cropper.box(blank, name="blank.jpg")
    assert not found
    assert box == (15, 0, 105, 90)
    assert "blank.jpg" in caplog.text and "centre" in caplog.text


def test_one_detector_per_process():
    assert face.get_detector() is face.get_detector()


def test_square_box_margin_and_clipping():
    assert square_box((40, 40, 20, 20), 0.10, (100, 100)) == (38, 38, 62, 62)  # 20 * 1.2 = 24, centred at 50
    assert square_box((0, 0, 30, 20), 0.10, (100, 100)) == (0, 0, 36, 36)  # shifted inside at the corner
    assert square_box((10, 10, 200, 50), 0.0, (60, 80)) == (20, 0, 80, 60)  # larger than the image: shrunk, kept inside
    assert centre_box((60, 80)) == (10, 0, 70, 60)
    with pytest.raises(ValueError, match="face_margin"):
        square_box((0, 0, 10, 10), -0.1, (100, 100))


def test_centre_detector_and_bad_settings():
    box, found = FaceCropper("center", image_size=32).box(np.zeros((40, 50, 3), np.uint8))
    assert found and box == (5, 0, 45, 40)
    with pytest.raises(ValueError, match="face_detector"):
        FaceCropper("haar")
