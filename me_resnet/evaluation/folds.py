"""The LOSO fold plan and the leakage checks (paper §3; docs/method.md).

Folds come from ``sklearn.model_selection.LeaveOneGroupOut`` on
``Features.groups`` (``dataset/subject``: subject ids repeat across datasets).
The test subject's clips never reach training, validation, normalisation
statistics or class weights; ``check_no_leak`` raises if they do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from me_resnet.config import Config
from me_resnet.data.records import Features

# Keras (training) and scikit-learn (the plan) are imported where used: the command line reads
# ``parse_folds`` while it checks its flags, before either is needed.
if TYPE_CHECKING:
    from me_resnet.training.fold import FoldResult


class LeakageError(RuntimeError):
    """A test-subject clip reached training, validation, normalisation or alpha."""


def fold_plan(features: Features) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """``[(group, train_index, test_index), ...]`` in ``LeaveOneGroupOut`` order."""
    from sklearn.model_selection import LeaveOneGroupOut

    groups = features.groups
    if len(np.unique(groups)) < 2:
        raise ValueError(f"LOSO needs at least 2 subjects, got {sorted(set(groups))}")
    plan = []
    for train_index, test_index in LeaveOneGroupOut().split(np.zeros(len(groups)), groups=groups):
        plan.append((str(groups[test_index[0]]), train_index, test_index))
    return plan


def select_folds(plan, folds) -> list[int]:
    """Fold indices named by ``folds`` (ints and/or group names); all folds if None."""
    if folds is None:
        return list(range(len(plan)))
    by_group = {group: i for i, (group, _, _) in enumerate(plan)}
    chosen = []
    for fold in folds:
        if isinstance(fold, (int, np.integer)) and not isinstance(fold, bool):
            if not 0 <= fold < len(plan):
                raise ValueError(f"fold index {fold} out of range: {len(plan)} folds")
            chosen.append(int(fold))
        elif fold in by_group:
            chosen.append(by_group[fold])
        else:
            raise ValueError(
                f"unknown fold {fold!r}: give an index < {len(plan)} or a group such as {next(iter(by_group))!r}"
            )
    return sorted(set(chosen))


def split_fold(features: Features, train_index: np.ndarray, config: Config) -> tuple[np.ndarray, np.ndarray | None]:
    """Training rows → (fit rows, early-stopping rows) per ``config.early_stop_on``.

    ``val``: whole training subjects (``validation_split``); ``test``/``none``:
    all training rows are fitted (``test`` then monitors the held-out subject).
    """
    if config.early_stop_on != "val":
        return train_index, None
    from me_resnet.training.fold import validation_split

    fit, val = validation_split(features.groups[train_index], config.val_fraction, config.seed)
    return train_index[fit], train_index[val]


def check_no_leak(
    features: Features,
    group: str,
    fit_index,
    val_index,
    test_index,
    result: FoldResult | None = None,
    monitor_test: bool = False,
) -> None:
    """Raise ``LeakageError`` if the test subject touches anything fitted (survives ``python -O``).

    ``monitor_test`` (``early_stop_on == "test"``, the optimistic protocol) allows
    the test subject as early-stopping data, and nothing else.
    """
    fit_set, test_set = set(fit_index.tolist()), set(test_index.tolist())
    val_set = set() if val_index is None else set(val_index.tolist())
    if fit_set & test_set or val_set & test_set or fit_set & val_set:
        raise LeakageError(f"fold {group}: training/validation/test row sets overlap")
    groups = features.groups
    for name, index in (("training", fit_index), ("validation", val_index)):
        if index is not None and np.any(groups[index] == group):
            raise LeakageError(f"fold {group}: test subject present in {name} data")
    if result is not None:
        prefix = group + "/"
        for name in ("fit_keys", "stats_keys", "alpha_keys") + (() if monitor_test else ("val_keys",)):
            if any(key.startswith(prefix) for key in getattr(result, name)):
                raise LeakageError(f"fold {group}: test subject present in {name}")


def parse_folds(values):
    """``--folds`` values: integers stay integers, anything else is a group name."""
    if not values:
        return None
    return [int(value) if value.isdigit() else value for value in values]
