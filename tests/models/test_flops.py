"""Forward FLOP counting from layer shapes (me_resnet/models/flops.py)."""

import keras
import pytest

from me_resnet.models.cbam import CBAM
from me_resnet.models.flops import count_flops, count_layer_flops
from me_resnet.models.resnet import build_resnet50_2d


def test_count_flops_matches_hand_count():
    inputs = keras.Input((4, 8, 8, 3))
    x = keras.layers.Conv3D(5, (3, 3, 3), strides=(1, 2, 2), padding="same", name="conv")(inputs)  # out (4, 4, 4, 5)
    x = keras.layers.BatchNormalization(name="bn")(x)  # not counted
    x = CBAM(rank=3, reduction=5, spatial_kernel=(1, 3, 3), name="cbam")(x)  # hidden 1
    x = keras.layers.GlobalAveragePooling3D()(x)
    model = keras.Model(inputs, keras.layers.Dense(2, name="dense")(x))
    conv = 2 * 27 * 3 * 5 * (4 * 4 * 4)
    cbam = 2 * 2 * (5 * 1 + 1 * 5) + 2 * 9 * 2 * 1 * (4 * 4 * 4)
    dense = 2 * 5 * 2
    assert count_layer_flops(model) == {"conv": conv, "cbam": cbam, "dense": dense}
    assert count_flops(model) == conv + cbam + dense


def test_dense_on_a_sequence_counts_every_position():
    inputs = keras.Input((7, 4))
    model = keras.Model(inputs, keras.layers.Dense(3, name="per_step")(inputs))
    assert count_layer_flops(model) == {"per_step": 2 * 4 * 3 * 7}


def test_grouped_convolution_is_refused_by_name():
    inputs = keras.Input((8, 8, 4))
    model = keras.Model(inputs, keras.layers.Conv2D(4, 3, groups=2, name="grouped")(inputs))
    with pytest.raises(ValueError, match="grouped conv grouped"):
        count_flops(model)


def test_count_flops_resnet50_is_about_4_gflops():
    # ResNet50 is usually quoted at ~3.9 G multiply-adds... as 4.1 GMACs = ~8.2 GFLOPs at 224x224
    flops = count_flops(build_resnet50_2d((224, 224, 3), 1000))
    assert 7.5e9 < flops < 8.5e9
