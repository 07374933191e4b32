"""The fold-parallel engine's state and its train and evaluate steps, one class per Keras backend.

``EngineSteps`` holds the stacked weights, their best-epoch copies, Adam's
moments and per-fold step counts and the dropout seed as ``keras.Variable``s,
and the step's math in ``keras.ops`` (``StackedModel.forward``,
``per_fold_loss``, ``StackedAdam``). The subclasses differ only in how a step
is compiled and differentiated:

- ``CompiledSteps`` (TensorFlow): ``tf.function`` around a ``GradientTape``;
  Adam's update is one XLA computation (``fused_adam``).
- ``TorchSteps`` (PyTorch): eager ops, ``torch.autograd.grad``.
- ``JaxSteps`` (JAX): ``jax.jit`` of a pure step (``jax.value_and_grad``); its
  results are assigned to the variables after each call.

``make_steps`` picks the class of the running backend. Every public method
takes and returns NumPy arrays.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from me_resnet.config import Config
from me_resnet.parallel.engine_state import FoldData
from me_resnet.parallel.stacked_model import SharedRows, StackedAdam, StackedModel, per_fold_loss


def make_steps(stacked: StackedModel, data: FoldData, config: Config, fused_adam: bool = True) -> EngineSteps:
    """The engine's steps for the running Keras backend (``fused_adam``: TensorFlow only)."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        return CompiledSteps(stacked, data, config, fused_adam)
    if backend == "torch":
        return TorchSteps(stacked, data, config)
    if backend == "jax":
        return JaxSteps(stacked, data, config)
    raise ValueError(f"the fold-parallel engine runs on tensorflow, torch or jax, not on {backend!r}")


class EngineSteps:
    """Stacked weights, best-epoch copies, Adam state and dropout seed of F folds; the math of one step.

    ``train_step(x, targets, member, update)`` trains every fold on one shared
    batch (forward, masked loss, gradients, Adam, BN moving statistics) and
    returns the per-fold losses; ``evaluate(x, targets, mask)`` predicts
    per-fold clips in inference mode; ``snapshot(chosen)`` copies the chosen
    folds' weights to their best weights.
    """

    def __init__(self, stacked: StackedModel, data: FoldData, config: Config):
        self.stacked, self.config = stacked, config
        initial = stacked.initial_weights()
        trainable = set(stacked.trainable_paths)
        self.paths = list(initial)
        self.weights = {
            p: keras.Variable(a, trainable=p in trainable, name=f"w{i}") for i, (p, a) in enumerate(initial.items())
        }
        self.best = {p: keras.Variable(a, trainable=False, name=f"best{i}") for i, (p, a) in enumerate(initial.items())}
        zeros = {p: np.zeros_like(initial[p]) for p in stacked.trainable_paths}
        self.m = {p: keras.Variable(z, trainable=False, name=f"m{i}") for i, (p, z) in enumerate(zeros.items())}
        self.v = {p: keras.Variable(z, trainable=False, name=f"v{i}") for i, (p, z) in enumerate(zeros.items())}
        self.steps = keras.Variable(np.zeros(stacked.folds, np.float32), trainable=False, name="steps")
        self.seed = keras.random.SeedGenerator(config.seed)
        self.mean = ops.convert_to_tensor(data.mean)
        self.std = ops.convert_to_tensor(data.std)
        self.alpha = None if data.alpha is None else ops.convert_to_tensor(data.alpha)
        self.adam = StackedAdam(config.learning_rate)

    # -- the math, the same on every backend --

    def _losses(self, values: dict, x, targets, member, seed):
        """Per-fold training losses (F,) and the new BN moving statistics of one shared batch."""
        probabilities, moving = self.stacked.forward(values, SharedRows(x, self.mean, self.std), True, member, seed)
        config = self.config
        return per_fold_loss(probabilities, targets, member, config.loss, self.alpha, config.focal_gamma), moving

    def _adam(self, values: dict, gradients: dict, m: dict, v: dict, steps, update):
        """Adam's new (weights, m, v) of the trainable weights and the new per-fold step counts."""
        steps = steps + update
        new_weights, new_m, new_v = {}, {}, {}
        for path in self.stacked.trainable_paths:
            new_weights[path], new_m[path], new_v[path] = self.adam.apply(
                values[path], gradients[path], m[path], v[path], steps, update
            )
        return new_weights, new_m, new_v, steps

    def _predict(self, values: dict, x, targets, mask):
        probabilities, _ = self.stacked.forward(values, x, False)
        config = self.config
        return probabilities, per_fold_loss(probabilities, targets, mask, config.loss, self.alpha, config.focal_gamma)

    def _values(self) -> dict:
        return {path: variable.value for path, variable in self.weights.items()}

    def _assign(self, group: dict, values: dict) -> None:
        for path, value in values.items():
            group[path].assign(value)

    # -- public, NumPy in and out --

    def evaluate(self, x, targets, mask) -> tuple[np.ndarray, np.ndarray]:
        probabilities, losses = self._predict(self._values(), x, targets, mask)
        return ops.convert_to_numpy(probabilities), ops.convert_to_numpy(losses)

    def snapshot(self, chosen) -> None:
        chosen = ops.convert_to_tensor(chosen)
        for path in self.paths:
            keep = ops.reshape(chosen, (-1,) + (1,) * (len(self.weights[path].shape) - 1)) > 0
            self.best[path].assign(ops.where(keep, self.weights[path].value, self.best[path].value))

    def arrays(self, best: bool) -> dict[str, np.ndarray]:
        """The stacked weights (or best-epoch weights) by Keras variable path."""
        group = self.best if best else self.weights
        return {path: ops.convert_to_numpy(variable.value) for path, variable in group.items()}

    def state(self) -> dict[str, np.ndarray]:
        arrays = {"steps": ops.convert_to_numpy(self.steps.value), "seed": ops.convert_to_numpy(self.seed.state.value)}
        for group, variables in (("w", self.weights), ("best", self.best), ("m", self.m), ("v", self.v)):
            for index, path in enumerate(variables):
                arrays[f"{group}{index}"] = ops.convert_to_numpy(variables[path].value)
        return arrays

    def load(self, arrays) -> None:
        self.steps.assign(arrays["steps"])
        self.seed.state.assign(arrays["seed"])
        for group, variables in (("w", self.weights), ("best", self.best), ("m", self.m), ("v", self.v)):
            for index, path in enumerate(variables):
                variables[path].assign(arrays[f"{group}{index}"])


