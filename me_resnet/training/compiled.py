"""A compiled model kept for the next fold of the same run, restored to its freshly built state.

On TensorFlow the first ``fit`` of a model traces its train, test and predict steps
into graphs; for the demo ME-ResNet that tracing (~15k graph ops, one thread) costs
more than the fold's training. The folds of one LOSO run build the same model from
the same seed, so ``compiled_model`` builds and compiles it once per process and,
for every later fold, restores what a fresh build would hold:

- every model variable (weights, batch-norm statistics, dropout seed states), as
  snapshotted right after the build;
- every optimizer variable (step counter, Adam moments, loss scale), as snapshotted
  right after the optimizer was built and before its first step;
- the fold's focal-loss alpha, a variable of ``FoldFocalLoss`` read by the traced step;
- the Python and NumPy global random states as they were after the build (``fit``
  draws the order of a ``PyDataset``'s batches from Python's ``random``).

A reused fold is seeded without ``tf.random.set_seed`` when TensorFlow's global
seed already has the fold's value (``seed_random_generators``): that call clears
TensorFlow's kernel caches, so the next call of the kept traced step rebuilt its
kernels (about 3 s per demo ME-ResNet fold, more than two of its 12 epochs). The
kept steps draw random numbers only from Keras seed generators (stateless ops
whose states are restored above), never from TensorFlow's global seed.

``tests/training/test_compiled.py`` checks that two folds trained this way give the
same probabilities and loss history as two freshly built models. The traced
functions are reused only on the TensorFlow backend: JAX's jit would freeze the
alpha variable as a constant, and PyTorch does not trace. ``reuse_compiled_models(False)``
turns the reuse off (one fresh build per fold, as before).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable

import keras
import numpy as np

from me_resnet.config import Config

_REUSE = {"enabled": True}


class FoldFocalLoss(keras.losses.CategoricalFocalCrossentropy):
    """Keras' categorical focal loss (eq. (15)) whose per-class alpha is a variable.

    A traced train step reads the variable, so ``set_alpha`` changes the alpha of
    the next fold without retracing; the arithmetic is that of
    ``keras.losses.categorical_focal_crossentropy`` with a constant alpha.
    """

    def __init__(self, alpha, gamma: float = 2.0, **kwargs):
        super().__init__(alpha=alpha, gamma=gamma, **kwargs)
        self.alpha_weights = keras.Variable(
            np.asarray(alpha, dtype="float32"), trainable=False, dtype="float32", name="focal_alpha"
        )

    def set_alpha(self, alpha) -> None:
        alpha = np.asarray(alpha, dtype="float32")
        if alpha.shape != tuple(self.alpha_weights.shape):
            raise ValueError(f"alpha of shape {alpha.shape} cannot replace one of shape {self.alpha_weights.shape}")
        self.alpha_weights.assign(alpha)
        self.alpha = alpha.tolist()

    def call(self, y_true, y_pred):
        return keras.losses.categorical_focal_crossentropy(
            y_true,
            y_pred,
            alpha=self.alpha_weights,
            gamma=self.gamma,
            from_logits=self.from_logits,
            label_smoothing=self.label_smoothing,
            axis=self.axis,
        )


@dataclass
class _Compiled:
    key: tuple
    model: object
    loss: object
    model_state: list
    optimizer_state: list
    random_states: tuple


_CACHE: dict[str, _Compiled] = {}


def reuse_compiled_models(enabled: bool) -> None:
    """Turn the reuse of compiled models between folds on (default) or off; off also frees the kept model."""
    _REUSE["enabled"] = bool(enabled)
    _CACHE.clear()


def reuse_possible() -> bool:
    return _REUSE["enabled"] and keras.backend.backend() == "tensorflow"


def will_reuse(key: tuple) -> bool:
    """Whether ``compiled_model(key, ...)`` will hand out the kept model (not build a new one)."""
    kept = _CACHE.get("model") if reuse_possible() else None
    return kept is not None and kept.key == key


def seed_random_generators(seed: int, reusing: bool = False) -> None:
    """``keras.utils.set_random_seed(seed)``; ``reusing`` a kept model: skip TensorFlow's re-seed if it is ``seed``.

    ``tf.random.set_seed`` clears TensorFlow's kernel caches; with the same seed
    it changes nothing a kept model's traced steps read (see the module doc). The
    rest is what ``keras.utils.set_random_seed`` does (Keras 3.15): Keras' global
    seed and seed generator, Python's and NumPy's generators.
    """
    if reusing and keras.backend.backend() == "tensorflow":
        from keras.src.backend.common import global_state
        from keras.src.random import seed_generator
        from keras.src.utils import rng_utils
        from tensorflow.python.eager import context

        if context.global_seed() == seed:
            global_state.set_global_attribute(rng_utils.GLOBAL_RANDOM_SEED, seed)
            global_state.set_global_attribute(seed_generator.GLOBAL_SEED_GENERATOR, None)
            random.seed(seed)
            np.random.seed(seed)
            return
    keras.utils.set_random_seed(seed)


def _snapshot(variables) -> list:
    return [np.array(variable.numpy(), copy=True) for variable in variables]


def _restore(variables, values) -> None:
    for variable, value in zip(variables, values, strict=True):
        variable.assign(value)


def compiled_model(
    key: tuple,
    build: Callable[[], object],
    compile_model: Callable[[object], object],
    alpha: np.ndarray | None,
):
    """The model for ``key``, compiled, in its freshly built state, with the fold's ``alpha``.

    ``build()`` returns a new model; ``compile_model(model)`` compiles it and returns
    its loss. Returns ``(model, reused)``. The caller seeds the random generators
    before calling, as before a fresh build; a reused model also gets the random
    states that followed its build.
    """
    kept = _CACHE.get("model") if reuse_possible() else None
    if kept is not None and kept.key == key:
        _restore(kept.model.variables, kept.model_state)
        _restore(kept.model.optimizer.variables, kept.optimizer_state)
        if alpha is not None:
            kept.loss.set_alpha(alpha)
        random.setstate(kept.random_states[0])
        np.random.set_state(kept.random_states[1])
        return kept.model, True
    _CACHE.clear()
    model = build()
    model_state = _snapshot(model.variables)
    loss = compile_model(model)
    if not reuse_possible():
        return model, False
    model.optimizer.build(model.trainable_variables)
    random_states = (random.getstate(), np.random.get_state())
    _CACHE["model"] = _Compiled(key, model, loss, model_state, _snapshot(model.optimizer.variables), random_states)
    return model, False


def cache_key(model_name: str, input_shape: tuple, config: Config, has_alpha: bool) -> tuple:
    """What makes two folds' compiled models interchangeable: the model, its input and every setting."""
    return (model_name, tuple(input_shape), config, has_alpha, keras.config.dtype_policy().name)
