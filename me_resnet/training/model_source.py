"""Where ``train_fold`` gets its compiled model: the ``ModelSource`` protocol and ``FRESH_MODELS``, a new build.

A fold's model is fully described by a ``ModelRequest``: its seed, how to build and
compile it, and the fold's focal-loss alpha. Every source hands out a model in the
state a fresh build gives, so the fold's predictions do not depend on the source;
a source may keep a compiled model between folds to save TensorFlow's tracing
(``me_resnet.parallel.compiled``), which is a matter of speed, not of the method.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol

import numpy as np


@dataclass(frozen=True)
class ModelRequest:
    """One fold's model.

    ``key``: what makes two folds' models interchangeable (model, input shape, settings;
    ``training.fold.model_key``), or None when that is not known (a caller's own builder).
    ``build()`` returns a new model, ``compile(model)`` compiles it and returns its loss,
    ``alpha`` is the fold's focal-loss alpha (None without class weights).
    """

    key: tuple | None
    seed: int
    build: Callable[[], object]
    compile: Callable[[object], object]
    alpha: np.ndarray | None


class ModelSource(Protocol):
    def compiled_model(self, request: ModelRequest):
        """The compiled model of ``request``, as ``FRESH_MODELS`` would hand it out (same weights, optimizer
        state and random states), with the request's alpha."""


class FreshModels:
    """Seed (``keras.utils.set_random_seed``), build and compile a new model for every fold."""

    def compiled_model(self, request: ModelRequest):
        import keras

        keras.utils.set_random_seed(request.seed)
        model = request.build()
        request.compile(model)
        return model


FRESH_MODELS = FreshModels()
