"""One small Keras model, F independent copies: forward pass and Adam with a leading fold axis.

``StackedModel`` walks a built functional Keras model layer by layer and runs
it for F folds at once with ``keras.ops``. Every weight is stored stacked,
``(F, *shape)``, keyed by the Keras variable's ``path``, so fold ``f``'s weights
are ``[stacked[v.path][f] for v in model.weights]`` (``model.set_weights`` order).

Activations carry the fold axis just before the channels: ``(B, H, W, F, C)``
for images, ``(B, F, D)`` after ``Flatten``. Channel-wise operations (pooling,
activations, dropout) then run once for all folds on ``(B, H, W, F*C)``; dense
layers are one batched matmul (``einsum("...fi,fio->...fo")``).

Two kinds of input:

- ``SharedRows``: one batch of raw clips that every fold sees through its own
  training-fold standardisation ``(x - mean_f) / std_f``. A ``Conv2D`` on it is
  ONE convolution with F * filters outputs: the standardisation is folded into
  the kernel (``W_f / std_f``) and its ``mean_f`` part, including the zero
  padding at the borders, is removed exactly by the same kernels convolved with
  an all-ones image (``conv(pad0((x-m)/s), W) = conv(pad0(x), W/s) - conv(pad0(1), W*m/s)``).
- a per-fold tensor ``(B, H, W, F, C)`` (each fold its own clips): a ``Conv2D``
  on it is one convolution per fold (TensorFlow's CPU grouped-convolution
  gradient is unavailable).

Batch-norm moments in training mode are masked by ``member`` (B, F): row ``b``
counts for fold ``f`` only where ``member[b, f]``; the loss uses the same mask,
so a clip outside a fold's training set reaches neither its loss, gradients nor
batch statistics. Dropout draws an independent mask for every element, so
every fold has its own masks.

Supported layers: ``SUPPORTED_LAYERS``; anything else raises ``ValueError``
(``me_resnet.parallel.engine_choice.choose_engine`` then picks the per-fold loop).
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

from me_resnet.models.baselines import SelectChannels
from me_resnet.utils.framework_internals import is_layer_graph

SUPPORTED_LAYERS = (
    layers.InputLayer,
    layers.Conv2D,
    layers.BatchNormalization,
    layers.Dense,
    layers.Dropout,
    layers.ReLU,
    layers.Activation,
    layers.MaxPooling2D,
    layers.AveragePooling2D,
    layers.Concatenate,
    layers.Flatten,
    SelectChannels,
)


class SharedRows:
    """Raw clips ``x`` (B, H, W, C) seen by fold ``f`` as ``(x - mean[f]) / std[f]`` (mean, std: (F, C))."""

    def __init__(self, x, mean, std):
        self.x, self.mean, self.std = x, mean, std

    def select(self, indices):
        take = list(indices)
        return SharedRows(
            ops.take(self.x, take, axis=-1), ops.take(self.mean, take, axis=-1), ops.take(self.std, take, axis=-1)
        )

    def per_fold(self):
        """The standardised clips of every fold, (B, H, W, F, C)."""
        return (ops.expand_dims(self.x, -2) - self.mean) / self.std


def unsupported_layers(model) -> list[str]:
    """Names and types of the layers ``StackedModel`` cannot run (empty: the model is supported)."""
    problems = []
    if not is_layer_graph(model):
        return [f"{type(model).__name__} (not a functional keras.Model)"]
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        problems.append(f"{model.name}: {len(model.inputs)} inputs / {len(model.outputs)} outputs (need 1 / 1)")
    for layer in model.layers:
        if not isinstance(layer, SUPPORTED_LAYERS):
            problems.append(f"{layer.name} ({type(layer).__name__})")
        elif isinstance(layer, layers.Conv2D) and (
            layer.groups != 1 or tuple(layer.dilation_rate) != (1, 1) or layer.data_format != "channels_last"
        ):
            problems.append(f"{layer.name} (Conv2D with groups/dilation/channels_first)")
        elif isinstance(layer, layers.Dropout) and layer.noise_shape is not None:
            problems.append(f"{layer.name} (Dropout with noise_shape)")
        elif isinstance(layer, layers.BatchNormalization) and (
            layer.axis not in (-1, len(layer.input.shape) - 1) or layer.renorm
        ):
            problems.append(f"{layer.name} (BatchNormalization not on the last axis, or renorm)")
        elif isinstance(layer, layers.Concatenate) and layer.axis not in (-1, len(layer.output.shape) - 1):
            problems.append(f"{layer.name} (Concatenate not on the last axis)")
        elif isinstance(layer, (layers.MaxPooling2D, layers.AveragePooling2D)) and layer.data_format != "channels_last":
            problems.append(f"{layer.name} (channels_first pooling)")
    return problems


class StackedModel:
    """F copies of ``model`` (same initial weights): ``forward`` runs them all at once.

    Args:
        model: a built functional Keras model made of ``SUPPORTED_LAYERS``.
        folds: F, the number of copies.
    """

    def __init__(self, model, folds: int):
        problems = unsupported_layers(model)
        if problems:
            raise ValueError(f"the fold-parallel engine cannot run model {model.name!r}: unsupported {problems}")
        if folds < 1:
            raise ValueError(f"folds must be >= 1, got {folds}")
        self.model, self.folds = model, int(folds)
        self.trainable_paths = [v.path for v in model.trainable_weights]
        self.weight_paths = [v.path for v in model.weights]
        self.moving_paths = [p for p in self.weight_paths if p not in set(self.trainable_paths)]

    def initial_weights(self) -> dict[str, np.ndarray]:
        """Every weight of ``model`` repeated F times on a new leading axis."""
        return {v.path: np.repeat(np.asarray(v.numpy())[None], self.folds, axis=0) for v in self.model.weights}

    def fold_weights(self, stacked: dict[str, np.ndarray], fold: int) -> list[np.ndarray]:
        """Fold ``fold``'s weights in ``model.get_weights()`` order."""
        return [np.asarray(stacked[path][fold]) for path in self.weight_paths]

    def forward(self, weights: dict, inputs, training: bool, member=None, seed_generator=None):
        """Class probabilities (B, F, K) and, in training, the new BN moving statistics ``{path: (F, C)}``.

        ``inputs``: ``SharedRows`` or a per-fold tensor (B, H, W, F, C).
        ``member`` (B, F) float: which rows count for which fold (training only).
        """
        values = {id(self.model.inputs[0]): inputs}
        moving = {}
        for layer in self.model.layers:
            if isinstance(layer, layers.InputLayer):
                continue
            sources = layer.input if isinstance(layer.input, (list, tuple)) else [layer.input]
            args = [values[id(tensor)] for tensor in sources]
            values[id(layer.output)] = self._layer(layer, args, weights, training, member, seed_generator, moving)
        return values[id(self.model.outputs[0])], moving

    def _layer(self, layer, args, weights, training, member, seed_generator, moving):
        x = args[0]
        if isinstance(layer, SelectChannels):
            return x.select(layer.indices) if isinstance(x, SharedRows) else ops.take(x, list(layer.indices), axis=-1)
        if isinstance(layer, layers.Conv2D):
            return self._conv(layer, x, weights)
        if isinstance(x, SharedRows):
            x = x.per_fold()
        if isinstance(layer, layers.Concatenate):
            args = [a.per_fold() if isinstance(a, SharedRows) else a for a in args]
            return ops.concatenate(args, axis=-1)
        if isinstance(layer, (layers.ReLU, layers.Activation)):
            return layer.call(x)
        if isinstance(layer, layers.Dense):
            kernel = weights[layer.kernel.path]
            if len(x.shape) == 3:  # (B, F, I): a batched matmul over folds, whose gradients stay batched matmuls
                y = ops.transpose(ops.matmul(ops.transpose(x, (1, 0, 2)), kernel), (1, 0, 2))
            else:
                y = ops.einsum("...fi,fio->...fo", x, kernel)
            if layer.use_bias:
                y = y + weights[layer.bias.path]
            return layer.activation(y)
        if isinstance(layer, layers.Flatten):
            if len(x.shape) == 3:
                return x
            rank = len(x.shape)  # (B, ..., F, C) -> (B, F, ..., C) -> (B, F, D): Keras' per-model flatten order
            x = ops.transpose(x, (0, rank - 2) + tuple(range(1, rank - 2)) + (rank - 1,))
            return ops.reshape(x, (ops.shape(x)[0], self.folds, -1))
        if isinstance(layer, (layers.MaxPooling2D, layers.AveragePooling2D)):
            batch, height, width, folds, channels = ops.shape(x)
            pool = ops.max_pool if isinstance(layer, layers.MaxPooling2D) else ops.average_pool
            y = pool(
                ops.reshape(x, (batch, height, width, folds * channels)), layer.pool_size, layer.strides, layer.padding
            )
            return ops.reshape(y, (batch, y.shape[1], y.shape[2], folds, channels))
        if isinstance(layer, layers.Dropout):
            if not training or layer.rate == 0:
                return x
            return keras.random.dropout(x, layer.rate, seed=seed_generator)
        if isinstance(layer, layers.BatchNormalization):
            return self._batch_norm(layer, x, weights, training, member, moving)
        raise AssertionError(f"unsupported layer {layer.name} passed the support check")

    def _conv(self, layer, x, weights):
        kernel = weights[layer.kernel.path]  # (F, kh, kw, C, O)
        filters = layer.filters
        if isinstance(x, SharedRows):
            scale = ops.reshape(1.0 / x.std, (self.folds, 1, 1, -1, 1))
            shift = ops.reshape(x.mean, (self.folds, 1, 1, -1, 1))

            def all_folds(k):  # (F, kh, kw, C, O) -> (kh, kw, C, F*O)
                k = ops.transpose(k, (1, 2, 3, 0, 4))
                return ops.reshape(k, k.shape[:3] + (self.folds * filters,))

            ones = ops.ones((1,) + tuple(x.x.shape[1:]), dtype=x.x.dtype)
            offset = -ops.conv(ones, all_folds(kernel * scale * shift), layer.strides, layer.padding)
            offset = ops.reshape(offset, offset.shape[1:3] + (self.folds, filters))  # (Ho, Wo, F, O)
            if layer.use_bias:  # bias and mean correction: ONE broadcast add over the batch, not two
                offset = offset + weights[layer.bias.path]
            y = ops.conv(x.x, all_folds(kernel * scale), layer.strides, layer.padding)
            y = ops.reshape(y, (ops.shape(y)[0], y.shape[1], y.shape[2], self.folds, filters)) + offset
            return layer.activation(y)
        # unstack, not x[..., f, :]: a slice's gradient is a full-size tensor per fold, unstack's is one stack
        pairs = zip(ops.unstack(x, axis=3), ops.unstack(kernel, axis=0))
        y = ops.stack([ops.conv(x_f, kernel_f, layer.strides, layer.padding) for x_f, kernel_f in pairs], axis=3)
        if layer.use_bias:
            y = y + weights[layer.bias.path]
        return layer.activation(y)

    def _batch_norm(self, layer, x, weights, training, member, moving):
        gamma = weights[layer.gamma.path] if layer.scale else ops.ones(x.shape[-2:], x.dtype)
        beta = weights[layer.beta.path] if layer.center else ops.zeros(x.shape[-2:], x.dtype)
        if not training:
            inverse = ops.rsqrt(weights[layer.moving_variance.path] + layer.epsilon) * gamma
            return x * inverse + (beta - weights[layer.moving_mean.path] * inverse)
        y, mean, variance, count = masked_batch_norm(x, gamma, beta, member, layer.epsilon)
        momentum = layer.momentum
        has_rows = count > 0
        old_mean, old_var = weights[layer.moving_mean.path], weights[layer.moving_variance.path]
        moving[layer.moving_mean.path] = ops.where(has_rows, old_mean * momentum + mean * (1.0 - momentum), old_mean)
        moving[layer.moving_variance.path] = ops.where(
            has_rows, old_var * momentum + variance * (1.0 - momentum), old_var
        )
        return y


