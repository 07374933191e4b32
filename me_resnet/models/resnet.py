"""2D ResNet50, 3D ResNet50 and ME-ResNet builders, and ``build_model`` (SPEC §5).

Layer names follow ``keras.applications.ResNet50`` (``conv1_conv``,
``conv2_block1_1_conv``, ``conv2_block1_1_bn``, ..., ``predictions``) plus
``convS_blockB_cbam`` for CBAM, so a 2D model's weights can be inflated into
the 3D one by name (``me_resnet.models.inflation``). As in Keras' ResNet50 (v1), the
stride of a stage sits on the first 1x1 conv and on the projection shortcut,
convs keep their bias, and BatchNorm uses epsilon 1.001e-5.

ME-ResNet (paper §2.2, Fig. 4-5): stem ``Conv3D(64, (3,7,7), strides (1,2,2))``
+ BN + ReLU + ``MaxPool3D((1,3,3), strides (1,2,2))``; 4 stages of Bottleneck3D
(1x1x1 -> 3x3x3 -> 1x1x1, CBAM on the third conv's output, residual add, ReLU);
stages 3-5 (``conv3``..``conv5``) start with stride 2 in time and space. A
strided 1x1x1 conv gives ``ceil(T / 2)`` frames, so any T >= 1 works (the demo's
T = 5 becomes 5, 3, 2, 1 through the stages).
"""

from __future__ import annotations

import logging

import keras
from keras import layers

from me_resnet.models import baselines
from me_resnet.models.cbam import CBAM
from me_resnet.models.inflation import inflate_weights

logger = logging.getLogger(__name__)

BN_EPSILON = 1.001e-5
RESNET50_BLOCKS = (3, 4, 6, 3)
MODEL_NAMES = ("resnet50_image", "resnet50_flow", "resnet3d_flow", "me_resnet", "ststnet", "off_apexnet")


def _check_input_shape(input_shape, rank: int, builder: str) -> tuple:
    input_shape = tuple(input_shape)
    if len(input_shape) != rank + 1:
        expected = "(H, W, C)" if rank == 2 else "(T, H, W, C)"
        raise ValueError(f"{builder} expects input_shape {expected}, got {input_shape}")
    if keras.config.image_data_format() != "channels_last":
        raise ValueError("me_resnet models need keras image_data_format 'channels_last'")
    return input_shape


def _conv(rank, filters, kernel, name, strides=1, padding="valid", temporal_kernel=1):
    """Conv2D, or Conv3D whose kernel is ``(temporal_kernel, k, k)``."""
    if rank == 2:
        return layers.Conv2D(filters, kernel, strides=strides, padding=padding, name=name)
    strides3 = strides if isinstance(strides, tuple) else (strides,) * 3
    return layers.Conv3D(filters, (temporal_kernel, kernel, kernel), strides=strides3, padding=padding, name=name)


def _batch_norm(name):
    return layers.BatchNormalization(axis=-1, epsilon=BN_EPSILON, name=name)


def bottleneck_block(x, filters, *, rank, stride=1, conv_shortcut=True, cbam=None, temporal_kernel=3, name):
    """Keras ``residual_block_v1`` in 2D or 3D, with optional CBAM before the add.

    ``cbam`` is None or a dict of ``CBAM`` keyword arguments (paper Fig. 5).
    """
    if conv_shortcut:
        shortcut = _conv(rank, 4 * filters, 1, f"{name}_0_conv", strides=stride)(x)
        shortcut = _batch_norm(f"{name}_0_bn")(shortcut)
    else:
        shortcut = x
    x = _conv(rank, filters, 1, f"{name}_1_conv", strides=stride)(x)
    x = _batch_norm(f"{name}_1_bn")(x)
    x = layers.Activation("relu", name=f"{name}_1_relu")(x)
    x = _conv(rank, filters, 3, f"{name}_2_conv", padding="same", temporal_kernel=temporal_kernel)(x)
    x = _batch_norm(f"{name}_2_bn")(x)
    x = layers.Activation("relu", name=f"{name}_2_relu")(x)
    x = _conv(rank, 4 * filters, 1, f"{name}_3_conv")(x)
    x = _batch_norm(f"{name}_3_bn")(x)
    if cbam is not None:
        x = CBAM(rank=rank, name=f"{name}_cbam", **cbam)(x)
    x = layers.Add(name=f"{name}_add")([shortcut, x])
    return layers.Activation("relu", name=f"{name}_out")(x)


