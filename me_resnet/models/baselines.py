"""The two baselines of the paper's Table 5, in Keras: STSTNet and OFF-ApexNet.

Both take ONE onset->apex flow field at 28x28 (feature kind ``apex_flow``,
``Features.channels == ("u", "v", "strain")``) and end in a 3-way softmax.

**STSTNet** (Liong, Gan, See, Khor, Huang, "Shallow Triple Stream
Three-dimensional CNN (STSTNet) for Micro-expression Recognition", FG 2019,
arXiv:1902.03634). Input (u, v, optical strain), 28x28x3. Three parallel 3x3
convolutions with 3, 5 and 8 filters ('same'), each ReLU -> BatchNorm ->
3x3 max-pool stride 3 ('same') -> dropout 0.5; concatenation (16 channels,
10x10) -> 2x2 average pool (5x5x16 = 400) -> dense 3 softmax.
Sources for the details: the authors' repository ``christy1206/STSTNet``
(``main.m`` MATLAB and ``main.py`` PyTorch port): Adam lr 5e-5, batch 256,
800 epochs, cross-entropy, no augmentation, the model of the LAST epoch is
tested (no model selection). Their PyTorch port pads the 3x3 convs by 2
(30x30 maps) and pads the max-pool by 1; that gives the same 10x10 / 400 sizes
as the 'same' padding used here, which the prompt and the paper's figure give.
BatchNorm uses PyTorch's constants (momentum 0.9, epsilon 1e-5) like their port.

**OFF-ApexNet** (Gan, Liong, Yau, Huang, Tan, "OFF-ApexNet on
micro-expression recognition system", Signal Processing: Image Communication
74, 2019, arXiv:1805.08699). Input: horizontal (u) and vertical (v) flow,
28x28 each, one stream per component: conv 5x5 (6) -> max-pool 2 -> conv 5x5
(16) -> max-pool 2; the two streams are flattened and concatenated -> dense
1024 -> dense 1024 -> dense 3 softmax. The paper's text was not retrievable
from this kit's search tool; the open details follow the PyTorch re-implementation
in ``ECNU-Cross-Innovation-Lab/PRICAI2021-Off-TANet`` (``models/off_apexnet.py``,
whose README reports 2.66 M parameters, matching the count below): 'same'
padding (7x7x16 = 784 values per stream), ReLU and dropout 0.5 after each
hidden dense layer. That port has NO activation after the convolutions; this
kit puts a ReLU there by default (a LeNet-style stream, as the paper's figure
draws it) -- ``conv_activation=None`` gives the port's reading.
Training hyper-parameters of OFF-ApexNet could not be confirmed from a source,
so ``me_resnet.models.registry`` gives it only the input size, cross-entropy and no
augmentation and keeps the kit's defaults for the rest (docs/baselines.md).

Both builders return uncompiled functional models; ``me_resnet.models.registry.build_model``
dispatches ``"ststnet"`` / ``"off_apexnet"`` here.
"""

from __future__ import annotations

import keras
from keras import layers, ops

STSTNET_STREAM_FILTERS: tuple[int, ...] = (3, 5, 8)

# The numbers the authors published are data in me_resnet.reporting.paper.PUBLISHED_RESULTS.


@keras.saving.register_keras_serializable(package="me_resnet")
class SelectChannels(layers.Layer):
    """Keep the listed channels of the last axis: (..., C) -> (..., len(indices)).

    Lets OFF-ApexNet take the kit's (H, W, 3) ``(u, v, strain)`` features and
    feed u and v to their own streams without a ``Lambda`` layer.

    Args:
        indices: channel indices to keep, in order.
    """

    def __init__(self, indices, **kwargs):
        super().__init__(**kwargs)
        self.indices = tuple(int(i) for i in indices)
        if not self.indices:
            raise ValueError("SelectChannels needs at least one channel index, got ()")

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is not None and max(self.indices) >= channels:
            raise ValueError(f"SelectChannels{self.indices} on input with {channels} channels: index out of range")
        self.built = True

    def call(self, inputs):
        return ops.take(inputs, list(self.indices), axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], len(self.indices))

    def get_config(self):
        return {**super().get_config(), "indices": list(self.indices)}


