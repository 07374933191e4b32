"""2D ResNet50, 3D ResNet50 and ME-ResNet builders (paper §2.2); ``me_resnet.models.registry`` picks one per method.

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

Fig. 5's text admits other readings of the bottleneck; each is a ``Config``
switch with the layout above as its default (``block_options``,
``resnet3d_options``; docs/interpretations.md): conv/BN/ReLU order, a ReLU
after the third conv, a projection shortcut on every block, no ReLU after the
sum, where CBAM sits (``cbam_position``), no temporal stride, the stem's
temporal kernel and CBAM's spatial kernel.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import keras
from keras import layers

from me_resnet.config import field_choices
from me_resnet.models.cbam import CBAM
from me_resnet.models.inflation import inflate_weights

logger = logging.getLogger(__name__)

BN_EPSILON = 1.001e-5
RESNET50_BLOCKS = (3, 4, 6, 3)


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


def _check_choice(name, value):
    """``value`` is one of config field ``name``'s choices (the builders take them as plain arguments too)."""
    if value not in field_choices(name):
        raise ValueError(f"{name} must be one of {field_choices(name)}, got {value!r}")


def _conv_unit(x, conv, name, *, relu, order):
    """``conv`` then BatchNorm and (if ``relu``) ReLU, in ``order`` ("bn_relu" or "relu_bn")."""
    x = conv(x)
    if order == "relu_bn" and relu:
        x = layers.Activation("relu", name=f"{name}_relu")(x)
    x = _batch_norm(f"{name}_bn")(x)
    if order == "bn_relu" and relu:
        x = layers.Activation("relu", name=f"{name}_relu")(x)
    return x


def bottleneck_block(
    x,
    filters,
    *,
    rank,
    stride=1,
    conv_shortcut=True,
    cbam=None,
    temporal_kernel=3,
    order="bn_relu",
    third_relu=False,
    post_add_activation="relu",
    cbam_after_add=False,
    name,
):
    """Keras ``residual_block_v1`` in 2D or 3D, with optional CBAM before the add.

    ``cbam`` is None or a dict of ``CBAM`` keyword arguments (paper Fig. 5):
    CBAM refines the residual branch (the third conv's output) before the sum,
    or, with ``cbam_after_add``, the block's output after the sum and its activation.
    The defaults are ResNet v1: conv -> BN -> ReLU for the first two convs,
    conv -> BN for the third, ReLU after the sum. The readings of Fig. 5's text
    ("every conv followed by ReLU and BN") are switches: ``order="relu_bn"``
    puts ReLU before BN, ``third_relu`` adds a ReLU after the third conv,
    ``post_add_activation="none"`` drops the ReLU after the sum.
    ``stride`` is an int or, in 3D, a ``(t, h, w)`` tuple.
    """
    if conv_shortcut:
        shortcut = _conv(rank, 4 * filters, 1, f"{name}_0_conv", strides=stride)(x)
        shortcut = _batch_norm(f"{name}_0_bn")(shortcut)
    else:
        shortcut = x
    x = _conv_unit(x, _conv(rank, filters, 1, f"{name}_1_conv", strides=stride), f"{name}_1", relu=True, order=order)
    conv2 = _conv(rank, filters, 3, f"{name}_2_conv", padding="same", temporal_kernel=temporal_kernel)
    x = _conv_unit(x, conv2, f"{name}_2", relu=True, order=order)
    x = _conv_unit(x, _conv(rank, 4 * filters, 1, f"{name}_3_conv"), f"{name}_3", relu=third_relu, order=order)
    if cbam is not None and not cbam_after_add:
        x = CBAM(rank=rank, name=f"{name}_cbam", **cbam)(x)
    x = layers.Add(name=f"{name}_add")([shortcut, x])
    if post_add_activation != "none":
        x = layers.Activation("relu", name=f"{name}_out")(x)
    if cbam is not None and cbam_after_add:
        x = CBAM(rank=rank, name=f"{name}_cbam", **cbam)(x)
    return x


def _stage_stride(rank, stage, temporal_strides):
    """Stride of a stage's first block: 2 in space from ``conv3`` on; in time per ``temporal_strides``."""
    if stage == 0:
        return 1
    if rank == 2 or temporal_strides == "stages_3_to_5":
        return 2
    return (1, 2, 2)