class CompiledSteps(EngineSteps):
    """TensorFlow: ``tf.function`` steps, gradients by ``GradientTape``, Adam as one XLA computation."""

    def __init__(self, stacked: StackedModel, data: FoldData, config: Config, fused_adam: bool = True):
        import tensorflow as tf

        super().__init__(stacked, data, config)
        # Adam is element-wise: XLA fuses its dozen passes over the stacked weights into one (fused_adam=False:
        # separate TF ops, one kernel per pass). Only this update is compiled; XLA around the whole step is slower
        # on a CPU (docs/fold_parallel.md).
        self.apply_adam = tf.function(self._apply_adam, jit_compile=fused_adam, autograph=False)
        self._train = tf.function(self._train_step, reduce_retracing=True, autograph=False)
        self._evaluate = tf.function(
            lambda x, targets, mask: self._predict(self._values(), x, targets, mask),
            reduce_retracing=True,
            autograph=False,
        )
        self._snapshot = tf.function(super().snapshot, autograph=False)

    def _train_step(self, x, targets, member, update):
        import tensorflow as tf

        values = self._values()
        with tf.GradientTape() as tape:
            losses, moving = self._losses(values, x, targets, member, self.seed)
            total = tf.reduce_sum(losses)
        trainable = self.stacked.trainable_paths
        gradients = tape.gradient(total, [values[p] for p in trainable])
        gradients = [tf.zeros_like(values[p]) if g is None else g for p, g in zip(trainable, gradients)]
        self.apply_adam(gradients, update)
        self._assign(self.weights, moving)
        return losses

    def _apply_adam(self, gradients, update):
        values = self._values()
        m = {path: variable.value for path, variable in self.m.items()}
        v = {path: variable.value for path, variable in self.v.items()}
        new_weights, new_m, new_v, steps = self._adam(
            values, dict(zip(self.stacked.trainable_paths, gradients)), m, v, self.steps.value, update
        )
        self._assign(self.weights, new_weights)
        self._assign(self.m, new_m)
        self._assign(self.v, new_v)
        self.steps.assign(steps)

    def train_step(self, x, targets, member, update) -> np.ndarray:
        return np.asarray(self._train(x, targets, member, update))

    def evaluate(self, x, targets, mask) -> tuple[np.ndarray, np.ndarray]:
        probabilities, losses = self._evaluate(x, targets, mask)
        return np.asarray(probabilities), np.asarray(losses)

    def snapshot(self, chosen) -> None:
        self._snapshot(np.asarray(chosen, np.float32))


