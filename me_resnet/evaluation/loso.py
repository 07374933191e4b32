"""``run_loso``: one leave-one-subject-out run, from features to predictions (SPEC §6)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from me_resnet.config import Config
from me_resnet.data.records import Features
from me_resnet.evaluation.executors import run_all
from me_resnet.evaluation.runner import LosoRun
from me_resnet.training.fold import BuildFn


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
