"""Where the LOSO folds train: this process with pinned threads (``InProcessExecutor``), a fresh child
process per fold (``ProcessExecutor``), a few long-lived child processes at once (``PoolExecutor``) or
Ray tasks (``ray_executor.RayExecutor``); ``build.make_executor`` builds one from its name and options.

Each implements ``evaluation.executor.Executor``: a fold is a pure function of
(features, fold index, config) → fold file (``runner.run_fold``, paper §3), so folds
of one run, or of every run of a sweep (values x seeds x datasets), can train
anywhere in any order. Every executor leaves the same fold files, so a run started
with one can be resumed with another and the predictions equal a sequential run's.
Every process keeps its compiled model from fold to fold (``compiled.PROCESS_MODELS``),
so it pays TensorFlow's tracing once per model.

Why a process per fold: with TensorFlow and Keras 3, memory of every trained model
stays allocated after the model is gone; ``keras.backend.clear_session()`` and
``gc.collect()`` do not return it (``benchmarks/fold_memory.py`` measures it per fold,
``results/bench/fold_memory.json``; keras-team/keras#17458). A paper-profile LOSO of
24-28 folds in one process would run out of memory; a child process gives it all
back when it exits.

Why a pool (the demo default): a demo ME-ResNet fold (batch 4) runs as fast on one
thread as on two (TensorFlow's small 3D convolutions do not split well), so two
single-thread workers train two folds in about the time of one (docs/fold_parallel.md).
"""

from __future__ import annotations

import logging
import os
import sys
from typing import TYPE_CHECKING, Sequence

from me_resnet.evaluation.executor import FoldOutcome, LocalExecutor
from me_resnet.utils.quiet import import_backend_quietly

# The runner and the compiled models load Keras: they are imported where a fold runs, so that a spawned
# worker's initializer silences TensorFlow's start-up before anything loads it, and the command line
# builds an executor without it.
if TYPE_CHECKING:
    from me_resnet.evaluation.runner import FoldJob
    from me_resnet.training.model_source import ModelSource

log = logging.getLogger(__name__)


class FoldsFailedError(RuntimeError):
    """Some folds failed on the executor; the finished ones are on disk and a rerun resumes from them."""


def _process_models() -> ModelSource:
    from me_resnet.parallel.compiled import PROCESS_MODELS

    return PROCESS_MODELS


class InProcessExecutor(LocalExecutor):
    """The plain loop in this process, with ``threads`` TensorFlow/OpenMP threads and the compiled model
    kept from fold to fold (``compiled.PROCESS_MODELS``).

    A fold's last bits depend on its thread count, so a run mixed with Ray folds of
    ``cpus_per_fold=threads`` stays bit-identical. ``threads`` None: the backend's
    default (all cores).
    """

    def __init__(self, threads: int | None = None):
        super().__init__()
        if threads is not None and int(threads) < 1:
            raise ValueError(f"threads must be >= 1, got {threads!r}")
        self.threads = None if threads is None else int(threads)

    def run(self, jobs: Sequence[FoldJob], *, progress: bool = True) -> list[FoldOutcome]:
        if self.threads and jobs:
            pin_threads(self.threads)
        outcomes = super().run(jobs, progress=progress)
        return [(table, dict(info, threads=self.threads or "default")) for table, info in outcomes]

    def run_one(self, job: FoldJob) -> FoldOutcome:
        return job.run(models=_process_models())  # fetched here: it loads Keras, which building must not


class ProcessExecutor(InProcessExecutor):
    """Folds one after another, each in a fresh child process (``spawn``), so memory cannot pile up.

    The fold's features, config and ``build_fn`` are pickled to the child (a
    ``build_fn`` must be importable, as on Ray), which runs ``FoldJob.run`` and
    writes the fold file exactly as the local loop does. Costs one TensorFlow
    start-up (a few seconds) per fold. ``threads`` as for ``InProcessExecutor``; the
    children inherit the pinned thread counts through the environment.
    """

    where = " (own process)"

    def run_one(self, job: FoldJob) -> FoldOutcome:
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
    and the memory TensorFlow keeps per fold (``ProcessExecutor`` suits large models). The fold files are written by the
    workers exactly as by the local loop, so a fold's file equals the one
    ``InProcessExecutor(threads)`` writes, byte for byte. A failed fold does not stop
    the others; ``FoldsFailedError`` names it once all have finished.
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

    def start(self) -> None:
        """Start the worker processes now (else the first ``run`` does): their start-up (TensorFlow's import)
        then overlaps the caller's other work, e.g. writing the demo data or extracting features."""
        pool = self._workers_pool()
        for _ in range(self.workers):  # a pool spawns a process per submitted job while none is idle
            pool.submit(int)

    def close(self, wait: bool = True) -> None:
        """Stop the worker processes (a later ``run`` starts new ones)."""
        if self._pool is not None:
            self._pool.shutdown(wait=wait, cancel_futures=True)
            self._pool = None

    def run(self, jobs: Sequence[FoldJob], *, progress: bool = True) -> list[FoldOutcome]:
        from tqdm.auto import tqdm

        if not jobs:
            return []
        where = f"{min(self.workers, len(jobs))} workers x {self.worker_threads} thread(s)"
        bar = tqdm(total=len(jobs), disable=not progress, unit="fold", desc=where)
        try:
            outcomes, failures, broken = self._collect(jobs, bar)
        except BaseException:
            self.close(wait=False)
            raise
        finally:
            bar.close()
        if broken:
            self.close(wait=False)  # a broken pool takes no more jobs: the next run starts new workers
        raise_failures(failures, len(jobs))
        return outcomes

    def _collect(self, jobs: Sequence[FoldJob], bar) -> tuple[list, list, bool]:
        """Submit every job, wait for all: (outcomes in job order, (job, error) failures, whether a worker died)."""
        from concurrent.futures import FIRST_COMPLETED, wait
        from concurrent.futures.process import BrokenProcessPool

        outcomes, failures, broken = [None] * len(jobs), [], False
        pool = self._workers_pool()
        pending = {pool.submit(_run_job, job): position for position, job in enumerate(jobs)}
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                position = pending.pop(future)
                job = jobs[position]
                try:
                    outcomes[position] = future.result()
                except Exception as error:  # a failed fold must not lose the others: they keep running
                    if isinstance(error, BrokenProcessPool):
                        broken = True
                        error = RuntimeError("its worker process died without an exception (killed, e.g. OOM)")
                    log.error("pool: fold %d (%s) of %s failed: %s", job.fold, job.group, job.run_dir, error)
                    failures.append((job, error))
                else:
                    bar.set_postfix_str(job.group)
                bar.update()
        return outcomes, failures, broken


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


def _run_job(job: FoldJob) -> FoldOutcome:
    """Child-process body of the process and pool executors: one fold, which process trained it, its peak memory."""
    import resource

    table, info = job.run(models=_process_models())
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
