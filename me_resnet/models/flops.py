"""Forward FLOPs per sample from layer shapes (for ``benchmarks/model_throughput.py``).

Counted: convolutions and dense layers, ``2 * multiply-adds`` (one multiply +
one add), biases ignored; CBAM's MLP (run on the avg- and the max-pooled
vector) and its spatial conv. Not counted: BatchNorm (foldable into the conv at
inference), activations, pooling, the residual add and CBAM's element-wise
products, all O(activations) and well under 1 % of a ResNet's convs.
A training step is taken as 3x the forward FLOPs (forward + two backward GEMMs).
"""

from __future__ import annotations

import math

import keras

from me_resnet.models.cbam import CBAM


def _conv_flops(kernel_shape, output_shape) -> int:
    *window, cin, cout = kernel_shape
    positions = math.prod(int(d) for d in output_shape[1:-1])
    return 2 * math.prod(window) * int(cin) * int(cout) * positions


def _cbam_flops(layer: CBAM, input_shape) -> int:
    channels = int(input_shape[-1])
    hidden = int(layer.mlp_hidden.units)
    mlp = 2 * 2 * (channels * hidden + hidden * channels)  # shared MLP on two pooled vectors
    return mlp + _conv_flops(tuple(layer.spatial_conv.kernel.shape), tuple(input_shape[:-1]) + (1,))


def count_layer_flops(model: keras.Model) -> dict[str, int]:
    """Forward FLOPs for one sample, per layer name, of the layers that have counted FLOPs."""
    flops = {}
    for layer in model.layers:
        if isinstance(layer, (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D)):
            if getattr(layer, "groups", 1) != 1:
                raise ValueError(f"count_flops: grouped conv {layer.name} not supported")
            flops[layer.name] = _conv_flops(tuple(layer.kernel.shape), tuple(layer.output.shape))
        elif isinstance(layer, keras.layers.Dense):
            flops[layer.name] = (
                2 * math.prod(int(d) for d in layer.kernel.shape) * math.prod(int(d) for d in layer.input.shape[1:-1])
            )
        elif isinstance(layer, CBAM):
            flops[layer.name] = _cbam_flops(layer, tuple(layer.input.shape))
    return flops


def count_flops(model: keras.Model) -> int:
    """Forward FLOPs for one sample of ``model`` (a built Functional model with static shapes)."""
    return sum(count_layer_flops(model).values())
