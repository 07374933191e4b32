"""What a command's terminal must not show: TensorFlow's native start-up lines and shutdown noise."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# absl's pre-init notice, oneDNN / CPU-feature notes, CUDA probing and factory registration, and what Python
# prints when it cannot flush a stream at exit
START_UP_MARKERS = (
    "absl::InitializeLog",
    "oneDNN custom operations",
    "cpu_feature_guard",
    "cudart_stub",
    "cuda drivers",
    "Unable to register cu",
    "computation placer",
    "Exception ignored",
    "Bad file descriptor",
)


def noise(stderr: str) -> list[str]:
    """The lines of ``stderr`` that are TensorFlow start-up or stream-closing noise."""
    return [line for line in stderr.splitlines() if any(marker in line for marker in START_UP_MARKERS)]


def run_command(args, env_updates=None, timeout=600) -> subprocess.CompletedProcess:
    """``python -m me_resnet.cli ARGS`` as a user runs it: no TensorFlow log level or dataset roots preset."""
    preset = ("TF_CPP_MIN_LOG_LEVEL", *(f"ME_RESNET_{name}" for name in ("CASME2", "SMIC", "SAMM", "FER2013")))
    env = {key: value for key, value in os.environ.items() if key not in preset}
    env.update(env_updates or {})
    return subprocess.run(
        [sys.executable, "-m", "me_resnet.cli", *map(str, args)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
