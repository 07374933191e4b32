import os
from pathlib import Path

import pytest

from me_resnet.utils.quiet import prepare_environment

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
prepare_environment()  # TensorFlow's settings (oneDNN on), as the me-resnet command sets them, before any test loads it

if os.environ.get("PYTEST_XDIST_WORKER"):  # `make test` runs two pytest-xdist workers: one cache each
    from me_resnet.utils.paths import cache_root

    os.environ["ME_RESNET_CACHE"] = str(cache_root() / f"pytest-{os.environ['PYTEST_XDIST_WORKER']}")
    # one TensorFlow/OpenMP thread per worker (before TensorFlow starts; subprocesses inherit it): two workers
    # with all-core thread pools each oversubscribe the CI machine's 2 cores, and the tests' tiny models gain
    # nothing from a second thread. Set TF_NUM_INTRAOP_THREADS yourself to override.
    if int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")) > 1:
        for name in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS"):
            os.environ.setdefault(name, "1")

REPO_ROOT = Path(__file__).resolve().parent.parent
# The real CASME II and SAMM coding sheets are licensed, so they are never copied into the repository: CI
# lays them out in `shared/real-annotations` beside the checkout; ME_RESNET_REAL_ANNOTATIONS names another folder.
REAL_ANNOTATIONS = Path(
    os.environ.get("ME_RESNET_REAL_ANNOTATIONS") or REPO_ROOT.parent / "shared" / "real-annotations"
)


def pytest_collection_modifyitems(config, items):
    """``slow`` tests first (a stable sort, the same on every worker): the two pytest-xdist workers start on
    the long tests and finish together, instead of one worker running a late long test alone."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture
def real_annotations() -> Path:
    """The real coding sheets, a licensed folder beside the checkout or named by ME_RESNET_REAL_ANNOTATIONS
    (never copied into the repository); skip when absent."""
    if not REAL_ANNOTATIONS.is_dir():
        pytest.skip(f"{REAL_ANNOTATIONS} not present")
    return REAL_ANNOTATIONS
