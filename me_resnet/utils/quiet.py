"""TensorFlow's start-up settings and its native start-up lines (CPU features, CUDA probing, absl's notice).

Nothing here runs at import: the kit's commands call ``prepare_environment``
once their flags are checked and before anything loads TensorFlow, and the
child processes they start inherit the settings.

- ``TF_ENABLE_ONEDNN_OPTS=1``: TensorFlow turns its oneDNN kernels on by
  default only on CPUs with AVX-512-class features; elsewhere (AVX2-only CPUs
  such as AMD EPYC) its fallback Conv3D filter gradient makes 3D training many
  times slower (``results/bench/demo_model_step.json`` compares the settings).
- ``TF_CPP_MIN_LOG_LEVEL=3`` silences TensorFlow's C++ log, ``0`` (the
  ``verbose`` default) shows it all.

Values already in the environment win. TensorFlow 2.19+ prints its start-up
lines (before absl's logging starts) whatever the log level, while its native
libraries load: ``import_backend_quietly`` loads Keras with the process's native
stderr pointed at /dev/null for that time, unless ``TF_CPP_MIN_LOG_LEVEL=0``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys


def tensorflow_environment(verbose: bool = False) -> dict[str, str]:
    """The TensorFlow settings the kit's processes run with (those already in the environment win)."""
    defaults = {"TF_ENABLE_ONEDNN_OPTS": "1", "TF_CPP_MIN_LOG_LEVEL": "0" if verbose else "3"}
    return {name: os.environ.get(name, value) for name, value in defaults.items()}


def prepare_environment(verbose: bool = False) -> None:
    """Put ``tensorflow_environment(verbose)`` into this process's environment (before TensorFlow loads)."""
    for name, value in tensorflow_environment(verbose).items():
        os.environ.setdefault(name, value)


@contextlib.contextmanager
def native_stderr_silenced():
    """File descriptor 2 goes to /dev/null inside the block (Python exceptions still propagate).

    fd 2 itself is never closed (``sys.stderr`` writes to it until the process ends): it is
    pointed at /dev/null and back with ``dup2``; the only descriptors closed are the two
    opened here. A process without an fd 2 has nothing to silence.
    """
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 2)
        finally:
            os.close(devnull)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


class _QuietRetracing(logging.Filter):
    """Drops TensorFlow's tf.function retracing warnings: every LOSO fold builds a fresh model, so each retraces."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "triggered tf.function retracing" not in record.getMessage()


def silence_retracing_warnings() -> None:
    """TensorFlow's logger drops its retracing warnings in this process (once, however often called)."""
    logger = logging.getLogger("tensorflow")
    if not any(isinstance(existing, _QuietRetracing) for existing in logger.filters):
        logger.addFilter(_QuietRetracing())


def import_backend_quietly() -> None:
    """Import Keras and its backend without TensorFlow's native start-up lines (a no-op once loaded), and
    drop its retracing warnings (``silence_retracing_warnings``): in the kit's commands and in the
    processes that train their folds.

    With ``TF_CPP_MIN_LOG_LEVEL=0`` (``--verbose``) the start-up lines show.
    """
    silence_retracing_warnings()
    if "keras" in sys.modules or os.environ.get("TF_CPP_MIN_LOG_LEVEL") == "0":
        import keras  # noqa: F401

        return
    with native_stderr_silenced():
        import keras  # noqa: F401
