"""MTCNN face box and eye alignment on the onset frame, square crop, centre fallback.

me_resnet/preprocessing/face.py (paper §2.1 step 2).
"""

import logging

import cv2
import matplotlib.cbook
import matplotlib.image
import numpy as np
import pytest
import skimage.data

from me_resnet.data.demo_faces import PHOTO_LANDMARKS
from me_resnet.preprocessing import face
from me_resnet.preprocessing.face import FaceCropper, centre_box, square_box


def _inside(box, x, y):
    x0, y0, x1, y1 = box[:4]
    return x0 <= x < x1 and y0 <= y < y1


@pytest.fixture(scope="module")
def cropper():
    return FaceCropper("mtcnn", margin=0.10, image_size=64)


def test_finds_the_astronauts_face(cropper):
    rgb = skimage.data.astronaut()  # face around x 180-265, y 65-170 (eyes ~ (205, 100), (245, 100))
    box, found = cropper.box(rgb)
    assert found
    x0, y0, x1, y1 = box[:4]
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
    assert box[:4] == (15, 0, 105, 90) and box.angle == 0.0  # the fallback is never rotated
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
    assert found and box == (5, 0, 45, 40, 0.0)
    with pytest.raises(ValueError, match="face_detector"):
        FaceCropper("haar")


def _rotated(rgb, angle):
    """``rgb`` rotated counter-clockwise by ``angle`` degrees about its centre (same size)."""
    height, width = rgb.shape[:2]
    return face.rotate_frame(rgb, angle, ((width - 1) / 2.0, (height - 1) / 2.0))


def test_eye_angle_sign_levels_the_eyes():
    assert face.eye_angle((10.0, 20.0), (30.0, 20.0)) == 0.0
    assert face.eye_angle((10.0, 20.0), (30.0, 40.0)) == pytest.approx(45.0)  # right eye lower
    # rotating by that angle about the midpoint brings the right eye level with the left
    image = np.zeros((60, 60), np.uint8)
    image[20, 10] = image[40, 30] = 255
    levelled = face.rotate_frame(image, 45.0, (20.0, 30.0))
    rows = np.nonzero(levelled > 60)[0]
    assert rows.max() - rows.min() <= 2


@pytest.mark.parametrize("angle", [-12.0, 8.0])
def test_alignment_recovers_a_known_rotation(cropper, angle):
    rgb = skimage.data.astronaut()
    (upright, _), (tilted, found) = cropper.boxes([rgb, _rotated(rgb, angle)])
    assert found
    # rotating the image counter-clockwise by `angle` tilts the eye line by -angle
    assert tilted.angle - upright.angle == pytest.approx(-angle, abs=1.5)


def test_aligned_crop_has_level_eyes(cropper):
    rgb = _rotated(skimage.data.astronaut(), 15.0)
    box, found = cropper.box(rgb)
    upright = face.eye_angle(*PHOTO_LANDMARKS["astronaut"].as_array()[:2])  # the astronaut's own head tilt
    assert found and box.angle == pytest.approx(upright - 15.0, abs=1.5)
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    aligned = FaceCropper("mtcnn", 0.10, 160, align=True).crop(grey, box)
    unaligned = FaceCropper("mtcnn", 0.10, 160, align=False).crop(grey, box[:4])
    eyes = {}
    for name, crop in (("aligned", aligned), ("unaligned", unaligned)):
        detection = face.detect_faces_with_eyes([np.repeat(crop[..., None], 3, axis=2)])[0]
        assert detection is not None and detection.left_eye is not None, name
        eyes[name] = face.eye_angle(detection.left_eye, detection.right_eye)
    assert abs(eyes["aligned"]) < 2.0 < abs(eyes["unaligned"])


def test_align_switch_and_the_same_transform_for_every_frame():
    rgb = _rotated(skimage.data.astronaut(), 10.0)
    plain_box, _ = FaceCropper("mtcnn", 0.10, 64, align=False).box(rgb)
    aligned_box, _ = FaceCropper("mtcnn", 0.10, 64, align=True).box(rgb)
    assert plain_box.angle == 0.0 and aligned_box.angle != 0.0
    assert plain_box[:4] == aligned_box[:4]  # alignment rotates about the same square box
    cropper = FaceCropper("mtcnn", 0.10, 64, align=True)
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    first, second = cropper.crop(grey, aligned_box), cropper.crop(grey.copy(), aligned_box)
    np.testing.assert_array_equal(first, second)  # a pure function of frame and FaceBox: one transform per clip
    with pytest.raises(ValueError, match="face_align"):
        FaceCropper("mtcnn", align="yes")


def test_cropper_from_config_reads_face_align():
    import dataclasses

    from me_resnet.config import Config

    assert FaceCropper.from_config(Config()).align is True
    assert FaceCropper.from_config(dataclasses.replace(Config(), face_align=False)).align is False