def masked_batch_norm(x, gamma, beta, member, epsilon: float):
    """Training-mode batch norm of x (B, ..., F, C) with fold f's moments over the rows where ``member[:, f]``.

    Returns (y, mean, variance, count): y like x; mean and variance (F, C) of
    the fold's own rows (every spatial position); count (F, 1) values per
    channel. The gradient is written out (``ops.custom_gradient``) as the
    standard batch-norm backward with the member mask: a few passes over x
    instead of the dozen that differentiating the masked sums would take.
    Moments, count and the mask carry no gradient.
    """
    spatial = tuple(range(1, len(x.shape) - 2))
    per_row = float(np.prod(x.shape[1:-2])) if spatial else 1.0
    rows = ops.expand_dims(ops.cast(member, x.dtype), -1)  # (B, F, 1)
    count = ops.sum(rows, axis=0) * per_row  # (F, 1)
    safe = ops.maximum(count, 1.0)
    row_shape = (-1,) + (1,) * len(spatial) + tuple(x.shape[-2:])  # (B, 1.., F, C) for per-row coefficients

    def per_row_sum(t):  # (B, ..., F, C) -> (B, F, C)
        return ops.sum(t, axis=spatial) if spatial else t

    def moments(x):
        mean = ops.sum(per_row_sum(x) * rows, axis=0) / safe
        raw = ops.sum(per_row_sum(ops.square(x)) * rows, axis=0) / safe - ops.square(mean)
        return mean, raw

    # the moments go in as arguments, so the custom-gradient function has one output (the PyTorch backend's
    # custom_gradient takes one upstream gradient); dx below already holds their dependence on x
    mean, raw = moments(ops.stop_gradient(x))

    @ops.custom_gradient
    def normalise(x, gamma, beta, mean, raw):
        variance = ops.maximum(raw, 0.0)
        inverse = ops.rsqrt(variance + epsilon) * gamma  # (F, C)
        y = x * inverse + (beta - mean * inverse)

        def grad(*args, upstream=None):
            dy = args[0] if upstream is None else upstream
            total = ops.sum(per_row_sum(dy), axis=0)  # (F, C): sum of dy over all rows
            moment = ops.sum(per_row_sum(dy * x), axis=0)  # sum of dy * x
            centred = moment - mean * total  # sum of dy * (x - mean)
            d_variance = ops.where(raw > 0, -0.5 * centred * inverse / (variance + epsilon), 0.0)
            d_mean = -inverse * total - 2.0 * mean * d_variance
            # mean and E[x^2] take x of the fold's own rows: d/dx = member / count and 2 x member / count
            scale = ops.reshape(rows * (2.0 * d_variance / safe), row_shape)
            shift = ops.reshape(rows * (d_mean / safe), row_shape)
            dx = dy * inverse + x * scale + shift
            d_gamma = centred * ops.rsqrt(variance + epsilon)
            return dx, d_gamma, total, ops.zeros_like(mean), ops.zeros_like(raw)

        return y, grad

    return normalise(x, gamma, beta, mean, raw), mean, ops.maximum(raw, 0.0), count