class TorchSteps(EngineSteps):
    """PyTorch: eager ops on the variables' tensors, gradients by ``torch.autograd.grad``."""

    def train_step(self, x, targets, member, update) -> np.ndarray:
        import torch

        x, targets, member, update = (ops.convert_to_tensor(a) for a in (x, targets, member, update))
        values = self._values()
        trainable = self.stacked.trainable_paths
        losses, moving = self._losses(values, x, targets, member, self.seed)
        gradients = torch.autograd.grad(ops.sum(losses), [values[p] for p in trainable], allow_unused=True)
        with torch.no_grad():
            gradients = {p: torch.zeros_like(values[p]) if g is None else g for p, g in zip(trainable, gradients)}
            m = {path: variable.value for path, variable in self.m.items()}
            v = {path: variable.value for path, variable in self.v.items()}
            new_weights, new_m, new_v, steps = self._adam(values, gradients, m, v, self.steps.value, update)
            self._assign(self.weights, new_weights | {p: ops.stop_gradient(t) for p, t in moving.items()})
            self._assign(self.m, new_m)
            self._assign(self.v, new_v)
            self.steps.assign(steps)
        return ops.convert_to_numpy(ops.stop_gradient(losses))

    def evaluate(self, x, targets, mask) -> tuple[np.ndarray, np.ndarray]:
        import torch

        with torch.no_grad():
            return super().evaluate(*(ops.convert_to_tensor(a) for a in (x, targets, mask)))


class JaxSteps(EngineSteps):
    """JAX: one ``jax.jit`` pure step (``jax.value_and_grad``); the variables take its results."""

    def __init__(self, stacked: StackedModel, data: FoldData, config: Config):
        import jax

        super().__init__(stacked, data, config)
        self._train = jax.jit(self._pure_step)
        self._predict_jit = jax.jit(self._predict)

    def _pure_step(self, values, m, v, steps, x, targets, member, update, seed):
        import jax

        trainable = {path: values[path] for path in self.stacked.trainable_paths}

        def total(trainable):
            losses, moving = self._losses(values | trainable, x, targets, member, seed)
            return ops.sum(losses), (losses, moving)

        (_, (losses, moving)), gradients = jax.value_and_grad(total, has_aux=True)(trainable)
        new_weights, new_m, new_v, steps = self._adam(values, gradients, m, v, steps, update)
        return losses, new_weights | moving, new_m, new_v, steps

    def train_step(self, x, targets, member, update) -> np.ndarray:
        m = {path: variable.value for path, variable in self.m.items()}
        v = {path: variable.value for path, variable in self.v.items()}
        seed = self.seed.next()  # a fresh dropout key for this step, drawn outside the compiled function
        losses, new_weights, new_m, new_v, steps = self._train(
            self._values(), m, v, self.steps.value, x, targets, member, update, seed
        )
        self._assign(self.weights, new_weights)
        self._assign(self.m, new_m)
        self._assign(self.v, new_v)
        self.steps.assign(steps)
        return np.asarray(losses)

    def evaluate(self, x, targets, mask) -> tuple[np.ndarray, np.ndarray]:
        probabilities, losses = self._predict_jit(self._values(), x, targets, mask)
        return np.asarray(probabilities), np.asarray(losses)