def _stages(x, *, rank, blocks, width, cbam, temporal_kernel):
    if len(blocks) != 4 or any(int(b) < 1 for b in blocks):
        raise ValueError(f"blocks must be 4 positive ints (bottlenecks per stage), got {blocks!r}")
    if int(width) < 1:
        raise ValueError(f"width must be a positive int, got {width!r}")
    for stage, (count, multiplier) in enumerate(zip(blocks, (1, 2, 4, 8))):
        stage_name = f"conv{stage + 2}"
        for index in range(1, int(count) + 1):
            x = bottleneck_block(
                x,
                int(width) * multiplier,
                rank=rank,
                stride=(1 if stage == 0 else 2) if index == 1 else 1,
                conv_shortcut=index == 1,
                cbam=cbam,
                temporal_kernel=temporal_kernel,
                name=f"{stage_name}_block{index}",
            )
    return x


def _classifier(x, num_classes, rank):
    if int(num_classes) < 2:
        raise ValueError(f"num_classes must be >= 2, got {num_classes!r}")
    pool = layers.GlobalAveragePooling2D if rank == 2 else layers.GlobalAveragePooling3D
    x = pool(name="avg_pool")(x)
    # float32 output so mixed-precision training keeps a stable softmax.
    return layers.Dense(int(num_classes), activation="softmax", dtype="float32", name="predictions")(x)


def _cbam_kwargs(cbam, reduction, gate, spatial_kernel):
    return {"reduction": reduction, "gate": gate, "spatial_kernel": spatial_kernel} if cbam else None


def build_resnet50_2d(
    input_shape,
    num_classes,
    blocks=RESNET50_BLOCKS,
    width=64,
    cbam=False,
    cbam_reduction=16,
    cbam_gate="sigmoid",
    name="resnet50",
) -> keras.Model:
    """2D ResNet50 (Table 4 methods 1-2; with ``cbam=True`` the Fer2013 pretraining net).

    With the defaults and ``cbam=False`` this is ``keras.applications.ResNet50(
    weights=None)`` layer for layer (25,636,712 parameters at (224, 224, 3) / 1000).
    """
    input_shape = _check_input_shape(input_shape, 2, "build_resnet50_2d")
    inputs = keras.Input(shape=input_shape)
    x = layers.ZeroPadding2D(padding=((3, 3), (3, 3)), name="conv1_pad")(inputs)
    x = layers.Conv2D(int(width), 7, strides=2, name="conv1_conv")(x)
    x = _batch_norm("conv1_bn")(x)
    x = layers.Activation("relu", name="conv1_relu")(x)
    x = layers.ZeroPadding2D(padding=((1, 1), (1, 1)), name="pool1_pad")(x)
    x = layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)
    cbam_kwargs = _cbam_kwargs(cbam, cbam_reduction, cbam_gate, 7)
    x = _stages(x, rank=2, blocks=blocks, width=width, cbam=cbam_kwargs, temporal_kernel=1)
    return keras.Model(inputs, _classifier(x, num_classes, 2), name=name)


