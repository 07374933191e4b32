"""``make_executor``: the executor a name and its options ask for, the fold-parallel engine wrapped around it.

The command line builds its executor here from its flags; a caller of the Python API
may too, or build any ``evaluation.executor.Executor`` itself. Nothing here loads
Keras until an executor is made (the command line reads ``EXECUTORS`` first).
"""

from __future__ import annotations

from me_resnet.evaluation.executor import Executor
from me_resnet.parallel.engine_choice import ENGINES
from me_resnet.parallel.executors import InProcessExecutor, PoolExecutor, ProcessExecutor

EXECUTORS = ("local", "process", "pool", "ray")


def _check_options(name: str, address, gpus_per_fold: float, engine: str, workers) -> None:
    if name not in EXECUTORS:
        raise ValueError(f"unknown executor {name!r}; choose one of {EXECUTORS}")
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; choose one of {ENGINES}")
    if workers is not None and name != "pool":
        raise ValueError(f"workers={workers!r} is an option of the 'pool' executor, not of {name!r}")
    if name != "ray" and (address is not None or gpus_per_fold):
        raise ValueError(
            f"address={address!r} and gpus_per_fold={gpus_per_fold!r} are options of the 'ray' executor, "
            f"not of {name!r}"
        )


def make_executor(
    name: str = "local",
    *,
    address: str | None = None,
    cpus_per_fold: float | None = None,
    gpus_per_fold: float = 0.0,
    engine: str = "auto",
    workers: int | None = None,
) -> Executor:
    """The executor ``name`` (``local`` | ``process`` | ``pool`` | ``ray``) with its options.

    ``cpus_per_fold`` None: all cores for the local loop, 1 per pool worker and per Ray task;
    ``workers``: pool processes (None: cores // threads); ``address``, ``gpus_per_fold``: Ray's.
    ``engine`` (``auto`` | ``fold-parallel`` | ``per-fold``) says how the folds of one run
    train: unless ``per-fold``, the executor is wrapped in an ``engine_executor.FoldParallelExecutor``,
    which trains all pending folds of a run of a small model at once (``engine_choice.choose_engine``)
    and hands the others to the executor.
    """
    _check_options(name, address, gpus_per_fold, engine, workers)
    threads = None if cpus_per_fold is None else max(1, int(cpus_per_fold))
    if name == "pool":
        executor = PoolExecutor(workers=workers, threads=threads or 1)
    elif name == "local":
        executor = InProcessExecutor(threads=threads)
    elif name == "process":
        executor = ProcessExecutor(threads=threads)
    else:
        from me_resnet.parallel.ray_executor import RayExecutor  # only here: Ray is an optional extra

        executor = RayExecutor(
            address=address, cpus_per_fold=1.0 if cpus_per_fold is None else cpus_per_fold, gpus_per_fold=gpus_per_fold
        )
    if engine == "per-fold":
        return executor
    from me_resnet.parallel.engine_executor import FoldParallelExecutor  # it loads Keras

    # the engine trains in this process: with the local loop's or the process executor's thread count
    engine_threads = threads if name in ("local", "process") else None
    return FoldParallelExecutor(executor, engine=engine, threads=engine_threads)
