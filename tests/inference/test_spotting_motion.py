"""Where the spotter looks (face and eye cells, from landmarks or fixed) and how it measures motion.

me_resnet/inference/spotting_motion.py (the spotter's steps 1-3).
"""

import numpy as np
import pytest
import skimage.data

from me_resnet.inference.spotting_motion import (
    EYE_ELLIPSES,
    SPOT_SIZE,
    eye_ellipses,
    regions,
    remove_head_motion,
    smooth_in_time,
)
from me_resnet.preprocessing.face import FaceCropper, crop_eyes, eye_angle
from tests.inference import faces

HIGH_EYES = ((0.34, 0.22), (0.67, 0.22))  # a face sitting higher in its crop than the kit's usual one


def _pixel(mask, x, y):
    return bool(mask[int(y * SPOT_SIZE), int(x * SPOT_SIZE)])


def test_regions_leave_the_eyes_out_unless_included():
    apart, included = regions(False), regions(True)
    assert apart.cells.sum() < included.cells.sum() and apart.eye_cells.any() and not included.eye_cells.any()
    assert not apart.pixels[int(0.35 * 64), int(0.34 * 64)] and included.pixels.all()


def test_without_landmarks_the_eye_cells_are_the_usual_ones():
    assert eye_ellipses(None) == EYE_ELLIPSES
    fixed, default = regions(eyes=None), regions()
    for name in ("pixels", "cells", "eye_cells", "near_eyes"):
        np.testing.assert_array_equal(getattr(fixed, name), getattr(default, name))


def test_eye_cells_follow_the_landmarks():
    placed, fixed = regions(eyes=HIGH_EYES), regions()
    for x, y in HIGH_EYES:
        assert _pixel(placed.eye_pixels, x, y) and not _pixel(placed.pixels, x, y)
        assert _pixel(fixed.pixels, x, y - 0.1)  # above the usual eyes: measured as brow with fixed cells
        assert _pixel(fixed.eye_pixels, x, y + 0.18) and not _pixel(placed.eye_pixels, x, y + 0.18)
    assert placed.eye_cells[1].any() and not fixed.eye_cells[1].any()  # the eye cells moved up a row
    assert placed.near_eyes.sum() < fixed.near_eyes.sum()  # the guard reaches down to the eyes' lower edge


def test_eye_ellipses_grow_with_the_distance_between_the_eyes():
    (left, right) = eye_ellipses(((0.25, 0.4), (0.75, 0.4)))
    assert left[0] == (0.25, 0.4) and right[0] == (0.75, 0.4)
    scale = 0.5 / (EYE_ELLIPSES[1][0][0] - EYE_ELLIPSES[0][0][0])
    assert left[1] == pytest.approx((EYE_ELLIPSES[0][1][0] * scale, EYE_ELLIPSES[0][1][1] * scale))


@pytest.mark.parametrize("eyes", [((0.3, 0.4),), ((0.3, np.nan), (0.7, 0.4)), ((0.5, 0.4), (0.5, 0.4))])
def test_bad_eye_landmarks_are_refused(eyes):
    with pytest.raises(ValueError, match="eyes"):
        regions(eyes=eyes)


def test_crop_eyes_levels_the_landmarks_and_keeps_their_distance():
    left, right = (130.0, 90.0), (170.0, 100.0)  # right eye lower: the crop is rotated to level them
    box = (100, 50, 200, 150, eye_angle(left, right))
    eyes = crop_eyes(box, left, right)
    assert eyes.left[1] == pytest.approx(eyes.right[1])
    assert eyes.right[0] - eyes.left[0] == pytest.approx(np.hypot(40.0, 10.0) / 100)
    unrotated = crop_eyes((100, 50, 200, 150), left, right)
    assert unrotated.left == pytest.approx((0.305, 0.405)) and unrotated.right == pytest.approx((0.705, 0.505))


def test_the_face_croppers_eyes_land_on_the_eyes_of_its_crop():
    rgb = skimage.data.astronaut()  # eyes ~ (205, 100) and (245, 100) in the image
    cropper = FaceCropper("mtcnn", margin=0.10, image_size=SPOT_SIZE)
    box, found, eyes = cropper.box_with_eyes(rgb)
    assert found and (box, found) == cropper.box(rgb)
    side = box[2] - box[0]
    for (x, y), image_x in zip(eyes, (205, 245)):
        assert abs(box[0] + x * side - image_x) < 10 and abs(box[1] + y * side - 100) < 10
    assert FaceCropper("center", image_size=SPOT_SIZE).box_with_eyes(rgb)[2] is None  # no landmarks: fixed cells


def test_smoothing_keeps_constants_and_length():
    positions = np.full((7, 2, 2, 2), 3.0)
    np.testing.assert_allclose(smooth_in_time(positions, 2.0), positions)
    np.testing.assert_allclose(
        smooth_in_time(np.full((2, 3), 1.5), 4.0), np.full((2, 3), 1.5)
    )  # shorter than the kernel


def test_smoothing_mirrors_a_long_series_and_holds_a_short_one_at_its_ends():
    # one noisy first frame must not be repeated over the kernel (a spurious bump at the window's start);
    # holding the first frame would give it about half its value after smoothing, and 3x the noise
    positions = np.zeros((60, 2))
    positions[0] = 1.0
    assert smooth_in_time(positions, 8.0)[0, 0] < 0.1
    noise = smooth_in_time(np.random.default_rng(0).normal(size=(400, 60)).T, 8.0)  # 400 white-noise series
    assert noise[0].std() < 2 * noise[30].std()
    # shorter than the kernel (2 x 24 frames): a bump in the middle is not mirrored in as the ends' surroundings
    short = np.zeros((30, 1))
    short[10:20] = 1.0
    assert smooth_in_time(short, 8.0)[0, 0] < smooth_in_time(short, 8.0)[15, 0] - 0.1


def test_remove_head_motion_keeps_a_local_bump_and_drops_an_affine_field():
    ys, xs = np.mgrid[0:64, 0:64].astype(np.float32)
    affine = np.stack([0.3 + 0.01 * xs - 0.004 * ys, -0.2 + 0.006 * xs + 0.002 * ys], axis=-1)
    local = faces.expression_field(1.0)
    residual = remove_head_motion(affine + local, np.ones((64, 64), bool))
    np.testing.assert_allclose(residual, local, atol=0.06)
