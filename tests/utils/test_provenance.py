"""me_resnet/utils/provenance.py: the commit a result names is marked dirty only when code differs from it."""

import shutil
import subprocess

import pytest

from me_resnet.utils.provenance import git_commit, package_versions

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs the git command")


def _git(root, *args):
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


def test_dirty_means_code_changed_not_results(tmp_path):
    (tmp_path / "code.py").write_text("x = 1\n")
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "metrics.csv").write_text("uf1\n0.5\n")
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "first")
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=tmp_path, capture_output=True, text=True).stdout.strip()

    assert git_commit(tmp_path) == head
    (tmp_path / "results" / "metrics.csv").write_text("uf1\n0.7\n")  # an earlier script's output changed
    (tmp_path / "notes.txt").write_text("untracked\n")
    assert git_commit(tmp_path) == head
    (tmp_path / "code.py").write_text("x = 2\n")
    assert git_commit(tmp_path) == head + "+dirty"


def test_versions_name_the_opencv_build_the_kit_installs():
    assert any(name.startswith("opencv") for name in package_versions())