def _stages(x, *, rank, options: ResNetOptions, cbam, temporal_kernel):
    """The four stages of bottlenecks; ``cbam_position="every_other_block"`` gives CBAM to the network's
    1st, 3rd, 5th, ... block counted over all stages (the others have none)."""
    blocks, width = options.blocks, options.width
    if len(blocks) != 4 or any(int(b) < 1 for b in blocks):
        raise ValueError(f"blocks must be 4 positive ints (bottlenecks per stage), got {blocks!r}")
    if int(width) < 1:
        raise ValueError(f"width must be a positive int, got {width!r}")
    _check_choice("bottleneck_order", options.bottleneck_order)
    _check_choice("shortcut_projection", options.shortcut_projection)
    _check_choice("post_add_activation", options.post_add_activation)
    _check_choice("temporal_strides", options.temporal_strides)
    _check_choice("cbam_position", options.cbam_position)
    block_number = 0
    for stage, (count, multiplier) in enumerate(zip(blocks, (1, 2, 4, 8))):
        stage_name = f"conv{stage + 2}"
        for index in range(1, int(count) + 1):
            block_number += 1
            skip_cbam = options.cbam_position == "every_other_block" and block_number % 2 == 0
            x = bottleneck_block(
                x,
                int(width) * multiplier,
                rank=rank,
                stride=_stage_stride(rank, stage, options.temporal_strides) if index == 1 else 1,
                conv_shortcut=index == 1 or options.shortcut_projection == "every_block",
                cbam=None if skip_cbam else cbam,
                temporal_kernel=temporal_kernel,
                order=options.bottleneck_order,
                third_relu=bool(options.bottleneck_third_relu),
                post_add_activation=options.post_add_activation,
                cbam_after_add=options.cbam_position == "after_add",
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


def _cbam_kwargs(cbam, options: ResNetOptions, spatial_kernel):
    if not cbam:
        return None
    return {"reduction": options.cbam_reduction, "gate": options.cbam_gate, "spatial_kernel": spatial_kernel}


def block_options(config) -> dict:
    """The Fig. 5 reading switches of ``config`` (fields of ``ResNetOptions``, 2D and 3D alike)."""
    return {
        "cbam_spatial_kernel": config.cbam_spatial_kernel,
        "bottleneck_order": config.bottleneck_order,
        "bottleneck_third_relu": config.bottleneck_third_relu,
        "shortcut_projection": config.shortcut_projection,
        "post_add_activation": config.post_add_activation,
        "cbam_position": config.cbam_position,
    }


@dataclass(frozen=True)
class ResNetOptions:
    """The architecture switches of the ResNet builders; the defaults are Keras' ResNet50 (v1).

    ``blocks``: bottlenecks per stage; ``width``: the stages have width * (1, 2, 4, 8) filters.
    CBAM (with ``cbam=True``): ``cbam_reduction``, ``cbam_gate``, its spatial conv
    ``cbam_spatial_kernel`` (k x k, in 3D k x k x k or ``cbam_temporal_kernel`` x k x k) and
    ``cbam_position``. The readings of Fig. 5's text are ``bottleneck_block``'s switches
    (``bottleneck_order``, ``bottleneck_third_relu``, ``shortcut_projection``,
    ``post_add_activation``). 3D only: ``temporal_kernel``, the time extent of the 3x3x3 convs
    and, unless ``stem_temporal_kernel`` is given, of the stem; ``temporal_strides``
    ``stages_3_to_5`` halves time with space at the first block of ``conv3``..``conv5``,
    ``none`` keeps every frame.
    """

    blocks: tuple[int, ...] = RESNET50_BLOCKS
    width: int = 64
    cbam_reduction: int = 16
    cbam_gate: str = "sigmoid"
    cbam_spatial_kernel: int = 7
    cbam_temporal_kernel: int | None = None
    cbam_position: str = "after_third_conv"
    bottleneck_order: str = "bn_relu"
    bottleneck_third_relu: bool = False
    shortcut_projection: str = "first_block"
    post_add_activation: str = "relu"
    temporal_kernel: int = 3
    stem_temporal_kernel: int | None = None
    temporal_strides: str = "stages_3_to_5"

    @classmethod
    def from_config(cls, config) -> ResNetOptions:
        """The model fields of ``config``."""
        return cls(
            blocks=tuple(config.blocks),
            width=config.width,
            cbam_reduction=config.cbam_reduction,
            cbam_gate=config.cbam_gate,
            stem_temporal_kernel=config.stem_temporal_kernel,
            temporal_strides=config.temporal_strides,
            **block_options(config),
        )


def build_resnet50_2d(
    input_shape, num_classes, options: ResNetOptions | None = None, *, cbam=False, name="resnet50"
) -> keras.Model:
    """2D ResNet50 (Table 4 methods 1-2; with ``cbam=True`` the Fer2013 pretraining net).

    With the default ``options`` and ``cbam=False`` this is ``keras.applications.ResNet50(
    weights=None)`` layer for layer (25,636,712 parameters at (224, 224, 3) / 1000).
    The bottleneck switches are ``bottleneck_block``'s, so the 2D twin of a 3D model
    (the same ``options``) has the same layers to inflate from.
    """
    options = options or ResNetOptions()
    input_shape = _check_input_shape(input_shape, 2, "build_resnet50_2d")
    inputs = keras.Input(shape=input_shape)
    x = layers.ZeroPadding2D(padding=((3, 3), (3, 3)), name="conv1_pad")(inputs)
    x = layers.Conv2D(int(options.width), 7, strides=2, name="conv1_conv")(x)
    x = _batch_norm("conv1_bn")(x)
    x = layers.Activation("relu", name="conv1_relu")(x)
    x = layers.ZeroPadding2D(padding=((1, 1), (1, 1)), name="pool1_pad")(x)
    x = layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)
    cbam_kwargs = _cbam_kwargs(cbam, options, int(options.cbam_spatial_kernel))
    x = _stages(x, rank=2, options=options, cbam=cbam_kwargs, temporal_kernel=1)
    return keras.Model(inputs, _classifier(x, num_classes, 2), name=name)