def per_fold_loss(probabilities, targets, member, loss: str, alpha=None, gamma: float = 2.0):
    """Masked mean loss of every fold (F,): Keras' ``sum_over_batch_size`` over the fold's own rows.

    ``probabilities`` (B, F, K) softmax outputs; ``targets`` (B, K) or (B, F, K) one-hot;
    ``member`` (B, F); ``alpha`` (F, K) per-fold focal weights or None.
    """
    if len(targets.shape) == 2:  # shared rows: the same targets for every fold
        targets = ops.broadcast_to(ops.expand_dims(targets, 1), ops.shape(probabilities))
    if loss == "crossentropy":
        per_row = keras.losses.categorical_crossentropy(targets, probabilities)
    elif loss == "focal":
        per_row = keras.losses.categorical_focal_crossentropy(
            targets, probabilities, alpha=1.0 if alpha is None else alpha, gamma=gamma
        )
    else:
        raise ValueError(f"loss must be 'focal' or 'crossentropy', got {loss!r}")
    return ops.sum(per_row * member, axis=0) / ops.maximum(ops.sum(member, axis=0), 1.0)


class StackedAdam:
    """Keras' Adam update (``keras.optimizers.Adam``) with one step counter per fold.

    A fold whose ``update`` flag is off (no training row in the batch, or
    stopped early) keeps its weights, moments and step count, as if the step
    never happened for it.
    """

    def __init__(self, learning_rate: float, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
        self.learning_rate, self.beta_1, self.beta_2, self.epsilon = float(learning_rate), beta_1, beta_2, epsilon

    def apply(self, variable, gradient, m, v, step, update):
        """New (variable, m, v) for stacked tensors; ``step`` (F,) float = each fold's count after this step.

        A fold with ``update == 0`` gets zero rates, so its variable and moments
        come back unchanged (x + 0 == x) without a select over the weights.
        """
        shape = (-1,) + (1,) * (len(variable.shape) - 1)
        # at least 1: a fold skipped before its first update (step 0) would get 0/0 = NaN rates, and NaN * 0 is NaN
        local_step = ops.reshape(ops.maximum(step, 1.0), shape)
        on = ops.reshape(update, shape)
        beta_1_power = ops.power(ops.cast(self.beta_1, variable.dtype), local_step)
        beta_2_power = ops.power(ops.cast(self.beta_2, variable.dtype), local_step)
        alpha = self.learning_rate * ops.sqrt(1 - beta_2_power) / (1 - beta_1_power)
        new_m = m + (gradient - m) * ((1 - self.beta_1) * on)
        new_v = v + (ops.square(gradient) - v) * ((1 - self.beta_2) * on)
        new_variable = variable - (new_m * (alpha * on)) / (ops.sqrt(new_v) + self.epsilon)
        return new_variable, new_m, new_v
