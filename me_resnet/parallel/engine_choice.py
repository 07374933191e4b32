"""Which engine trains a run's folds: the fold-parallel engine where the model is small enough, else the per-fold loop.

``choose_engine`` answers for a method and config (``--engine auto|fold-parallel|per-fold``);
``folds_per_pass`` sizes a pass of the fold-parallel engine to a memory budget.
"""

from __future__ import annotations

import json

import numpy as np

from me_resnet.config import Config
from me_resnet.data.records import CLASS_NAMES

NUM_CLASSES = len(CLASS_NAMES)
ENGINES = ("auto", "fold-parallel", "per-fold")
MAX_PARAMETERS = 5_000_000  # per fold: STSTNet and OFF-ApexNet fit; ResNet50 (23 M) does not
ENGINE_BACKENDS = ("tensorflow", "torch", "jax")
# where ``auto`` takes the engine: backends on which it beats that backend's per-fold loop on a CPU
# (results/bench/engine_backends.json; PyTorch's eager step is slower than its per-fold loop)
AUTO_BACKENDS = ("tensorflow", "jax")
SMALL_METHODS = ("ststnet", "off_apexnet")  # registry methods worth building to check (the rest are large or 3D)
_INSPECTED: dict = {}
STATE_BUDGET_BYTES = 5 * 2**29  # one pass's weights, optimizer state and activations: the run stays under 4 GB


def choose_engine(
    method: str, config: Config, *, engine: str = "auto", build_fn=None, input_shape: tuple | None = None
) -> str:
    """``"fold-parallel"`` or ``"per-fold"`` for a run of ``method`` under ``config``.

    ``auto``: the fold-parallel engine for the small registry models
    (``SMALL_METHODS``) where it can run them, on the backends where it beats
    the per-fold loop (``AUTO_BACKENDS``; see ``engine_unavailable``);
    ``per-fold`` forces the per-fold loop;
    ``fold-parallel`` raises ``ValueError`` saying why when it cannot.
    """
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; choose one of {ENGINES}")
    if engine == "per-fold":
        return "per-fold"
    reason = engine_unavailable(
        method, config, build_fn=build_fn, input_shape=input_shape, explicit=engine == "fold-parallel"
    )
    if reason is None:
        return "fold-parallel"
    if engine == "fold-parallel":
        raise ValueError(f"engine='fold-parallel' cannot train {method!r}: {reason}; use engine='per-fold'")
    return "per-fold"


def trains_fold_by_fold(methods, engine: str = "auto") -> bool:
    """Whether some of ``methods`` (registry names) will train fold by fold on the executor's workers rather
    than in the fold-parallel engine: any under ``engine="per-fold"``, else one the engine does not take
    (not in ``SMALL_METHODS``). For starting workers ahead of time; ``choose_engine`` decides each run."""
    return any(engine == "per-fold" or name not in SMALL_METHODS for name in methods)


def inspect_model(method: str, config: Config, *, build_fn=None, input_shape: tuple | None = None):
    """(unsupported layers, parameters, activation values per clip) of the model a run builds (cached)."""
    if input_shape is None:
        input_shape = (config.image_size, config.image_size, 3)
    key = (method, build_fn, tuple(input_shape), json.dumps(config.to_dict(), sort_keys=True, default=str))
    if key not in _INSPECTED:
        # here, not at the top: ``ENGINES`` is read by the command line's flag choices, which must not load Keras
        from me_resnet.parallel.stacked_model import unsupported_layers
        from me_resnet.training.fold import default_build_fn

        model = (build_fn or default_build_fn)(method, tuple(input_shape), NUM_CLASSES, config)
        activations = sum(int(np.prod(layer.output.shape[1:])) for layer in model.layers)
        _INSPECTED[key] = (unsupported_layers(model), int(model.count_params()), activations)
    return _INSPECTED[key]


def engine_unavailable(
    method: str, config: Config, *, build_fn=None, input_shape: tuple | None = None, explicit: bool = False
) -> str | None:
    """Why the fold-parallel engine cannot train this run (None: it can); ``explicit``: it was asked for by name."""
    import keras

    backend = keras.backend.backend()
    if backend not in ENGINE_BACKENDS:
        return f"it runs on the {ENGINE_BACKENDS} backends, not on {backend!r}"
    if backend not in AUTO_BACKENDS and not explicit:
        return (
            f"on the {backend} backend the per-fold loop is faster on a CPU (results/bench/engine_backends.json); "
            "engine='fold-parallel' asks for the engine"
        )
    if config.precision != "float32":
        return f"it trains in float32 only (config.precision={config.precision!r})"
    if build_fn is None and method not in SMALL_METHODS:
        return f"{method!r} is not one of the small models {SMALL_METHODS}"
    if build_fn is not None and not explicit:
        return "a custom build_fn runs fold-parallel only when asked (engine='fold-parallel')"
    problems, parameters, _ = inspect_model(method, config, build_fn=build_fn, input_shape=input_shape)
    if problems:
        return f"unsupported layers {problems[:5]}"
    if parameters > MAX_PARAMETERS:
        return f"{parameters} parameters, over the engine's {MAX_PARAMETERS}"
    return None


def folds_per_pass(
    parameters: int, activations_per_clip: int = 0, batch_size: int = 1, budget_bytes: int = STATE_BUDGET_BYTES
) -> int:
    """Folds trained together in one pass, so that their state and one step's activations fit in ``budget_bytes``.

    Per fold: ten float32 copies of the weights (weights, best weights, two
    Adam moments, gradients and the update's temporaries) and three of every
    layer's output for a batch (values, gradients, temporaries).
    """
    per_fold = 4 * (10 * max(1, int(parameters)) + 3 * int(batch_size) * int(activations_per_clip))
    return max(1, int(budget_bytes // per_fold))
