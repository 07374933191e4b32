"""The demo data of seed 0, generated once per worker for the demo and ground-truth tests."""

from pathlib import Path

import pytest

from me_resnet.data import demo


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo_seed0")
    demo.generate_demo(out, seed=0)
    return out
