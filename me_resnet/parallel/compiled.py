"""A compiled model kept for the next fold of the same run, restored to its freshly built state.

On TensorFlow the first ``fit`` of a model traces its train, test and predict steps
into graphs; for the demo ME-ResNet that tracing (~15k graph ops, one thread) costs
more than the fold's training. The folds of one LOSO run build the same model from
the same seed, so ``KeptCompiledModel`` (a ``training.model_source.ModelSource``)
builds and compiles it once and, for every later fold with the same
``ModelRequest.key``, restores what a fresh build would hold:

- every model variable (weights, batch-norm statistics, dropout seed states), as
  snapshotted right after the build;
- every optimizer variable (step counter, Adam moments, loss scale), as snapshotted
  right after the optimizer was built and before its first step;
- the fold's focal-loss alpha, a variable of ``training.losses.FoldFocalLoss`` read
  by the traced step;
- the Python and NumPy global random states as they were after the build (``fit``
  draws the order of a ``PyDataset``'s batches from Python's ``random``).

A reused fold is seeded without ``tf.random.set_seed`` when TensorFlow's global
seed already has the fold's value
(``utils.framework_internals.reseed_keeping_kernel_caches``): that call clears
TensorFlow's kernel caches, so the next call of the kept traced step would rebuild
its kernels. The kept steps draw random numbers only from Keras seed generators
(stateless ops whose states are restored above), never from TensorFlow's global seed.

``tests/parallel/test_compiled.py`` checks that two folds trained this way give the
same probabilities and loss history as two freshly built models. The traced
functions are reused only on the TensorFlow backend: JAX's jit would freeze the
alpha variable as a constant, and PyTorch does not trace. ``PROCESS_MODELS`` is the
one kept model of a process (the executors' workers and the local loop share it).
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass

import keras
import numpy as np

from me_resnet.training.model_source import FRESH_MODELS, ModelRequest
from me_resnet.utils.framework_internals import reseed_keeping_kernel_caches

log = logging.getLogger(__name__)


@dataclass
class _Kept:
    key: tuple
    model: object
    loss: object
    model_state: list
    optimizer_state: list
    random_states: tuple


def _snapshot(variables) -> list:
    return [np.array(variable.numpy(), copy=True) for variable in variables]


def _restore(variables, values) -> None:
    for variable, value in zip(variables, values, strict=True):
        variable.assign(value)


class KeptCompiledModel:
    """Keeps the last compiled model and hands it out again, restored, for a request with the same key."""

    def __init__(self):
        self.kept: _Kept | None = None

    def clear(self) -> None:
        """Forget the kept model (its memory is freed with it)."""
        self.kept = None

    def compiled_model(self, request: ModelRequest):
        if request.key is None or keras.backend.backend() != "tensorflow":
            return FRESH_MODELS.compiled_model(request)
        kept = self.kept
        if kept is not None and kept.key == request.key:
            if not reseed_keeping_kernel_caches(request.seed):
                keras.utils.set_random_seed(request.seed)
            _restore(kept.model.variables, kept.model_state)
            _restore(kept.model.optimizer.variables, kept.optimizer_state)
            if request.alpha is not None:
                kept.loss.set_alpha(request.alpha)
            random.setstate(kept.random_states[0])
            np.random.set_state(kept.random_states[1])
            log.debug("%s: reused the kept compiled model", request.key[0])
            return kept.model
        self.kept = None
        keras.utils.set_random_seed(request.seed)
        model = request.build()
        model_state = _snapshot(model.variables)
        loss = request.compile(model)
        model.optimizer.build(model.trainable_variables)
        random_states = (random.getstate(), np.random.get_state())
        self.kept = _Kept(request.key, model, loss, model_state, _snapshot(model.optimizer.variables), random_states)
        return model


PROCESS_MODELS = KeptCompiledModel()
