"""Quiet TensorFlow start-up: its C++ messages (CUDA probing, CPU features) hide the kit's own output.

``TF_CPP_MIN_LOG_LEVEL=3`` (set here as a default, inherited by every child
process) silences most of them; TensorFlow 2.19+ still prints the CUDA-stub lines
of its native libraries while they load, so ``import_backend_quietly`` loads Keras
with the process's native stderr pointed at /dev/null. ``TF_CPP_MIN_LOG_LEVEL=0``
shows everything again.
"""

from __future__ import annotations

import contextlib
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


@contextlib.contextmanager
def native_stderr_silenced():
    """File descriptor 2 goes to /dev/null inside the block (Python exceptions still propagate)."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def import_backend_quietly() -> None:
    """Import Keras and its backend without TensorFlow's native start-up lines (a no-op once loaded)."""
    if "keras" in sys.modules or os.environ.get("TF_CPP_MIN_LOG_LEVEL") == "0":
        import keras  # noqa: F401

        return
    with native_stderr_silenced():
        import keras  # noqa: F401
