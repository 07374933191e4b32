"""What produced a result: package versions, git commit, machine, time."""

from __future__ import annotations

import datetime
import importlib.metadata
import os
import platform
import subprocess

from me_resnet.utils.paths import REPO_ROOT

_PACKAGES = (
    "me-resnet",
    "keras",
    "tensorflow",
    "numpy",
    "opencv-contrib-python-headless",  # the kit's OpenCV (TV-L1 lives in contrib)
    "opencv-python-headless",
    "scikit-learn",
    "pandas",
    "mtcnn",
    "torch",
    "jax",
)


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    versions["keras_backend"] = os.environ.get("KERAS_BACKEND", "tensorflow")
    return versions


def git_commit(root=REPO_ROOT) -> str:
    """HEAD's commit, with "+dirty" when a tracked file outside ``results/`` differs from it.

    ``results/`` is left out: the scripts write there, so a run made after an earlier
    script's output changed would otherwise be marked dirty although its code was not.
    """
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)results"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    if commit.returncode != 0:
        return "unknown"
    return commit.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def machine_info() -> dict[str, object]:
    """CPU, cores and platform, plus what decides TensorFlow's CPU kernels: AVX-512 and the oneDNN switch."""
    cpu, avx512 = None, None
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name") and cpu is None:
                    cpu = line.split(":", 1)[1].strip()
                elif line.startswith("flags") and avx512 is None:
                    avx512 = "avx512f" in line.split()
    except OSError:
        pass
    cpu = cpu or platform.processor() or "unknown"
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "avx512": avx512,
        "TF_ENABLE_ONEDNN_OPTS": os.environ.get("TF_ENABLE_ONEDNN_OPTS"),
    }


def now_iso() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def provenance() -> dict[str, object]:
    return {"versions": package_versions(), "git_commit": git_commit(), "machine": machine_info(), "time": now_iso()}
