"""Who runs the LOSO folds: this process (``LocalExecutor``), a fresh child process per fold
(``ProcessExecutor``), a few long-lived child processes at once (``PoolExecutor``) or Ray
tasks (``RayExecutor``).

A fold is a pure function of (features, fold index, config) → fold file
(``runner.run_fold``, paper §3), so folds of one run, or of every run of a sweep
(values x seeds x datasets), can train anywhere in any order. ``run_all`` takes
``runner.LosoRun``s, hands all their pending ``FoldJob``s to one executor, and lets
each run write its own manifest (driver-only writes). Either executor leaves the
same fold files, so a run started with one can be resumed with another and the
predictions equal a sequential run's.

Why a process per fold: with TensorFlow 2.21 and Keras 3, memory of every
trained model stays allocated after the model is gone; ``keras.backend.clear_session()``
and ``gc.collect()`` do not return it (``benchmarks/fold_memory.py``:
about +500 MB per ``keras.applications.ResNet50`` training call and +117 MB per
demo ME-ResNet fold, while a process per fold keeps the parent flat;
``results/bench/fold_memory.json``; keras-team/keras#17458). A paper-profile LOSO of 24-28 folds in one process
would run out of memory; a child process gives it all back when it exits.

Why a pool (the demo default): a demo ME-ResNet fold (batch 4) runs as fast on one
thread as on two (TensorFlow's small 3D convolutions do not split well), so two
single-thread workers train two folds in about the time of one (``--executor pool``,
docs/fold_parallel.md). Each worker keeps its traced model between folds
(``me_resnet.training.compiled``), so it pays TensorFlow's tracing once.

Ray is optional (``pip install -e '.[ray]'``): nothing here imports it until a
``RayExecutor`` runs jobs. See docs/ray.md for a multi-machine cluster.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import pandas as pd

from me_resnet.evaluation.run_dir import fold_file
from me_resnet.training.engine_choice import ENGINES
from me_resnet.utils.io import write_atomic
from me_resnet.utils.quiet import import_backend_quietly, tensorflow_environment

# The runner loads Keras: it is imported where a fold runs, so that a spawned worker's initializer silences
# TensorFlow's start-up before anything loads it, and the command line reads ``EXECUTORS`` without it.
if TYPE_CHECKING:
    from me_resnet.evaluation.runner import FoldJob

QUIET_SETUP_HOOK = "me_resnet.utils.quiet.import_backend_quietly"  # Ray workers: quiet TensorFlow start-up

log = logging.getLogger(__name__)

EXECUTORS = ("local", "process", "pool", "ray")
RAY_MISSING = (
    "--executor ray needs Ray, which is not installed in this environment ({error}); install the optional "
    "extra with: pip install -e '.[ray]'   (or: pip install 'ray[default]>=2.9')"
)


class FoldsFailedError(RuntimeError):
    """Some folds failed on the executor; the finished ones are on disk and a rerun resumes from them."""


class LocalExecutor:
    """The plain loop: folds one after another in this process (the default).

    ``threads`` pins TensorFlow's and OpenMP's thread counts (``--cpus-per-fold``):
    a fold's last bits depend on it, so a run mixed with Ray folds of
    ``cpus_per_fold=threads`` stays bit-identical. None: the backend's default
    (all cores).
    """

    parallel = False

    def __init__(self, threads: int | None = None):
        if threads is not None and int(threads) < 1:
            raise ValueError(f"threads must be >= 1, got {threads!r}")
        self.threads = None if threads is None else int(threads)

    def run(self, jobs: Sequence[FoldJob], progress: bool = True) -> list[tuple[pd.DataFrame, dict]]:
        from tqdm.auto import tqdm

        if self.threads and jobs:
            pin_threads(self.threads)
        outcomes = []
        bar = tqdm(jobs, disable=not progress, unit="fold")
        for position, job in enumerate(bar):
            bar.set_description(f"fold {position + 1}/{len(jobs)} {job.group}{self.where}")
            table, info = self.run_one(job)
            outcomes.append((table, dict(info, threads=self.threads or "default")))
        bar.close()
        return outcomes

    where = ""  # progress-bar note on where a fold trains

    def run_one(self, job: FoldJob) -> tuple[pd.DataFrame, dict]:
        return job.run()


class ProcessExecutor(LocalExecutor):
    """Folds one after another, each in a fresh child process (``spawn``), so memory cannot pile up.

    The fold's features, config and ``build_fn`` are pickled to the child (a
    ``build_fn`` must be importable, as on Ray), which runs ``FoldJob.run`` and
    writes the fold file exactly as the local loop does. Costs one TensorFlow
    start-up (a few seconds) per fold. ``threads`` as for ``LocalExecutor``; the
    children inherit the pinned thread counts through the environment.
    """

    where = " (own process)"

    def run_one(self, job: FoldJob) -> tuple[pd.DataFrame, dict]:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor
        from concurrent.futures.process import BrokenProcessPool

        context = multiprocessing.get_context("spawn")  # no fork of a process that may hold TensorFlow threads
        # the initializer loads Keras with TensorFlow's native start-up lines silenced, before the job unpickles
        with ProcessPoolExecutor(max_workers=1, mp_context=context, initializer=import_backend_quietly) as pool:
            try:
                return pool.submit(_run_job, job).result()
            except BrokenProcessPool as error:
                raise FoldsFailedError(
                    f"the process training fold {job.fold} ({job.group}) of {job.run_dir} died without an "
                    f"exception (killed, e.g. out of memory). Finished folds are saved: rerun to resume."
                ) from error


class PoolExecutor:
    """Folds on ``workers`` long-lived child processes at once (``spawn``), ``threads`` TensorFlow threads each.

    The workers live until ``close`` (or the end of this process), so the next
    ``run`` of a script (another method, another sweep value) reuses them. A worker
    keeps its compiled model from fold to fold (one tracing per worker and model)
    and the memory TensorFlow keeps per fold (~120 MB per demo ME-ResNet fold;
    use ``ProcessExecutor`` for large models). The fold files are written by the
    workers exactly as by the local loop, so a fold's file equals the one
    ``LocalExecutor(threads)`` writes, byte for byte. A failed fold does not stop
    the others; ``FoldsFailedError`` names it once all have finished.
    ``worker_threads`` pins the workers only: the fold-parallel engine, which
    trains small models in this process, keeps its default thread count.
    """

    parallel = True

    def __init__(self, workers: int | None = None, threads: int = 1):
        if int(threads) < 1:
            raise ValueError(f"threads must be >= 1, got {threads!r}")
        self.worker_threads = int(threads)
        self.workers = max(1, (os.cpu_count() or 1) // self.worker_threads) if workers is None else int(workers)
        if self.workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers!r}")
        self._pool = None  # kept between run() calls: a script's next LOSO reuses the started workers

    def _workers_pool(self):
        """The process pool, started on first use (workers spawn as jobs arrive) and kept until ``close``."""
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        if self._pool is None:
            context = multiprocessing.get_context("spawn")  # no fork of a process that may hold TensorFlow threads
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=context,
                initializer=_start_pool_worker,
                initargs=(self.worker_threads,),
            )
        return self._pool

    def close(self, wait: bool = True) -> None:
        """Stop the worker processes (a later ``run`` starts new ones)."""
        if self._pool is not None:
            self._pool.shutdown(wait=wait, cancel_futures=True)
            self._pool = None

    def run(self, jobs: Sequence[FoldJob], progress: bool = True) -> list[tuple[pd.DataFrame, dict]]:
        from concurrent.futures import FIRST_COMPLETED, wait
        from concurrent.futures.process import BrokenProcessPool

        from tqdm.auto import tqdm

        if not jobs:
            return []
        outcomes, failures, broken = [None] * len(jobs), [], False
        where = f"{min(self.workers, len(jobs))} workers x {self.worker_threads} thread(s)"
        bar = tqdm(total=len(jobs), disable=not progress, unit="fold", desc=where)
        pool = self._workers_pool()
        try:
            pending = {pool.submit(_run_job, job): position for position, job in enumerate(jobs)}
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    position = pending.pop(future)
                    job = jobs[position]
                    try:
                        table, info = future.result()
                    except Exception as error:  # a failed fold must not lose the others: they keep running
                        if isinstance(error, BrokenProcessPool):
                            broken = True
                            error = RuntimeError("its worker process died without an exception (killed, e.g. OOM)")
                        log.error("pool: fold %d (%s) of %s failed: %s", job.fold, job.group, job.run_dir, error)
                        failures.append((job, error))
                    else:
                        outcomes[position] = (table, info)
                        bar.set_postfix_str(job.group)
                    bar.update()
        except BaseException:
            self.close(wait=False)
            raise
        finally:
            bar.close()
        if broken:
            self.close(wait=False)  # a broken pool takes no more jobs: the next run starts new workers
        raise_failures(failures, len(jobs))
        return outcomes


def raise_failures(failures: list, total: int) -> None:
    """``FoldsFailedError`` naming the first of ``failures`` ((job, error) pairs) of ``total`` folds, if any."""
    if failures:
        job, error = failures[0]
        raise FoldsFailedError(
            f"{len(failures)} of {total} folds failed; first: fold {job.fold} ({job.group}) of "
            f"{job.run_dir}: {error}. Finished folds are saved: rerun to resume."
        ) from error


def _start_pool_worker(threads: int) -> None:
    """Pool worker start-up: pin the thread counts before TensorFlow loads, then load Keras quietly."""
    pin_threads(threads)
    import_backend_quietly()


def _run_job(job: FoldJob) -> tuple[pd.DataFrame, dict]:
    """Child-process body of ``ProcessExecutor``: one fold, which process trained it and its peak memory."""
    import resource

    table, info = job.run()
    return table, dict(
        info,
        pid=os.getpid(),
        peak_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        threads=int(os.environ.get("TF_NUM_INTRAOP_THREADS", 0)) or "default",
    )


def pin_threads(threads: int) -> None:
    """This process's TensorFlow intra/inter-op and OpenMP threads = ``threads`` (must precede TF's first op)."""
    preset = os.environ.get("TF_NUM_INTRAOP_THREADS") == str(threads)  # TensorFlow read it when it started
    for name in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS"):
        os.environ[name] = str(threads)
    if "tensorflow" not in sys.modules:
        return  # read from the environment when TensorFlow starts
    import tensorflow as tf  # only to pin threads: not model code

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:
        if not preset and tf.config.threading.get_intra_op_parallelism_threads() != threads:
            raise ValueError(
                f"cannot pin {threads} threads per fold: TensorFlow is already running in this process "
                f"with another thread count; set TF_NUM_INTRAOP_THREADS={threads} before starting"
            ) from None


class RayExecutor:
    """Each fold a Ray task (``num_cpus=cpus_per_fold``, ``num_gpus=gpus_per_fold``).

    Each distinct ``Features`` goes into the object store once (``ray.put``); a
    task trains its fold with ``runner.run_fold`` and writes the fold file into the
    run dir exactly as the local loop does (atomic; shared filesystem) and sends
    the file's bytes back, so the driver also holds it when the worker's disk is
    not shared. ``address`` is a cluster (``HEAD:6379``, ``auto``) or None for a
    private local instance; an already initialised Ray is used as it is. Workers
    get ``KERAS_BACKEND``, ``TF_ENABLE_ONEDNN_OPTS``, ``TF_CPP_MIN_LOG_LEVEL`` and
    TensorFlow/OpenMP thread counts of ``cpus_per_fold`` (plus ``env_vars``) through
    the task's runtime env.
    ``fresh_process_per_fold``: a worker process exits after one fold (Ray's
    ``max_calls=1``), so no worker accumulates TensorFlow's retained memory.
    """

    parallel = True

    def __init__(
        self,
        address: str | None = None,
        cpus_per_fold: float = 1.0,
        gpus_per_fold: float = 0.0,
        env_vars: dict | None = None,
        init_kwargs: dict | None = None,
        fresh_process_per_fold: bool = True,
    ):
        if not cpus_per_fold > 0:
            raise ValueError(f"cpus_per_fold must be > 0, got {cpus_per_fold!r}")
        if not gpus_per_fold >= 0:
            raise ValueError(f"gpus_per_fold must be >= 0, got {gpus_per_fold!r}")
        require_ray()
        self.address, self.cpus_per_fold, self.gpus_per_fold = address, float(cpus_per_fold), float(gpus_per_fold)
        self.env_vars, self.init_kwargs = dict(env_vars or {}), dict(init_kwargs or {})
        self.fresh_process_per_fold = bool(fresh_process_per_fold)

    def worker_env(self) -> dict[str, str]:
        """Environment of the fold tasks: the driver's Keras backend, quiet TF, ``cpus_per_fold`` threads."""
        threads = str(max(1, int(self.cpus_per_fold)))
        backend = os.environ.get("KERAS_BACKEND")
        if backend is None:
            import keras

            backend = keras.config.backend()
        env = {
            **tensorflow_environment(),  # the driver's oneDNN switch and log level, as the local children inherit
            "KERAS_BACKEND": backend,
            "TF_NUM_INTRAOP_THREADS": threads,
            "TF_NUM_INTEROP_THREADS": threads,
            "OMP_NUM_THREADS": threads,
            "TF_FORCE_GPU_ALLOW_GROWTH": "true",
        }  # fractional --gpus-per-fold: do not grab the whole card
        return env | self.env_vars

    def _connect(self):
        import ray

        if not ray.is_initialized():
            log.info("starting Ray (%s)", self.address or "local instance")
            ray.init(
                address=self.address, **({"include_dashboard": False, "logging_level": "WARNING"} | self.init_kwargs)
            )
        return ray

    def run(self, jobs: Sequence[FoldJob], progress: bool = True) -> list[tuple[pd.DataFrame, dict]]:
        from tqdm.auto import tqdm

        if not jobs:
            return []
        ray = self._connect()
        # max_calls=1: a worker process exits after its fold, returning the memory TensorFlow keeps (module docstring)
        task = ray.remote(max_calls=1 if self.fresh_process_per_fold else 0)(_fold_task).options(
            num_cpus=self.cpus_per_fold,
            num_gpus=self.gpus_per_fold,
            runtime_env={"env_vars": self.worker_env(), "worker_process_setup_hook": QUIET_SETUP_HOOK},
            max_retries=0,
        )
        stored = {}  # id(features) -> ObjectRef: each feature set is shipped once
        pending = {}
        for position, job in enumerate(jobs):
            if id(job.features) not in stored:
                stored[id(job.features)] = ray.put(job.features)
            reference = task.remote(
                stored[id(job.features)], job.fold, job.config, job.run_dir, job.model_name, job.build_fn, job.verbose
            )
            pending[reference] = position
        outcomes, failures = [None] * len(jobs), []
        bar = tqdm(total=len(jobs), disable=not progress, unit="fold", desc=f"ray: {len(jobs)} folds")
        try:
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1)
                position = pending.pop(ready[0])
                job = jobs[position]
                try:
                    table, info, files = ray.get(ready[0])
                except Exception as error:  # a failed fold must not lose the others: they keep running
                    log.error("fold %d (%s) of %s failed on Ray: %s", job.fold, job.group, job.run_dir, error)
                    failures.append((job, error))
                else:
                    _keep_on_driver(job, info, files)
                    outcomes[position] = (table, info)
                    bar.set_postfix_str(f"{info['group']} on {info.get('node', '?')}")
                bar.update()
        except BaseException:
            for reference in pending:
                ray.cancel(reference)
            raise
        finally:
            bar.close()
        raise_failures(failures, len(jobs))
        return outcomes


