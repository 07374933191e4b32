"""``run_loso``: one leave-one-subject-out run, from features to predictions (paper §3); ``run_all``: the
pending folds of many runs on one executor (the fold-parallel engine for small models)."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Sequence

import pandas as pd

from me_resnet.config import Config
from me_resnet.data.records import Features
from me_resnet.evaluation.executors import LocalExecutor
from me_resnet.evaluation.fold_parallel import FoldParallelExecutor
from me_resnet.evaluation.runner import LosoRun
from me_resnet.training.fold import BuildFn

log = logging.getLogger(__name__)


def run_loso(
    features: Features,
    model_name: str,
    config: Config,
    run_dir: str | Path | None = None,
    folds=None,
    verbose: int = 0,
    build_fn: BuildFn | None = None,
    progress: bool = True,
    executor=None,
) -> pd.DataFrame:
    """LOSO predictions, one row per test clip (columns ``PREDICTION_COLUMNS``).

    ``folds`` restricts the run to some fold indices or group names. With
    ``run_dir`` finished folds are reused, and ``config.json``/``manifest.json``
    describe the run; without it nothing is written. ``executor`` runs the
    pending folds (``me_resnet.evaluation.executors``: ``LocalExecutor``, the default plain
    loop, or ``RayExecutor``); the predictions do not depend on it.
    """

    run = LosoRun(features, model_name, config, run_dir, folds=folds, verbose=verbose, build_fn=build_fn)
    return run_all([run], executor, progress=progress)[0]


def run_all(runs: Sequence[LosoRun], executor=None, progress: bool = True) -> list[pd.DataFrame]:
    """Run the pending folds of all ``runs`` on one ``executor`` (default ``LocalExecutor``); predictions per run.

    Unless ``executor.engine == "per-fold"``, the runs whose small model the fold-parallel engine fits
    (``me_resnet.training.engine_choice.choose_engine``) train all their pending folds at once.
    """
    executor = executor or LocalExecutor()
    engine = getattr(executor, "engine", "auto")
    if engine != "per-fold" and not getattr(executor, "fold_parallel", False):
        executor = FoldParallelExecutor(fallback=executor, engine=engine)  # small models: all folds of a run at once
    jobs = [job for run in runs for job in run.jobs]
    started = time.perf_counter()
    try:
        outcomes = iter(executor.run(jobs, progress=progress))
        if jobs:
            log.debug(
                "%d folds of %d runs in %.1f s on %s",
                len(jobs),
                len(runs),
                time.perf_counter() - started,
                type(executor).__name__,
            )
        return [run.finish([next(outcomes) for _ in run.jobs]) for run in runs]
    finally:
        for run in runs:
            run.close()  # a failed run releases its run dir's lock too