def build_resnet3d(
    input_shape,
    num_classes,
    blocks=RESNET50_BLOCKS,
    width=64,
    cbam=False,
    cbam_reduction=16,
    cbam_gate="sigmoid",
    temporal_kernel=3,
    cbam_temporal_kernel=7,
    pretrained=None,
    name="resnet3d_50",
) -> keras.Model:
    """3D ResNet50 on (T, H, W, C) flow sequences (Table 4 method 3; SPEC §5).

    ``temporal_kernel`` is the time extent of the stem and 3x3x3 convs (3);
    ``cbam_temporal_kernel`` that of CBAM's spatial-attention conv (7 -> 7x7x7).
    Setting both to 1 gives a frame-wise 2D network (used to test inflation).
    ``pretrained`` = path of a saved 2D ``.keras`` model to inflate from.
    """
    input_shape = _check_input_shape(input_shape, 3, "build_resnet3d")
    kt = int(temporal_kernel)
    if kt < 1:
        raise ValueError(f"temporal_kernel must be >= 1, got {temporal_kernel!r}")
    inputs = keras.Input(shape=input_shape)
    x = layers.ZeroPadding3D(padding=((kt // 2, (kt - 1) // 2), (3, 3), (3, 3)), name="conv1_pad")(inputs)
    x = _conv(3, int(width), 7, "conv1_conv", strides=(1, 2, 2), temporal_kernel=kt)(x)
    x = _batch_norm("conv1_bn")(x)
    x = layers.Activation("relu", name="conv1_relu")(x)
    x = layers.ZeroPadding3D(padding=((0, 0), (1, 1), (1, 1)), name="pool1_pad")(x)
    x = layers.MaxPooling3D((1, 3, 3), strides=(1, 2, 2), name="pool1_pool")(x)
    cbam_kwargs = _cbam_kwargs(cbam, cbam_reduction, cbam_gate, (int(cbam_temporal_kernel), 7, 7))
    x = _stages(x, rank=3, blocks=blocks, width=width, cbam=cbam_kwargs, temporal_kernel=kt)
    model = keras.Model(inputs, _classifier(x, num_classes, 3), name=name)
    if pretrained:
        load_inflated(model, pretrained)
    return model


def build_me_resnet(
    input_shape,
    num_classes,
    blocks=RESNET50_BLOCKS,
    width=64,
    cbam_reduction=16,
    cbam_gate="sigmoid",
    temporal_kernel=3,
    cbam_temporal_kernel=7,
    pretrained=None,
    name="me_resnet",
) -> keras.Model:
    """ME-ResNet = 3D ResNet50 with CBAM in every Bottleneck3D (Table 4 method 4).

    At the paper's settings ((10, 112, 112, 3), 3 classes) it has 48,802,091
    parameters (``tests/test_models.py`` derives the number).
    """
    return build_resnet3d(
        input_shape,
        num_classes,
        blocks=blocks,
        width=width,
        cbam=True,
        cbam_reduction=cbam_reduction,
        cbam_gate=cbam_gate,
        temporal_kernel=temporal_kernel,
        cbam_temporal_kernel=cbam_temporal_kernel,
        pretrained=pretrained,
        name=name,
    )


def load_inflated(model, pretrained_path):
    """Inflate/copy the weights of the 2D ``.keras`` model at ``pretrained_path`` into ``model``.

    Raises ``ValueError`` when a layer present in both has weights of
    incompatible shapes (e.g. a pretraining run with another width) or when
    nothing matched at all, so a wrong file never silently does nothing.
    """
    from pathlib import Path

    path = Path(pretrained_path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"pretrained model not found: {path}")
    source = keras.saving.load_model(path, compile=False)
    report = inflate_weights(source, model, log=logger)
    if report.mismatched:
        raise ValueError(f"pretrained model {path} does not fit {model.name}: {report.mismatched[:5]}")
    if not (report.inflated or report.copied):
        raise ValueError(f"pretrained model {path} shares no layer names with {model.name}")
    logger.info("%s <- %s: %s", model.name, path, report.summary())
    return report


def build_model(name, input_shape, num_classes, config) -> keras.Model:
    """Model of method ``name`` (``me_resnet.models.registry``) from ``config``'s model fields.

    Uses ``config.blocks``, ``width``, ``cbam_reduction``, ``cbam_gate`` and
    ``pretrained`` (inflated for 3D, copied by name for 2D). The baselines come
    from ``me_resnet.models.baselines`` and ignore those fields.
    """
    common = {"blocks": config.blocks, "width": config.width}
    if name in ("resnet50_image", "resnet50_flow"):
        model = build_resnet50_2d(input_shape, num_classes, name=name, **common)
        if config.pretrained:
            load_inflated(model, config.pretrained)
        return model
    if name == "resnet3d_flow":
        return build_resnet3d(input_shape, num_classes, pretrained=config.pretrained, name=name, **common)
    if name == "me_resnet":
        return build_me_resnet(
            input_shape,
            num_classes,
            cbam_reduction=config.cbam_reduction,
            cbam_gate=config.cbam_gate,
            pretrained=config.pretrained,
            name=name,
            **common,
        )
    if name in ("ststnet", "off_apexnet"):
        builder = baselines.build_ststnet if name == "ststnet" else baselines.build_off_apexnet
        return builder(input_shape, num_classes)
    raise ValueError(f"unknown model {name!r}; choose one of {list(MODEL_NAMES)}")
