"""Deterministic backend ops for ``Config.deterministic`` (what stays bit-identical: docs/reliability.md).

``keras.utils.set_random_seed`` fixes the random numbers (weights, shuffling,
dropout) but not the order in which a backend adds floating-point numbers:
several GPU kernels (cuDNN convolution back-propagation, atomics in scatter and
reduction ops) sum in a run-dependent order. ``use_deterministic_ops(True)``
selects deterministic kernels, or makes the ops without one raise, on the
active Keras backend:

- TensorFlow: ``tf.config.experimental.enable_op_determinism()``;
- PyTorch: ``torch.use_deterministic_algorithms(True)``, cuDNN benchmark off and
  ``CUBLAS_WORKSPACE_CONFIG=:4096:8`` (needed by cuBLAS on CUDA >= 10.2);
- JAX: ``--xla_gpu_deterministic_ops=true`` in ``XLA_FLAGS``, read when JAX
  starts its backend (a process where it already started keeps its setting).
"""

from __future__ import annotations

import logging
import os

from me_resnet.utils.framework_internals import disable_op_determinism, op_determinism_enabled

log = logging.getLogger(__name__)

JAX_FLAG = "--xla_gpu_deterministic_ops=true"


def use_deterministic_ops(enabled: bool) -> str:
    """Turn the backend's deterministic ops on (``enabled``) or back off; returns the backend name."""
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        if enabled:
            tf.config.experimental.enable_op_determinism()
        else:
            disable_op_determinism()
    elif backend == "torch":
        import torch

        if enabled:
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
            torch.backends.cudnn.benchmark = False  # autotuning may pick a different kernel per run
        torch.use_deterministic_algorithms(enabled)
        torch.backends.cudnn.deterministic = enabled
    elif backend == "jax":
        flags = os.environ.get("XLA_FLAGS", "").split()
        if enabled and JAX_FLAG not in flags:
            os.environ["XLA_FLAGS"] = " ".join(flags + [JAX_FLAG])
            log.info("set XLA_FLAGS=%s: effective if JAX has not started its backend yet", os.environ["XLA_FLAGS"])
        elif not enabled and JAX_FLAG in flags:
            os.environ["XLA_FLAGS"] = " ".join(flag for flag in flags if flag != JAX_FLAG)
    return backend


def deterministic_ops_enabled() -> bool:
    """Whether the active backend runs deterministic ops now (TensorFlow and PyTorch; JAX: the flag is set)."""
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        return op_determinism_enabled()
    if backend == "torch":
        import torch

        return torch.are_deterministic_algorithms_enabled()
    return JAX_FLAG in os.environ.get("XLA_FLAGS", "").split()
