"""A result folder is written as one unit: a full disk at any write, or a kill, never leaves a mixed folder."""

from __future__ import annotations

import errno
import os
import shutil
import socket
from pathlib import Path

import pandas as pd
import pytest
from matplotlib.figure import Figure

from me_resnet.config import DEMO
from me_resnet.reporting import outputs, result_folder
from me_resnet.reporting.outputs import Coverage, write_figure, write_results, write_text

ALL = ("casme2", "smic", "samm")
COMPLETE = Coverage(datasets=ALL, required=ALL, seeds=(0,), methods=("me_resnet",))
UNRELATED = {"notes.txt": b"the user's own notes\n", "partial-folds-0/metrics.json": b"{}\n"}


@pytest.fixture(autouse=True)
def fixed_provenance(monkeypatch):
    monkeypatch.setattr(outputs, "provenance", lambda: {"git_commit": "fixed"})


def write_result(out: Path, version: str, extra_file: bool = False) -> dict[str, Path]:
    """What a LOSO command writes: CSVs and metrics.json, its markdown table and its plot; all say ``version``."""
    predictions = pd.DataFrame({"clip": ["c1", "c2"], "y_true": [0, 1], "y_pred": [0, int(version == "new")]})
    metrics = pd.DataFrame({"method": ["me_resnet"], "dataset": ["casme2"], "uf1": [0.4 if version == "old" else 0.7]})
    with result_folder.result_folder(out) as stage:
        paths = write_results(
            stage, "table5", predictions, metrics, config=DEMO, data=version, dataset_roots={}, coverage=COMPLETE
        )
        paths["table_md"] = write_text(stage / "table5.md", f"| {version} |\n")
        figure = Figure(figsize=(1, 1))  # no pyplot: no GUI backend, nothing to close
        figure.subplots().set_title(version)
        paths["plot"] = write_figure(figure, stage / "table5.png", dpi=20)
        if extra_file:  # a file of the old result that the new one does not write
            paths["extra"] = write_text(stage / "table5_notes.md", f"{version}\n")
    return result_folder.final_paths(paths, out)


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (relative name -> bytes)."""
    return {path.relative_to(folder).as_posix(): path.read_bytes() for path in folder.rglob("*") if path.is_file()}


def kit_files(folder: Path) -> dict[str, bytes]:
    return {name: data for name, data in snapshot(folder).items() if name not in UNRELATED}


@pytest.fixture
def results(tmp_path):
    """(old, new): the kit's files of the old result and of the new one, each written on its own."""
    old_dir, new_dir = tmp_path / "old", tmp_path / "new"
    for folder in (old_dir, new_dir):
        write_result(folder, "old", extra_file=True)
    write_result(new_dir, "new")
    return old_dir, kit_files(old_dir), kit_files(new_dir)


def prepare(out: Path, old_dir: Path) -> None:
    """``out``: the old result beside files the kit did not write."""
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(old_dir, out)
    for name, data in UNRELATED.items():
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_bytes(data)


def test_full_disk_at_every_write_leaves_the_old_result_or_the_new_one(tmp_path, results, monkeypatch):
    old_dir, old, new = results
    assert "table5_notes.md" in old and "table5_notes.md" not in new and old.keys() - {"table5_notes.md"} == new.keys()
    real_fsync = os.fsync
    writes = []

    def fsync(descriptor):  # every write of the kit commits its data with fsync: fail the k-th one
        writes.append(descriptor)
        if len(writes) == state["fail_at"]:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_fsync(descriptor)

    monkeypatch.setattr(os, "fsync", fsync)
    out = tmp_path / "out"
    state = {"fail_at": 0}
    prepare(out, old_dir)
    write_result(out, "new")
    total = len(writes)
    assert kit_files(out) == new and total >= 6  # 3 result files, table, plot, file list, commit record, folder

    outcomes = []
    for fail_at in range(1, total + 1):
        prepare(out, old_dir)
        writes.clear()
        state["fail_at"] = fail_at
        try:
            write_result(out, "new")
        except OSError as error:
            assert error.errno == errno.ENOSPC
        files = kit_files(out)
        assert files in (old, new), f"write {fail_at} of {total} failed: a mixed folder {sorted(files)}"
        outcomes.append("old" if files == old else "new")
        assert snapshot(out).items() >= {name: data for name, data in UNRELATED.items()}.items()
        assert not list(out.glob(".me_resnet_staging-*")) and not list(out.rglob("*.tmp"))
    assert outcomes[0] == "old" and outcomes[-1] == "new"  # failures before and after the commit point