def _check_shape(input_shape, num_classes: int, allowed_channels: tuple[int, ...], model: str) -> tuple[int, int, int]:
    if len(input_shape) != 3:
        raise ValueError(f"{model} takes one flow field (H, W, C); got input_shape={tuple(input_shape)}")
    height, width, channels = input_shape
    if channels not in allowed_channels:
        raise ValueError(
            f"{model} expects {' or '.join(map(str, allowed_channels))} input channels, "
            f"got input_shape={tuple(input_shape)}"
        )
    if min(height, width) < 4:
        raise ValueError(f"{model} needs images of at least 4x4 pixels, got input_shape={tuple(input_shape)}")
    if num_classes < 2:
        raise ValueError(f"num_classes must be >= 2, got {num_classes}")
    return int(height), int(width), int(channels)


def build_ststnet(input_shape=(28, 28, 3), num_classes: int = 3, dropout: float = 0.5) -> keras.Model:
    """STSTNet (Liong et al., FG 2019) on (u, v, strain) flow features.

    Each stream: Conv2D(k, 3x3, 'same') -> ReLU -> BatchNorm -> MaxPool(3, stride 3,
    'same') -> Dropout(0.5) with k = 3, 5, 8; concatenate -> AveragePool(2) ->
    Flatten -> Dense(num_classes, softmax). At 28x28x3: 1715 parameters
    (1651 trainable + 64 BatchNorm moving statistics).
    """
    _check_shape(input_shape, num_classes, (3,), "STSTNet")
    inputs = keras.Input(shape=tuple(input_shape), name="flow")
    streams = []
    for index, filters in enumerate(STSTNET_STREAM_FILTERS, start=1):
        prefix = f"stream{index}"
        x = layers.Conv2D(filters, 3, padding="same", name=f"{prefix}_conv")(inputs)
        x = layers.ReLU(name=f"{prefix}_relu")(x)
        x = layers.BatchNormalization(momentum=0.9, epsilon=1e-5, name=f"{prefix}_bn")(x)
        x = layers.MaxPooling2D(3, strides=3, padding="same", name=f"{prefix}_pool")(x)
        x = layers.Dropout(dropout, name=f"{prefix}_dropout")(x)
        streams.append(x)
    x = layers.Concatenate(axis=-1, name="concat")(streams)
    x = layers.AveragePooling2D(2, strides=2, name="avg_pool")(x)
    x = layers.Flatten(name="flatten")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="ststnet")


def _off_apexnet_stream(x, name: str, conv_activation: str | None):
    x = layers.Conv2D(6, 5, padding="same", activation=conv_activation, name=f"{name}_conv1")(x)
    x = layers.MaxPooling2D(2, name=f"{name}_pool1")(x)
    x = layers.Conv2D(16, 5, padding="same", activation=conv_activation, name=f"{name}_conv2")(x)
    x = layers.MaxPooling2D(2, name=f"{name}_pool2")(x)
    return layers.Flatten(name=f"{name}_flatten")(x)


def build_off_apexnet(
    input_shape=(28, 28, 2),
    num_classes: int = 3,
    dense_units: int = 1024,
    dropout: float = 0.5,
    conv_activation: str | None = "relu",
) -> keras.Model:
    """OFF-ApexNet (Gan et al., 2019) on horizontal and vertical onset->apex flow.

    ``input_shape`` is (H, W, 2) = (u, v), or (H, W, 3) = the kit's
    (u, v, strain) features, of which only channels 0 (u) and 1 (v) are used
    (strain is ignored). Two streams -- u and v -- of conv 5x5 (6) -> max-pool 2
    -> conv 5x5 (16) -> max-pool 2, concatenated -> Dense(1024) -> Dense(1024)
    -> Dense(num_classes, softmax), ReLU + dropout after the hidden dense layers.
    At 28x28: 2 664 475 parameters.
    """
    _check_shape(input_shape, num_classes, (2, 3), "OFF-ApexNet")
    inputs = keras.Input(shape=tuple(input_shape), name="flow")
    u = SelectChannels([0], name="select_u")(inputs)
    v = SelectChannels([1], name="select_v")(inputs)
    x = layers.Concatenate(name="concat")(
        [_off_apexnet_stream(u, "u", conv_activation), _off_apexnet_stream(v, "v", conv_activation)]
    )
    for index in (1, 2):
        x = layers.Dense(dense_units, activation="relu", name=f"fc{index}")(x)
        x = layers.Dropout(dropout, name=f"fc{index}_dropout")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="off_apexnet")
