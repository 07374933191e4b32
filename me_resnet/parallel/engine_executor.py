"""Run the pending folds of a LOSO run together on the fold-parallel engine (docs/fold_parallel.md).

``FoldParallelExecutor`` (an ``evaluation.executor.Executor``, which
``build.make_executor`` wraps around the executor it builds unless the
engine is ``per-fold``) takes the ``FoldJob``s that ``loso.run_all`` collects,
groups the jobs of each run, and for every run whose model the engine fits
(``engine_choice.choose_engine``) trains all its pending folds in one
``engine.train_folds`` call; the other runs go to the ``fallback`` executor (the
per-fold loop). It writes the same fold files and sidecars as
``runner.run_fold`` (plus ``"engine"``), so resume, manifest and metrics do not
change, and with a run dir it keeps:

- ``fold_parallel_checkpoint_<first fold>.npz`` while training (every
  ``checkpoint_every`` epochs; a killed run restarts from it; removed when the
  folds are written);
- ``fold_parallel_epochs_<first fold>.npz``: every kept epoch's test
  probabilities and every epoch's test loss per fold, for last-epoch vs
  best-test-epoch comparisons.

Folds train in passes of at most ``max_folds`` (default: as many as fit
``engine_choice.STATE_BUDGET_BYTES``, ``folds_per_pass``).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Sequence

import numpy as np

from me_resnet.evaluation.executor import Executor, FoldOutcome, LocalExecutor
from me_resnet.evaluation.folds import FoldSplit, check_no_leak, loso_splits, split_fold
from me_resnet.evaluation.runner import FoldJob, fold_info, fold_table, write_fold
from me_resnet.parallel.engine import train_folds
from me_resnet.parallel.engine_choice import ENGINES, choose_engine, folds_per_pass, inspect_model
from me_resnet.parallel.engine_state import FoldSpec, save_npz_atomic
from me_resnet.parallel.executors import pin_threads

log = logging.getLogger(__name__)

CHECKPOINT_NAME = "fold_parallel_checkpoint_{first:03d}.npz"  # {first}: the pass's first fold index
EPOCHS_NAME = "fold_parallel_epochs_{first:03d}.npz"


class FoldParallelExecutor:
    """Train each run's pending folds together where the engine fits; hand the rest to ``fallback``.

    Args:
        fallback: executor for runs the engine does not take (default ``LocalExecutor()``).
        engine: ``auto`` | ``fold-parallel`` (``choose_engine``).
        threads: TensorFlow/OpenMP threads of this process while the engine trains (None: as they are).
        checkpoint_every: epochs between checkpoints (runs with a run dir).
        keep_epochs: 1-based epochs whose test probabilities are kept (None: all).
        max_folds: folds trained together in one pass (None: as many as ``folds_per_pass`` allows).
    """

    def __init__(
        self,
        fallback: Executor | None = None,
        *,
        engine: str = "auto",
        threads: int | None = None,
        checkpoint_every: int = 50,
        keep_epochs=None,
        max_folds: int | None = None,
    ):
        if engine not in ENGINES:
            raise ValueError(f"unknown engine {engine!r}; choose one of {ENGINES}")
        if max_folds is not None and int(max_folds) < 1:
            raise ValueError(f"max_folds must be >= 1, got {max_folds!r}")
        self.fallback = fallback if fallback is not None else LocalExecutor()
        self.engine, self.threads = engine, threads
        self.checkpoint_every, self.keep_epochs = int(checkpoint_every), keep_epochs
        self.max_folds = None if max_folds is None else int(max_folds)

    @property
    def parallel(self) -> bool:
        """As the fallback's: the engine trains one run's folds at once, not the folds of many runs."""
        return self.fallback.parallel

    def start(self) -> None:
        """Start the fallback's workers now, if it has any (``PoolExecutor.start``)."""
        start = getattr(self.fallback, "start", None)
        if start is not None:
            start()

    def run(self, jobs: Sequence[FoldJob], *, progress: bool = True) -> list[FoldOutcome]:
        outcomes: list = [None] * len(jobs)
        runs: dict = {}
        for position, job in enumerate(jobs):
            key = (id(job.features), job.run_dir, job.model_name, job.config, job.build_fn)
            runs.setdefault(key, []).append(position)
        per_fold = []
        for positions in runs.values():
            job = jobs[positions[0]]
            shape = tuple(job.features.X.shape[1:])
            engine = choose_engine(
                job.model_name, job.config, engine=self.engine, build_fn=job.build_fn, input_shape=shape
            )
            if engine != "fold-parallel":
                per_fold += positions
                continue
            if self.threads:
                pin_threads(self.threads)
            _, parameters, activations = inspect_model(
                job.model_name, job.config, build_fn=job.build_fn, input_shape=shape
            )
            size = self.max_folds or folds_per_pass(parameters, activations, job.config.batch_size)
            for start in range(0, len(positions), size):
                chunk = positions[start : start + size]
                together = run_folds_together(
                    [jobs[p] for p in chunk],
                    progress=progress,
                    checkpoint_every=self.checkpoint_every,
                    keep_epochs=self.keep_epochs,
                )
                for position, outcome in zip(chunk, together):
                    outcomes[position] = outcome
        if per_fold:
            done = self.fallback.run([jobs[p] for p in per_fold], progress=progress)
            for position, (table, info) in zip(per_fold, done):
                outcomes[position] = (table, dict(info, engine=info.get("engine", "per-fold")))
        return outcomes


