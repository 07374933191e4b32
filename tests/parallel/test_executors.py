import builtins
import dataclasses
import importlib.util
import json
import os
from pathlib import Path

import pandas as pd
import pytest

from me_resnet.evaluation.executor import LocalExecutor
from me_resnet.evaluation.loso import run_all
from me_resnet.evaluation.runner import LosoRun
from me_resnet.parallel.build import make_executor
from me_resnet.parallel.engine_executor import FoldParallelExecutor
from me_resnet.parallel.executors import InProcessExecutor, PoolExecutor, ProcessExecutor
from me_resnet.parallel.ray_executor import require_ray
from tests.support.tiny import FAST, tiny_build, tiny_features

# one pytest-xdist worker runs these (`make test`: --dist loadgroup): the Ray instance (module fixture) starts once
RAY_GROUP = pytest.mark.xdist_group("ray")

REPO_ROOT = str(Path(__file__).resolve().parents[2])
HAS_RAY = importlib.util.find_spec("ray") is not None
needs_ray = pytest.mark.skipif(not HAS_RAY, reason="Ray not installed (pip install -e '.[ray]')")


@pytest.fixture(scope="module")
def ray_executor():
    """A private local Ray instance (never a remote address); workers import ``tests.support.tiny``."""
    ray = pytest.importorskip("ray")
    from me_resnet.parallel.ray_executor import RayExecutor

    ray.init(
        address="local",
        num_cpus=2,
        include_dashboard=False,
        logging_level="ERROR",
        runtime_env={"env_vars": {"PYTHONPATH": REPO_ROOT, "TF_CPP_MIN_LOG_LEVEL": "2"}},
    )
    yield RayExecutor(cpus_per_fold=1)
    ray.shutdown()


def demo_sweep(root: Path) -> list[LosoRun]:
    """A tiny sweep: 2 learning rates on one dataset plus a second dataset, all in one executor call."""
    casme2, samm = tiny_features(subjects=3), tiny_features(subjects=3, seed=1, dataset="samm")
    runs = [
        LosoRun(casme2, "tiny", dataclasses.replace(FAST, learning_rate=rate), root / f"lr{rate}", build_fn=tiny_build)
        for rate in (1e-2, 1e-1)
    ]
    return runs + [LosoRun(samm, "tiny", FAST, root / "samm", build_fn=tiny_build)]


def fold_files(run_dir: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(run_dir.glob("fold_*.csv"))}


@pytest.mark.slow
@RAY_GROUP
def test_ray_sweep_equals_sequential(ray_executor, tmp_path):
    from me_resnet.parallel.ray_executor import RayExecutor

    sequential = run_all(demo_sweep(tmp_path / "local"), LocalExecutor(), progress=False)
    # worker processes kept between folds (each fresh one is a TensorFlow start-up: CI time); the other Ray
    # tests use the default, a fresh process per fold
    reusing = RayExecutor(cpus_per_fold=1, fresh_process_per_fold=False, env_vars=ray_executor.env_vars)
    on_ray = run_all(demo_sweep(tmp_path / "ray"), reusing, progress=False)
    assert len(on_ray) == len(sequential) == 3
    for local_table, ray_table in zip(sequential, on_ray):
        pd.testing.assert_frame_equal(ray_table, local_table, check_exact=True)
    assert not sequential[0].equals(sequential[1])  # the swept value matters, so equality above means something
    pids = set()
    for run_dir in sorted((tmp_path / "local").iterdir()):
        assert fold_files(tmp_path / "ray" / run_dir.name) == fold_files(run_dir)  # byte-identical fold files
        manifest = json.loads((tmp_path / "ray" / run_dir.name / "manifest.json").read_text())
        assert manifest["status"] == "finished" and len(manifest["folds"]) == 3
        assert all("node" in info and not info["resumed"] for info in manifest["folds"].values())
        pids |= {info["pid"] for info in manifest["folds"].values()}
    assert len(pids) < 9  # 9 folds, fewer processes: workers were reused


