"""Fault injection on real LOSO runs: SIGKILL mid-fold and mid-write, a full disk, two runs on one directory.

Each test asserts that nothing is lost or wrong: the rerun's predictions and
metrics equal an uninterrupted run's, bit for bit (docs/reliability.md).
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from me_resnet.evaluation.loso import run_loso
from me_resnet.evaluation.metrics import compute_metrics
from me_resnet.evaluation.run_dir import RunDirLock
from me_resnet.evaluation.runner import LosoRun
from me_resnet.utils.io import write_csv_atomic
from tests.support.tiny import FAST, tiny_build, tiny_features

# one pytest-xdist worker runs these (`make test`: --dist loadgroup): the reference run (module fixture) once
FAULTS_GROUP = pytest.mark.xdist_group("faults")

SUBJECTS = 4
REPO = Path(__file__).parents[2]

# A LOSO run in its own process. argv: repo, run dir, fault, builds log, go file.
#   mid-fold:  SIGKILL itself when the third fold starts building its model;
#   mid-write: SIGKILL itself between writing fold 2's temporary file and renaming it;
#   hold:      after the first model build, wait until the go file exists (keeps the run dir locked).
CHILD = """
import os, signal, sys, time
sys.path.insert(0, sys.argv[1])
from tests.support.tiny import FAST, tiny_build, tiny_features
from me_resnet.evaluation.loso import run_loso

run_dir, fault, builds_log, go = sys.argv[2:6]
built = []
def build(*args):
    built.append(1)
    with open(builds_log, "a") as log:
        log.write(f"{os.getpid()}\\n")
    if fault == "mid-fold" and len(built) == 3:
        os.kill(os.getpid(), signal.SIGKILL)
    while fault == "hold" and not os.path.exists(go):
        time.sleep(0.05)
    return tiny_build(*args)
real_replace = os.replace
def replace(source, target):
    name = os.path.basename(target)
    if fault == "mid-write" and name.startswith("fold_002") and name.endswith(".csv"):
        os.kill(os.getpid(), signal.SIGKILL)
    return real_replace(source, target)
os.replace = replace
run_loso(tiny_features(subjects=int(sys.argv[6])), "tiny", FAST, run_dir=run_dir, build_fn=build, progress=False)
"""


def start_child(run_dir: Path, fault: str, builds_log: Path, stderr_path: Path, go: Path | None = None):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    arguments = [str(REPO), str(run_dir), fault, str(builds_log), str(go or run_dir / "go"), str(SUBJECTS)]
    with open(stderr_path, "wb") as stderr:
        return subprocess.Popen(
            [sys.executable, "-c", CHILD, *arguments], env=env, stdout=subprocess.DEVNULL, stderr=stderr
        )


def counting_build(calls: list):
    return lambda *args: calls.append(args) or tiny_build(*args)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted run: predictions and metrics every faulted run must reproduce exactly."""
    run_dir = tmp_path_factory.mktemp("uninterrupted")
    predictions = run_loso(
        tiny_features(subjects=SUBJECTS), "tiny", FAST, run_dir=run_dir, build_fn=tiny_build, progress=False
    )
    return predictions, compute_metrics(predictions, 100)


def assert_same_results(predictions: pd.DataFrame, reference) -> None:
    pd.testing.assert_frame_equal(predictions, reference[0], check_exact=True)
    pd.testing.assert_frame_equal(compute_metrics(predictions, 100), reference[1], check_exact=True)


@pytest.mark.slow
@FAULTS_GROUP
@pytest.mark.parametrize("fault", ["mid-fold", "mid-write"])
def test_sigkill_then_rerun_gives_identical_metrics(tmp_path, reference, fault):
    run_dir = tmp_path / "run"
    child = start_child(run_dir, fault, tmp_path / "builds.log", tmp_path / "stderr.txt")
    assert child.wait(timeout=300) == -signal.SIGKILL, (tmp_path / "stderr.txt").read_text()[-2000:]
    assert len(list(run_dir.glob("fold_*.csv"))) == 2  # folds 0 and 1 finished, fold 2 killed
    leftovers = list(run_dir.glob("*.tmp"))
    assert len(leftovers) == (1 if fault == "mid-write" else 0)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "running" and manifest["attempts"] == 1

    reopened = LosoRun(tiny_features(subjects=SUBJECTS), "tiny", FAST, run_dir, build_fn=tiny_build)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["attempts"] == 2 and len(manifest["folds"]) == 2  # updated, not reset to no folds
    assert not list(run_dir.glob("*.tmp"))  # the killed write's temporary file is cleaned up
    assert [job.fold for job in reopened.jobs] == [2, 3]
    reopened.close()

    calls = []
    resumed = run_loso(
        tiny_features(subjects=SUBJECTS), "tiny", FAST, run_dir=run_dir, build_fn=counting_build(calls), progress=False
    )
    assert len(calls) == 2  # only the unfinished folds were trained
    assert_same_results(resumed, reference)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "finished" and manifest["attempts"] == 3 and len(manifest["folds"]) == SUBJECTS


@pytest.fixture
def full_disk(monkeypatch):
    """``full_disk["on"] = True`` makes every atomic write fail with ENOSPC when it commits its data."""
    state = {"on": False}
    real_fsync = os.fsync

    def fsync(descriptor):
        if state["on"]:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_fsync(descriptor)

    monkeypatch.setattr(os, "fsync", fsync)
    return state