def fold_splits(jobs: Sequence[FoldJob]) -> list[FoldSplit]:
    """The jobs' folds, split into fit, validation and test rows, each checked by ``check_no_leak``."""
    job = jobs[0]
    splits = job.splits if job.splits is not None else loso_splits(job.features)
    split = [split_fold(job.features, splits, each.fold, job.config) for each in jobs]
    for each in split:
        check_no_leak(job.features, each)
    return split


def fold_specs(jobs: Sequence[FoldJob]) -> list[FoldSpec]:
    """The jobs' folds as the engine's ``FoldSpec``s (monitor rows per ``early_stop_on``), checked for leaks."""
    early_stop_on = jobs[0].config.early_stop_on
    return [spec_of(split, early_stop_on) for split in fold_splits(jobs)]


def spec_of(split: FoldSplit, early_stop_on: str) -> FoldSpec:
    monitor = {"val": split.val_index, "test": split.test_index, "none": None}[early_stop_on]
    return FoldSpec(split.group, split.fit_index, monitor, split.test_index)


def run_folds_together(
    jobs: Sequence[FoldJob], *, progress: bool = True, checkpoint_every: int = 50, keep_epochs=None
) -> list[FoldOutcome]:
    """Train the folds of ONE run (``jobs`` share features, config, model and run dir); ``(table, info)`` per job."""
    job = jobs[0]
    features, config, run_dir = job.features, job.config, job.run_dir
    if any((j.features is not features) or j.config != config or j.run_dir != run_dir for j in jobs):
        raise ValueError("run_folds_together needs the folds of one run (same features, config and run dir)")
    splits = fold_splits(jobs)
    specs = [spec_of(split, config.early_stop_on) for split in splits]
    first = jobs[0].fold
    checkpoint = None if run_dir is None else Path(run_dir) / CHECKPOINT_NAME.format(first=first)
    outcome = train_folds(
        features,
        specs,
        config,
        build_fn=job.build_fn,
        model_name=job.model_name,
        checkpoint=checkpoint,
        checkpoint_every=checkpoint_every,
        keep_epochs=keep_epochs,
        progress=progress,
    )
    done = []
    for split, result in zip(splits, outcome.results):
        check_no_leak(features, split, result, monitor_test=config.early_stop_on == "test")
        table = fold_table(features, split, result, model_name=job.model_name, config=config)
        info = fold_info(features, split, result) | {"engine": "fold-parallel", "folds_trained_together": len(jobs)}
        if run_dir is not None:
            table = write_fold(run_dir, table, info, features.clips[split.test_index])
        done.append((table, info))
    if run_dir is not None:
        _write_epochs(Path(run_dir) / EPOCHS_NAME.format(first=first), jobs, specs, features, outcome)
        checkpoint.unlink(missing_ok=True)
    return done


def _write_epochs(path: Path, jobs, specs, features, outcome) -> None:
    """Per-epoch test probabilities and losses of every fold (``fold_parallel_epochs.npz``)."""
    clips = np.full(outcome.test_probabilities.shape[1:3], "", dtype=object)
    for f, spec in enumerate(specs):
        clips[f, : len(spec.test_index)] = features.clips[spec.test_index].astype(str)
    save_npz_atomic(
        path,
        {
            "folds": np.array([job.fold for job in jobs]),
            "groups": np.array([spec.group for spec in specs]),
            "clips": clips.astype(str),
            "kept_epochs": outcome.kept_epochs,
            "test_probabilities": outcome.test_probabilities,
            "test_loss": outcome.test_loss,
        },
    )