@pytest.fixture(scope="module")
def sequential_reference(tmp_path_factory):
    """A whole sequential run (with a run dir: predictions are read back from the fold files, as in every run)."""
    run_dir = tmp_path_factory.mktemp("sequential")
    return run_all([LosoRun(tiny_features(subjects=3), "tiny", FAST, run_dir, build_fn=tiny_build)], progress=False)[0]


@pytest.mark.slow
@RAY_GROUP
@pytest.mark.parametrize("first", ["local", "ray"])
def test_run_started_on_one_executor_finishes_on_the_other(ray_executor, sequential_reference, tmp_path, first):
    features = tiny_features(subjects=3)
    executors = {"local": LocalExecutor(), "ray": ray_executor}
    second = "ray" if first == "local" else "local"
    run_all(
        [LosoRun(features, "tiny", FAST, tmp_path, groups=["casme2/000", "casme2/002"], build_fn=tiny_build)],
        executors[first],
        progress=False,
    )
    started = {path: (path.stat().st_mtime_ns, path.read_bytes()) for path in tmp_path.glob("fold_*.csv")}
    assert len(started) == 2 and json.loads((tmp_path / "manifest.json").read_text())["n_folds"] == 2

    run = LosoRun(features, "tiny", FAST, tmp_path, build_fn=tiny_build)
    assert [job.fold for job in run.jobs] == [1]  # finished folds are read back, not trained again
    finished = run_all([run], executors[second], progress=False)[0]
    pd.testing.assert_frame_equal(finished, sequential_reference, check_exact=True)
    assert {path: (path.stat().st_mtime_ns, path.read_bytes()) for path in started} == started
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["status"] == "finished" and sum(info["resumed"] for info in manifest["folds"].values()) == 2


@pytest.mark.slow
@RAY_GROUP
def test_fold_written_on_unshared_worker_disk_reaches_the_driver(ray_executor, tmp_path, monkeypatch):
    """A worker that cannot write the run dir (another machine) sends the file back; the driver writes it."""
    from me_resnet.parallel import ray_executor

    features = tiny_features(subjects=3)
    run = LosoRun(features, "tiny", FAST, tmp_path / "run", groups=["casme2/001"], build_fn=tiny_build)
    (job,) = run.jobs
    remote_copy = tmp_path / "elsewhere"
    monkeypatch.setattr(ray_executor, "_writable", lambda directory: False)
    table, info, files = ray_executor._fold_task(features, job.fold, FAST, remote_copy, "tiny", tiny_build, 0)
    assert not remote_copy.exists() and files["csv"]
    ray_executor._keep_on_driver(job, info, files)
    written = run.run_dir / "fold_001_casme2-001.csv"
    assert written.read_bytes() == files["csv"] and written.with_suffix(".json").exists()
    pd.testing.assert_frame_equal(run.finish([(table, info)]), table, check_exact=True)


@pytest.mark.slow
@RAY_GROUP
def test_failed_fold_keeps_the_others_and_names_itself(ray_executor, tmp_path):
    from me_resnet.parallel.executors import FoldsFailedError

    features = tiny_features(subjects=3)
    features.y[(features.groups != "casme2/000") & (features.y == 2)] = 1  # only subject 000 has class 2
    # fold 0 trains without class 2: inverse-frequency focal alpha is undefined there (a ValueError in the worker)
    config = dataclasses.replace(FAST, loss="focal", focal_alpha="inverse_frequency", early_stop_on="none")
    run = LosoRun(features, "tiny", config, tmp_path, build_fn=tiny_build)
    with pytest.raises(FoldsFailedError, match=r"1 of 3 folds failed; first: fold 0 \(casme2/000\)"):
        run_all([run], ray_executor, progress=False)
    assert (
        len(list(tmp_path.glob("fold_*.csv"))) == 2
        and json.loads((tmp_path / "manifest.json").read_text())["status"] == "running"
    )