def test_write_results_on_its_own_writes_its_three_files_as_one_unit(tmp_path, monkeypatch):
    def write(out, version):
        predictions = pd.DataFrame({"clip": ["c1"], "y_pred": [int(version == "new")]})
        metrics = pd.DataFrame({"method": ["me_resnet"], "uf1": [0.4 if version == "old" else 0.7]})
        write_results(
            out, "table5", predictions, metrics, config=DEMO, data=version, dataset_roots={}, coverage=COMPLETE
        )

    old_dir, new_dir, out = tmp_path / "old", tmp_path / "new", tmp_path / "out"
    write(old_dir, "old")
    write(new_dir, "new")
    real_fsync = os.fsync
    for fail_at in range(1, 4):  # each of the three files
        shutil.rmtree(out, ignore_errors=True)
        shutil.copytree(old_dir, out)
        writes = []

        def fsync(descriptor):
            writes.append(descriptor)
            if len(writes) == fail_at:
                raise OSError(errno.ENOSPC, "No space left on device")
            return real_fsync(descriptor)

        monkeypatch.setattr(os, "fsync", fsync)
        with pytest.raises(OSError):
            write(out, "new")
        monkeypatch.setattr(os, "fsync", real_fsync)
        assert snapshot(out) == snapshot(old_dir), f"a full disk at write {fail_at} left a mixed folder"


class Killed(BaseException):
    """Stands for SIGKILL: nothing after it runs, no clean-up."""


def test_a_kill_between_renames_is_finished_by_the_next_write_or_check(tmp_path, results, monkeypatch):
    old_dir, old, new = results
    out = tmp_path / "out"
    prepare(out, old_dir)
    real_replace = os.replace
    moved = []

    def replace(source, target):
        if Path(target).parent == out:  # moving a staged file in
            if len(moved) == 2:
                raise Killed
            moved.append(target)
        return real_replace(source, target)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(Killed):
        write_result(out, "new")
    monkeypatch.setattr(os, "replace", real_replace)
    assert kit_files(out) not in (old, new)  # two files moved in: mixed, until the commit is finished
    outputs.check_replace(out, COMPLETE)  # the next run's first look at the folder finishes the move
    assert kit_files(out) == new and not list(out.glob(".me_resnet_staging-*"))
    assert snapshot(out).items() >= UNRELATED.items()


def test_an_abandoned_staging_folder_is_removed_and_a_live_one_kept(tmp_path):
    out = tmp_path / "out"
    host = socket.gethostname()
    dead = out / f"{result_folder.STAGING_PREFIX}{host}-999999999-abc"  # above any pid_max
    live = out / f"{result_folder.STAGING_PREFIX}{host}-{os.getppid()}-def"
    for stage in (dead, live):
        stage.mkdir(parents=True)
        (stage / "predictions.csv").write_text("half written")
    result_folder.recover(out)
    assert not dead.exists() and live.exists()


def test_a_folder_written_before_file_lists_keeps_files_of_other_names(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "metrics.json").write_text("{}")
    (out / "fig11_ablation.md").write_text("written by hand or by an old kit")
    write_result(out, "new")
    assert (out / "fig11_ablation.md").exists()
    assert result_folder.listed_files(out) == {
        "predictions.csv",
        "metrics.csv",
        "metrics.json",
        "table5.md",
        "table5.png",
    }
    write_result(out, "old", extra_file=True)
    write_result(out, "new")  # the listed extra file of the previous result goes, the unlisted one stays
    assert not (out / "table5_notes.md").exists() and (out / "fig11_ablation.md").exists()
