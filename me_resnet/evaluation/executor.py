"""What runs the pending folds of LOSO runs: the ``Executor`` protocol, and ``LocalExecutor``, the plain loop.

A fold is a pure function of (features, fold index, config) → fold file
(``runner.run_fold``, paper §3), so the folds of one run, or of every run of a
sweep, can train anywhere and in any order: the predictions do not depend on the
executor. ``loso.run_all`` hands an executor the ``FoldJob``s of all its runs and
each run writes its own manifest. Executors that train several folds at once (a
process pool, Ray, the fold-parallel engine) are in ``me_resnet.parallel``; the
caller builds one and hands it in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, Sequence

import pandas as pd

if TYPE_CHECKING:
    from me_resnet.evaluation.runner import FoldJob
    from me_resnet.training.model_source import ModelSource

FoldOutcome = tuple[pd.DataFrame, dict]  # a fold's predictions and what its ``.json`` says


class Executor(Protocol):
    """Runs fold jobs; returns their ``(predictions, info)`` in ``jobs`` order.

    ``parallel``: whether the executor trains several folds at the same time, so that
    a sweep hands it the folds of all its values at once rather than one value after
    another (which keeps one value's features in memory at a time).
    """

    parallel: bool

    def run(self, jobs: Sequence[FoldJob], *, progress: bool = True) -> list[FoldOutcome]: ...


class LocalExecutor:
    """The folds one after another in this process.

    ``models``: where each fold gets its compiled model (``training.model_source``;
    default: a fresh build per fold).
    """

    parallel = False
    where = ""  # progress-bar note on where a fold trains

    def __init__(self, models: ModelSource | None = None):
        self.models = models

    def run(self, jobs: Sequence[FoldJob], *, progress: bool = True) -> list[FoldOutcome]:
        from tqdm.auto import tqdm

        outcomes = []
        bar = tqdm(jobs, disable=not progress, unit="fold")
        for position, job in enumerate(bar):
            bar.set_description(f"fold {position + 1}/{len(jobs)} {job.group}{self.where}")
            outcomes.append(self.run_one(job))
        bar.close()
        return outcomes

    def run_one(self, job: FoldJob) -> FoldOutcome:
        return job.run(models=self.models)