def test_ray_missing_gives_the_pip_command(monkeypatch):
    real_import = builtins.__import__

    def no_ray(name, *args, **kwargs):
        if name == "ray" or name.startswith("ray."):
            raise ImportError("No module named 'ray'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ray)
    with pytest.raises(ImportError, match=r"pip install -e '\.\[ray\]'"):
        require_ray()
    with pytest.raises(ImportError, match="the Ray executor needs Ray"):
        make_executor("ray")
    assert isinstance(make_executor("local", engine="per-fold"), InProcessExecutor)  # the default never needs Ray


@pytest.mark.slow
def test_process_per_fold_equals_the_local_loop(tmp_path):
    """Each fold in its own child process: same fold files as in-process, every fold a different process."""
    features = tiny_features(subjects=3)
    local = run_all([LosoRun(features, "tiny", FAST, tmp_path / "local", build_fn=tiny_build)], LocalExecutor())[0]
    process_run = LosoRun(features, "tiny", FAST, tmp_path / "process", build_fn=tiny_build)
    outcomes = ProcessExecutor().run(process_run.jobs, progress=False)
    pids = {info["pid"] for _, info in outcomes}
    assert len(pids) == 3 and os.getpid() not in pids
    pd.testing.assert_frame_equal(process_run.finish(outcomes), local)
    assert fold_files(tmp_path / "process") == fold_files(tmp_path / "local")


def test_process_executor_names_the_fold_whose_process_died(tmp_path, monkeypatch):
    from me_resnet.parallel import executors

    features = tiny_features(subjects=2)
    run = LosoRun(features, "tiny", FAST, tmp_path / "run", build_fn=tiny_build)
    monkeypatch.setattr(executors, "_run_job", _die)  # the child imports _die from this module
    with pytest.raises(executors.FoldsFailedError, match=r"fold 0 \(casme2/000\).*died.*rerun to resume"):
        ProcessExecutor().run(run.jobs, progress=False)


def _die(job):
    os._exit(9)  # what the kernel's OOM killer looks like from the parent


def _ststnet_run(root: Path) -> LosoRun:
    """A registry model (its traced steps are kept between a worker's folds), 3 folds of tiny clips."""
    config = dataclasses.replace(FAST, model="ststnet", epochs=2, batch_size=8, augment=False)
    return LosoRun(tiny_features(subjects=3, shape=(8, 8, 3)), "ststnet", config, root)


@pytest.mark.slow
def test_pool_workers_side_by_side_equal_one_worker_in_turn(tmp_path):
    """Two single-thread workers, each reusing its model across folds, write the fold files that one
    single-thread worker training the 3 folds in turn writes; a second run reuses the started workers."""
    pool, single = PoolExecutor(workers=2, threads=1), PoolExecutor(workers=1, threads=1)
    try:
        side_by_side = _ststnet_run(tmp_path / "pool")
        outcomes = pool.run(side_by_side.jobs, progress=False)
        in_turn = _ststnet_run(tmp_path / "in_turn")
        sequential = single.run(in_turn.jobs, progress=False)
        again = pool.run(_ststnet_run(tmp_path / "again").jobs, progress=False)
    finally:
        pool.close()
        single.close()
    pids = {info["pid"] for _, info in outcomes}
    assert len(pids) == 2 and os.getpid() not in pids
    assert len({info["pid"] for _, info in sequential}) == 1
    assert {info["pid"] for _, info in again} <= pids  # the same workers, no new start-up
    assert {info["threads"] for _, info in outcomes + sequential} == {1}
    pd.testing.assert_frame_equal(side_by_side.finish(outcomes), in_turn.finish(sequential))
    assert fold_files(tmp_path / "pool") == fold_files(tmp_path / "in_turn") == fold_files(tmp_path / "again")


@pytest.mark.slow
def test_started_pool_workers_exist_before_the_first_run_and_train_it(tmp_path):
    """``start`` spawns the workers at once (their start-up overlaps the caller's work); the run uses them."""
    import multiprocessing

    before = {child.pid for child in multiprocessing.active_children()}
    pool = FoldParallelExecutor(PoolExecutor(workers=2), engine="per-fold")
    try:
        pool.start()
        started = {child.pid for child in multiprocessing.active_children()} - before
        assert len(started) == 2
        run = LosoRun(tiny_features(subjects=3), "tiny", FAST, tmp_path / "run", build_fn=tiny_build)
        outcomes = pool.fallback.run(run.jobs, progress=False)
    finally:
        pool.fallback.close()
    assert {info["pid"] for _, info in outcomes} <= started


@pytest.mark.slow
def test_pool_keeps_the_other_folds_when_one_fails(tmp_path, monkeypatch):
    from me_resnet.parallel import executors

    run = LosoRun(tiny_features(subjects=3), "tiny", FAST, tmp_path / "run", build_fn=tiny_build)
    monkeypatch.setattr(executors, "_run_job", _fail_fold_one)  # pickled by reference: the workers import it
    pool = PoolExecutor(workers=2)
    with pytest.raises(
        executors.FoldsFailedError, match=r"1 of 3 folds failed; first: fold 1 \(casme2/001\).*bad clip"
    ):
        pool.run(run.jobs, progress=False)
    pool.close()
    assert sorted(path.name[:8] for path in (tmp_path / "run").glob("fold_*.csv")) == ["fold_000", "fold_002"]


def test_pool_names_the_folds_of_a_dead_worker(tmp_path, monkeypatch):
    from me_resnet.parallel import executors

    run = LosoRun(tiny_features(subjects=2), "tiny", FAST, tmp_path / "run", build_fn=tiny_build)
    monkeypatch.setattr(executors, "_run_job", _die)
    pool = PoolExecutor(workers=1)
    with pytest.raises(executors.FoldsFailedError, match=r"2 of 2 folds failed.*died.*rerun to resume"):
        pool.run(run.jobs, progress=False)
    assert pool._pool is None  # the broken pool was dropped: a rerun starts new workers


def _fail_fold_one(job):
    from me_resnet.parallel.executors import _run_job  # the worker's own module is not patched

    if job.fold == 1:
        raise ValueError("bad clip")
    return _run_job(job)


@needs_ray
def test_ray_executor_options_are_checked():
    with pytest.raises(ValueError, match="cpus_per_fold must be > 0, got 0"):
        make_executor("ray", cpus_per_fold=0)
    env = make_executor("ray", cpus_per_fold=2, gpus_per_fold=0.5, engine="per-fold").worker_env()
    assert env["TF_NUM_INTRAOP_THREADS"] == "2" and env["OMP_NUM_THREADS"] == "2" and env["KERAS_BACKEND"]


def test_cli_flags_build_the_executor(tmp_path, monkeypatch):
    from me_resnet.cli import common as cli

    parser = cli.make_loso_parser("test", "test")
    per_fold = ["--out", str(tmp_path), "--engine", "per-fold"]
    ctx = cli.parse(parser, "table5", per_fold, needs_data=False)
    assert isinstance(ctx.executor, ProcessExecutor) and ctx.executor.threads is None  # paper profile: all cores
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    ctx = cli.parse(parser, "table5", [*per_fold, "--profile", "demo"], needs_data=False)
    assert isinstance(ctx.executor, PoolExecutor)  # demo folds: two single-thread workers side by side
    assert ctx.executor.workers == 2 and ctx.executor.worker_threads == 1
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    ctx = cli.parse(parser, "table5", [*per_fold, "--profile", "demo"], needs_data=False)
    assert type(ctx.executor) is InProcessExecutor  # one core: no pool
    ctx = cli.parse(parser, "table5", ["--out", str(tmp_path), "--executor", "local"], needs_data=False)
    assert type(ctx.executor) is FoldParallelExecutor and type(ctx.executor.fallback) is InProcessExecutor
    for misuse in (["--gpus-per-fold", "1"], ["--executor", "local", "--pool-workers", "2"]):
        with pytest.raises(SystemExit):
            cli.parse(parser, "table5", ["--out", str(tmp_path), *misuse], needs_data=False)


@needs_ray
def test_cli_flags_build_the_ray_executor(tmp_path):
    from me_resnet.cli import common as cli

    parser = cli.make_loso_parser("test", "test")
    flags = ["--out", str(tmp_path), "--executor", "ray", "--cpus-per-fold", "2", "--gpus-per-fold", "0.5"]
    flags += ["--engine", "per-fold"]
    ctx = cli.parse(parser, "table5", flags, needs_data=False)
    assert (ctx.executor.cpus_per_fold, ctx.executor.gpus_per_fold, ctx.executor.address) == (2.0, 0.5, None)
