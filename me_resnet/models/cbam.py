"""CBAM attention as a Keras 3 layer, for 2D and 3D feature maps (paper §2.2.2).

ME-ResNet puts CBAM on the output of the third convolution of every
Bottleneck3D by default (paper §2.2.2, Fig. 5-6, eq. (10)-(14); other places:
``Config.cbam_position``, docs/interpretations.md). The same class serves the
2D ResNet50-CBAM that is pretrained on Fer2013 and inflated into 3D.
"""

from __future__ import annotations

import keras
from keras import layers, ops

from me_resnet.config import field_choices


def _softmax_over(x, axes):
    """Softmax of ``x`` normalised jointly over ``axes`` (numerically stable)."""
    shifted = x - ops.max(x, axis=axes, keepdims=True)
    exponentials = ops.exp(shifted)
    return exponentials / ops.sum(exponentials, axis=axes, keepdims=True)


def _spatial_kernel_tuple(spatial_kernel, rank: int) -> tuple[int, ...]:
    if isinstance(spatial_kernel, int):
        kernel = (spatial_kernel,) * rank
    else:
        kernel = tuple(int(k) for k in spatial_kernel)
    if len(kernel) != rank or any(k < 1 for k in kernel):
        raise ValueError(f"CBAM spatial_kernel must be a positive int or {rank} positive ints, got {spatial_kernel!r}")
    return kernel


@keras.saving.register_keras_serializable(package="me_resnet")
class CBAM(layers.Layer):
    """Convolutional Block Attention Module (Woo et al., ECCV 2018).

    Channel attention then spatial attention, each multiplied onto the features:

    - channel: ``a_c = gate(MLP(avgpool(x)) + MLP(maxpool(x)))`` with a shared
      MLP ``Dense(C // reduction, relu) -> Dense(C)`` (paper eq. (10)-(12));
    - spatial: ``b = gate(Conv(1, spatial_kernel)(concat(mean_c(x'), max_c(x'))))``
      on the channel-refined ``x' = a_c * x`` (eq. (13)-(14)); the conv has no
      bias, as in the CBAM reference code (its BatchNorm is left out).

    ``gate="sigmoid"`` (default) is CBAM's own gate and the paper's text.
    ``gate="softmax"`` is the literal reading of eq. (12)/(14): a softmax over
    the channels for ``a_c`` and over all spatial(-temporal) positions for ``b``,
    so each map sums to 1 (which also scales the features down by ~C and ~H*W*T).

    Args:
        rank: 2 for (batch, H, W, C) inputs, 3 for (batch, T, H, W, C).
        reduction: MLP reduction ratio r; the hidden width is ``max(1, C // r)``.
        gate: ``"sigmoid"`` or ``"softmax"``.
        spatial_kernel: int or ``rank`` ints, kernel of the spatial-attention
            conv (7 -> 7x7 or 7x7x7).
        return_attention: if True, ``call`` returns ``(output, channel_map,
            spatial_map)`` instead of ``output``.

    Shapes: output = input, channels last. ``channel_map`` is (batch, C),
    ``spatial_map`` is (batch, *spatial, 1).
    """

    def __init__(self, rank=2, reduction=16, gate="sigmoid", spatial_kernel=7, return_attention=False, **kwargs):
        super().__init__(**kwargs)
        if rank not in (2, 3):
            raise ValueError(f"CBAM rank must be 2 or 3, got {rank!r}")
        if int(reduction) < 1:
            raise ValueError(f"CBAM reduction must be >= 1, got {reduction!r}")
        if gate not in field_choices("cbam_gate"):
            raise ValueError(f"CBAM gate must be one of {field_choices('cbam_gate')}, got {gate!r}")
        self.rank = int(rank)
        self.reduction = int(reduction)
        self.gate = gate
        self.spatial_kernel = _spatial_kernel_tuple(spatial_kernel, self.rank)
        self.return_attention = bool(return_attention)
        conv_class = layers.Conv2D if self.rank == 2 else layers.Conv3D
        self.spatial_conv = conv_class(1, self.spatial_kernel, padding="same", use_bias=False, name="spatial_conv")
        self.mlp_hidden = None
        self.mlp_out = None

    def build(self, input_shape):
        if len(input_shape) != self.rank + 2:
            raise ValueError(f"CBAM(rank={self.rank}) expects inputs of rank {self.rank + 2}, got shape {input_shape}")
        channels = input_shape[-1]
        if channels is None:
            raise ValueError(f"CBAM needs a known channel count, got input shape {input_shape}")
        hidden = max(1, channels // self.reduction)
        self.mlp_hidden = layers.Dense(hidden, activation="relu", name="mlp_hidden", dtype=self.dtype_policy)
        self.mlp_out = layers.Dense(channels, name="mlp_out", dtype=self.dtype_policy)
        self.mlp_hidden.build((None, channels))
        self.mlp_out.build((None, hidden))
        self.spatial_conv.build(tuple(input_shape[:-1]) + (2,))

    def _gate(self, scores, axes):
        # Gates run in float32 under mixed precision: a softmax over T*H*W positions
        # gives maps of ~1/31360 at stage 2, subnormal in float16.
        scores = ops.cast(scores, "float32")
        gated = ops.sigmoid(scores) if self.gate == "sigmoid" else _softmax_over(scores, axes)
        return ops.cast(gated, self.compute_dtype)

    def _attend(self, inputs):
        spatial_axes = tuple(range(1, self.rank + 1))
        average = ops.mean(inputs, axis=spatial_axes)
        maximum = ops.max(inputs, axis=spatial_axes)
        channel_scores = self.mlp_out(self.mlp_hidden(average)) + self.mlp_out(self.mlp_hidden(maximum))
        channel_map = self._gate(channel_scores, (-1,))
        broadcast_shape = (-1,) + (1,) * self.rank + (channel_map.shape[-1],)
        refined = inputs * ops.reshape(channel_map, broadcast_shape)
        pooled = ops.concatenate(
            [ops.mean(refined, axis=-1, keepdims=True), ops.max(refined, axis=-1, keepdims=True)], axis=-1
        )
        spatial_map = self._gate(self.spatial_conv(pooled), spatial_axes)
        return refined * spatial_map, channel_map, spatial_map

    def call(self, inputs):
        output, channel_map, spatial_map = self._attend(inputs)
        if self.return_attention:
            return output, channel_map, spatial_map
        return output

    def attention_maps(self, inputs):
        """``{"channel": (batch, C), "spatial": (batch, *spatial, 1)}`` for ``inputs`` (eager)."""
        inputs = ops.convert_to_tensor(inputs, dtype=self.compute_dtype)
        if not self.built:
            self.build(tuple(inputs.shape))
        _, channel_map, spatial_map = self._attend(inputs)
        return {"channel": channel_map, "spatial": spatial_map}

    def compute_output_shape(self, input_shape):
        if self.return_attention:
            spatial = tuple(input_shape[:-1]) + (1,)
            return tuple(input_shape), (input_shape[0], input_shape[-1]), spatial
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "rank": self.rank,
                "reduction": self.reduction,
                "gate": self.gate,
                "spatial_kernel": list(self.spatial_kernel),
                "return_attention": self.return_attention,
            }
        )
        return config
