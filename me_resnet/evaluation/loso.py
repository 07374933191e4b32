"""``run_loso``: one leave-one-subject-out run, from features to predictions (paper §3); ``run_all``: the
pending folds of many runs on one executor."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Sequence

import pandas as pd

from me_resnet.config import Config
from me_resnet.data.records import Features
from me_resnet.evaluation.executor import Executor, LocalExecutor
from me_resnet.evaluation.folds import FoldSelectionError, plan_folds
from me_resnet.evaluation.runner import LosoRun
from me_resnet.training.fold import BuildFn

log = logging.getLogger(__name__)


def run_loso(
    features: Features,
    model_name: str,
    config: Config,
    *,
    run_dir: str | Path | None = None,
    folds=None,
    executor: Executor | None = None,
    build_fn: BuildFn | None = None,
    verbose: int = 0,
    progress: bool = True,
) -> pd.DataFrame:
    """LOSO predictions over all of ``features``, one row per test clip (columns ``PREDICTION_COLUMNS``).

    ``folds`` restricts the run to some fold indices or group names (``folds.plan_folds``).
    With ``run_dir`` finished folds are reused, and ``config.json``/``manifest.json``
    describe the run; without it nothing is written. ``executor`` runs the pending
    folds (default: ``LocalExecutor()``, the plain loop; ``me_resnet.parallel`` has the
    others); the predictions do not depend on it.
    """
    plans = plan_folds(features.groups, "composite", folds)  # these features are one LOSO, whatever they hold
    if not plans:
        raise FoldSelectionError(f"folds {folds!r} select no fold")
    run = LosoRun(features, model_name, config, run_dir, groups=plans[0].groups, verbose=verbose, build_fn=build_fn)
    return run_all([run], executor, progress=progress)[0]


def run_all(runs: Sequence[LosoRun], executor: Executor | None = None, *, progress: bool = True) -> list[pd.DataFrame]:
    """Run the pending folds of all ``runs`` on one ``executor`` (default ``LocalExecutor()``); predictions per run."""
    executor = executor or LocalExecutor()
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