def build_resnet3d(
    input_shape,
    num_classes,
    options: ResNetOptions | None = None,
    *,
    cbam=False,
    pretrained=None,
    name="resnet3d_50",
) -> keras.Model:
    """3D ResNet50 on (T, H, W, C) flow sequences (Table 4 method 3; paper §2.2.1).

    Setting ``options.temporal_kernel`` and ``options.cbam_temporal_kernel`` to 1 gives a
    frame-wise 2D network (used to test inflation). ``pretrained`` = path of a saved 2D
    ``.keras`` model to inflate from.
    """
    options = options or ResNetOptions()
    input_shape = _check_input_shape(input_shape, 3, "build_resnet3d")
    kt = int(options.temporal_kernel)
    if kt < 1:
        raise ValueError(f"temporal_kernel must be >= 1, got {options.temporal_kernel!r}")
    stem_kt = kt if options.stem_temporal_kernel is None else int(options.stem_temporal_kernel)
    if stem_kt < 1:
        raise ValueError(f"stem_temporal_kernel must be >= 1, got {options.stem_temporal_kernel!r}")
    spatial = int(options.cbam_spatial_kernel)
    cbam_kt = spatial if options.cbam_temporal_kernel is None else int(options.cbam_temporal_kernel)
    inputs = keras.Input(shape=input_shape)
    x = layers.ZeroPadding3D(padding=((stem_kt // 2, (stem_kt - 1) // 2), (3, 3), (3, 3)), name="conv1_pad")(inputs)
    x = _conv(3, int(options.width), 7, "conv1_conv", strides=(1, 2, 2), temporal_kernel=stem_kt)(x)
    x = _batch_norm("conv1_bn")(x)
    x = layers.Activation("relu", name="conv1_relu")(x)
    x = layers.ZeroPadding3D(padding=((0, 0), (1, 1), (1, 1)), name="pool1_pad")(x)
    x = layers.MaxPooling3D((1, 3, 3), strides=(1, 2, 2), name="pool1_pool")(x)
    cbam_kwargs = _cbam_kwargs(cbam, options, (cbam_kt, spatial, spatial))
    x = _stages(x, rank=3, options=options, cbam=cbam_kwargs, temporal_kernel=kt)
    model = keras.Model(inputs, _classifier(x, num_classes, 3), name=name)
    if pretrained:
        load_inflated(model, pretrained)
    return model


def build_me_resnet(
    input_shape, num_classes, options: ResNetOptions | None = None, *, pretrained=None, name="me_resnet"
) -> keras.Model:
    """ME-ResNet = 3D ResNet50 with CBAM in every Bottleneck3D (Table 4 method 4).

    At the paper's settings ((10, 112, 112, 3), 3 classes, the default ``options``) it has
    48,789,139 parameters (``tests/models/test_resnet.py`` derives the number).
    """
    return build_resnet3d(input_shape, num_classes, options, cbam=True, pretrained=pretrained, name=name)


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
