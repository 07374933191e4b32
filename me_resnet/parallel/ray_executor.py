"""Each LOSO fold a Ray task, on this machine or a cluster (docs/ray.md).

Ray is optional (``pip install -e '.[ray]'``): nothing here imports it until a
``RayExecutor`` is made. A task trains its fold with ``runner.run_fold`` exactly as
the local loop does, so its fold file is byte for byte the one
``InProcessExecutor(threads=cpus_per_fold)`` writes.
"""

from __future__ import annotations

import logging
import os
import socket
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from me_resnet.evaluation.executor import FoldOutcome
from me_resnet.evaluation.run_dir import fold_file
from me_resnet.parallel.executors import raise_failures
from me_resnet.utils.io import write_atomic
from me_resnet.utils.quiet import tensorflow_environment

# The runner loads Keras: it is imported where a fold runs, after the worker's setup hook has silenced
# TensorFlow's start-up (QUIET_SETUP_HOOK), and the command line builds executors without it.
if TYPE_CHECKING:
    from me_resnet.evaluation.runner import FoldJob

QUIET_SETUP_HOOK = "me_resnet.utils.quiet.import_backend_quietly"  # Ray workers: quiet TensorFlow start-up
RAY_MISSING = (
    "the Ray executor needs Ray, which is not installed in this environment ({error}); install the optional "
    "extra with: pip install -e '.[ray]'   (or: pip install 'ray[default]>=2.9')"
)

log = logging.getLogger(__name__)


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
        *,
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
        }  # a fraction of a GPU per fold: do not grab the whole card
        return env | self.env_vars

    def _connect(self):
        import ray

        if not ray.is_initialized():
            log.info("starting Ray (%s)", self.address or "local instance")
            ray.init(
                address=self.address, **({"include_dashboard": False, "logging_level": "WARNING"} | self.init_kwargs)
            )
        return ray

    def run(self, jobs: Sequence[FoldJob], *, progress: bool = True) -> list[FoldOutcome]:
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
    from me_resnet.evaluation.runner import run_fold
    from me_resnet.parallel.compiled import PROCESS_MODELS

    target = run_dir
    if run_dir is not None and not _writable(Path(run_dir)):  # this node does not share the run dir
        target = Path(tempfile.mkdtemp(prefix="me_resnet_fold_"))
    table, info = run_fold(
        features, fold, config, target, model_name=model_name, build_fn=build_fn, verbose=verbose, models=PROCESS_MODELS
    )
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