def _fold_task(features, fold: int, config, run_dir, model_name: str, build_fn, verbose: int):
    """Ray task body: train one fold, write its file, return (table, info, {"csv": bytes, "json": bytes})."""
    target = run_dir
    if run_dir is not None and not _writable(Path(run_dir)):  # this node does not share the run dir
        target = Path(tempfile.mkdtemp(prefix="me_resnet_fold_"))
    from me_resnet.evaluation.runner import run_fold

    table, info = run_fold(features, fold, config, target, model_name=model_name, build_fn=build_fn, verbose=verbose)
    files = {}
    if target is not None:
        path = fold_file(target, fold, info["group"])
        files = {"csv": path.read_bytes(), "json": path.with_suffix(".json").read_bytes()}
    return (
        table,
        dict(
            info,
            node=socket.gethostname(),
            pid=os.getpid(),
            threads=int(os.environ.get("TF_NUM_INTRAOP_THREADS", 0)) or "default",
        ),
        files,
    )


def _writable(directory: Path) -> bool:
    try:
        directory.mkdir(parents=True, exist_ok=True)
        return os.access(directory, os.W_OK)
    except OSError:
        return False


def _keep_on_driver(job: FoldJob, info: dict, files: dict) -> None:
    """Make sure the driver's run dir holds the fold file the worker wrote (a no-op on a shared filesystem)."""
    if job.run_dir is None:
        return
    path = fold_file(job.run_dir, job.fold, info["group"])
    if path.exists() and path.read_bytes() == files["csv"]:
        return
    write_atomic(path.with_suffix(".json"), lambda stream: stream.write(files["json"].decode()))
    write_atomic(path, lambda stream: stream.write(files["csv"].decode()))  # the csv last: it marks the fold finished


