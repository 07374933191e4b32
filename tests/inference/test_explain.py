"""The figure that shows why the model said what it said (me_resnet/inference/explain.py): its pieces.

The whole figure, drawn for a trained model's prediction, is checked in ``test_predict.py``.
"""

import cv2
import keras
import numpy as np

from me_resnet.inference.explain import clip_name, flow_colours, last_cbam_attention
from me_resnet.models.cbam import CBAM


def test_flow_colours_hue_is_direction_and_brightness_is_magnitude():
    field = np.zeros((2, 2, 2), np.float32)
    field[0, 0] = (2.0, 0.0)  # right
    field[0, 1] = (0.0, 2.0)  # down (image y)
    field[1, 0] = (-1.0, 0.0)  # left, half as long
    hsv = cv2.cvtColor(flow_colours(field), cv2.COLOR_RGB2HSV)
    hue, value = hsv[..., 0].astype(int), hsv[..., 2].astype(int)
    assert hue[0, 0] == 0 and abs(hue[0, 1] - 45) <= 1 and abs(hue[1, 0] - 90) <= 1  # OpenCV hue: degrees / 2
    assert value[1, 1] == 0 and abs(value[1, 0] - value[0, 0] / 2) <= 2 and value[0, 0] >= 250
    assert flow_colours(np.zeros((3, 3, 2), np.float32)).max() == 0  # no motion: black, no division by zero


def test_clip_name_of_a_folder_and_of_a_video(tmp_path):
    frames = tmp_path / "EP02_07" / "frames"
    frames.mkdir(parents=True)
    assert clip_name(frames) == "EP02_07/frames"
    assert clip_name(tmp_path / "clip.mp4") == "clip.mp4"


def test_last_cbam_attention_is_the_last_layers_map_averaged_over_time():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((3, 8, 8, 4))
    x = CBAM(rank=3, reduction=2, spatial_kernel=3, name="first")(inputs)
    x = keras.layers.Conv3D(4, 1, strides=(1, 2, 2), name="conv")(x)
    last = CBAM(rank=3, reduction=2, spatial_kernel=3, name="last")
    x = last(x)
    model = keras.Model(inputs, keras.layers.Dense(3)(keras.layers.GlobalAveragePooling3D()(x)))
    clip = np.random.default_rng(0).normal(size=(3, 8, 8, 4)).astype("float32")
    attention = last_cbam_attention(model, clip)
    before_last = keras.Model(model.input, model.get_layer("conv").output)(clip[None])
    expected = keras.ops.convert_to_numpy(last.attention_maps(before_last)["spatial"])[0, ..., 0].mean(axis=0)
    assert attention.shape == (4, 4)
    np.testing.assert_allclose(attention, expected, rtol=1e-5)
    plain = keras.Model(inputs, keras.layers.Dense(3)(keras.layers.GlobalAveragePooling3D()(inputs)))
    assert last_cbam_attention(plain, clip) is None