def snapshot(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir()) if path.is_file()}


def test_full_disk_leaves_previous_results_intact(tmp_path, full_disk):
    results = tmp_path / "results.csv"
    complete = pd.DataFrame({"method": ["me_resnet"], "uf1": [0.5]})
    write_csv_atomic(results, complete)
    full_disk["on"] = True
    with pytest.raises(OSError) as error:
        write_csv_atomic(results, complete.assign(uf1=0.1))
    assert error.value.errno == errno.ENOSPC
    pd.testing.assert_frame_equal(pd.read_csv(results), complete)
    assert [path.name for path in tmp_path.iterdir()] == ["results.csv"]  # no temporary file left


@pytest.mark.slow
@FAULTS_GROUP
def test_full_disk_during_a_run_loses_no_finished_fold(tmp_path, reference, full_disk):
    run_dir = tmp_path / "run"
    calls = []

    def build_then_fill_disk(*args):
        calls.append(args)
        full_disk["on"] = len(calls) == 3  # the disk fills while fold 2 trains
        return tiny_build(*args)

    with pytest.raises(OSError, match="No space left"):
        run_loso(
            tiny_features(subjects=SUBJECTS),
            "tiny",
            FAST,
            run_dir=run_dir,
            build_fn=build_then_fill_disk,
            progress=False,
        )
    full_disk["on"] = False
    before = snapshot(run_dir)
    assert sorted(name for name in before if name.startswith("fold_") and name.endswith(".csv")) == [
        "fold_000_casme2-000.csv",
        "fold_001_casme2-001.csv",
    ]
    assert not list(run_dir.glob("*.tmp")) and json.loads(before["manifest.json"])["status"] == "running"

    full_disk["on"] = True  # a rerun on a still-full disk changes nothing and releases the run dir
    with pytest.raises(OSError, match="No space left"):
        run_loso(tiny_features(subjects=SUBJECTS), "tiny", FAST, run_dir=run_dir, build_fn=tiny_build, progress=False)
    assert {name: data for name, data in snapshot(run_dir).items() if not name.startswith(".lock")} == {
        name: data for name, data in before.items() if not name.startswith(".lock")
    }
    full_disk["on"] = False
    calls.clear()
    resumed = run_loso(
        tiny_features(subjects=SUBJECTS), "tiny", FAST, run_dir=run_dir, build_fn=counting_build(calls), progress=False
    )
    assert len(calls) == 2
    assert_same_results(resumed, reference)


@pytest.mark.slow
@FAULTS_GROUP
def test_two_runs_on_one_directory_train_each_fold_once(tmp_path, reference):
    run_dir, builds = tmp_path / "run", tmp_path / "builds.log"
    go = tmp_path / "go"
    first = start_child(run_dir, "hold", builds, tmp_path / "first.txt", go)
    deadline = time.monotonic() + 300
    while not builds.exists():  # the first run holds the lock and is training fold 0
        assert first.poll() is None and time.monotonic() < deadline, (tmp_path / "first.txt").read_text()[-2000:]
        time.sleep(0.05)
    second = start_child(run_dir, "none", builds, tmp_path / "second.txt")
    while "in use by another run" not in (tmp_path / "second.txt").read_text():
        assert second.poll() is None and time.monotonic() < deadline, (tmp_path / "second.txt").read_text()[-2000:]
        time.sleep(0.05)
    go.touch()
    assert first.wait(timeout=300) == 0 and second.wait(timeout=300) == 0
    assert "pid %d" % first.pid in (tmp_path / "second.txt").read_text()  # the message names the holder
    assert builds.read_text().split() == [str(first.pid)] * SUBJECTS  # every fold trained once, by the first run
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "finished" and sum(info["resumed"] for info in manifest["folds"].values()) == SUBJECTS
    calls = []
    again = run_loso(
        tiny_features(subjects=SUBJECTS), "tiny", FAST, run_dir=run_dir, build_fn=counting_build(calls), progress=False
    )
    assert not calls
    assert_same_results(again, reference)


def test_lock_timeout_and_second_open_in_one_process_are_clear_errors(tmp_path):
    run_dir = tmp_path / "run"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; sys.path.insert(0, sys.argv[1]); from me_resnet.evaluation.run_dir import RunDirLock;"
            "lock = RunDirLock(sys.argv[2]).acquire(); print('locked', flush=True); time.sleep(120)",
            str(REPO),
            str(run_dir),
        ],
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout.readline().strip() == b"locked"
        with pytest.raises(TimeoutError, match=rf"still in use by another run \(pid {holder.pid} on "):
            LosoRun(tiny_features(subjects=3), "tiny", FAST, run_dir, build_fn=tiny_build, lock_timeout=0.2)
    finally:
        holder.kill()
        holder.wait()
    run = LosoRun(tiny_features(subjects=3), "tiny", FAST, run_dir, build_fn=tiny_build, lock_timeout=30)
    with pytest.raises(RuntimeError, match="already open in this process"):
        RunDirLock(run_dir).acquire()
    run.close()
    RunDirLock(run_dir).acquire().release()