def require_ray():
    """``import ray``, or an ``ImportError`` that says how to install it."""
    try:
        import ray
    except ImportError as error:
        raise ImportError(RAY_MISSING.format(error=error)) from None
    return ray


def make_executor(
    name: str = "local",
    address: str | None = None,
    cpus_per_fold: float | None = None,
    gpus_per_fold: float = 0.0,
    engine: str = "auto",
    workers: int | None = None,
):
    """The executor named by ``--executor`` (``local`` | ``process`` | ``pool`` | ``ray``) with its options.

    ``cpus_per_fold`` None: all cores for the local loop, 1 per pool worker and per Ray task;
    ``workers``: pool processes (None: cores // threads).
    ``engine`` (``--engine``: ``auto`` | ``fold-parallel`` | ``per-fold``) is kept as the
    executor's ``engine`` attribute: how the folds of one run are trained.
    """
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; choose one of {ENGINES}")
    if workers is not None and name != "pool":
        raise ValueError("--pool-workers needs --executor pool")
    if name in ("local", "process", "pool") and (address is not None or gpus_per_fold):
        raise ValueError("--ray-address / --gpus-per-fold need --executor ray")
    if name == "pool":
        executor = PoolExecutor(workers=workers, threads=1 if cpus_per_fold is None else max(1, int(cpus_per_fold)))
    elif name in ("local", "process"):
        executor = LocalExecutor if name == "local" else ProcessExecutor
        executor = executor(threads=None if cpus_per_fold is None else max(1, int(cpus_per_fold)))
    elif name == "ray":
        executor = RayExecutor(
            address=address, cpus_per_fold=1.0 if cpus_per_fold is None else cpus_per_fold, gpus_per_fold=gpus_per_fold
        )
    else:
        raise ValueError(f"unknown executor {name!r}; choose one of {EXECUTORS}")
    executor.engine = engine
    return executor


__all__ = [
    "ENGINES",
    "EXECUTORS",
    "FoldsFailedError",
    "LocalExecutor",
    "PoolExecutor",
    "ProcessExecutor",
    "RayExecutor",
    "make_executor",
    "pin_threads",
    "require_ray",
]
