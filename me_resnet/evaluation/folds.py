"""The LOSO folds: which run (``FoldPlan``, planned once), how each splits, and the leakage checks
(paper §3; docs/method.md).

Folds come from ``sklearn.model_selection.LeaveOneGroupOut`` on
``Features.groups`` (``dataset/subject``: subject ids repeat across datasets), one
per group in sorted order. A method's LOSO runs per dataset or over the composite
(``Config.loso_scope``); ``plan_folds`` resolves the folds a caller asks for into
one ``FoldPlan`` per scope that runs, checking every entry before anything is
extracted or trained, and the runs take the plan's groups as they are.
The test subject's clips never reach training, validation, normalisation
statistics or class weights; ``check_no_leak`` raises if they do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Sequence

import numpy as np

from me_resnet.config import Config, field_choices
from me_resnet.data.records import Features

# scikit-learn (the splits) and Keras (training) are imported where used: planning needs neither
if TYPE_CHECKING:
    from me_resnet.training.fold import FoldResult


class FoldSelectionError(ValueError):
    """Requested folds (``unknown``) that name no fold of any scope of a LOSO per ``loso_scope``; ``valid``
    says which folds there are."""

    def __init__(self, message: str, *, unknown=(), valid: str = "", loso_scope: str = ""):
        super().__init__(message)
        self.unknown, self.valid, self.loso_scope = list(unknown), valid, loso_scope


@dataclass(frozen=True)
class FoldPlan:
    """The folds of one LOSO scope that run.

    ``scope``: a dataset name, or ``composite``; ``scope_groups``: every fold of the
    scope (fold ``i`` is ``scope_groups[i]``, ``dataset/subject``); ``groups``: those
    that run, in fold order.
    """

    scope: str
    groups: tuple[str, ...]
    scope_groups: tuple[str, ...]

    @property
    def complete(self) -> bool:
        return self.groups == self.scope_groups


def scope_groups(groups: Iterable[str], loso_scope: str) -> dict[str, tuple[str, ...]]:
    """``{scope: its groups in fold order}`` of LOSO groups ``groups`` (``dataset/subject``).

    ``loso_scope`` ``dataset``: one scope per dataset, in the order they first appear;
    ``composite``: one scope over all of them.
    """
    if loso_scope not in field_choices("loso_scope"):
        raise ValueError(f"loso_scope must be one of {field_choices('loso_scope')}, got {loso_scope!r}")
    groups = [str(group) for group in groups]
    names = tuple(sorted(set(groups)))  # LeaveOneGroupOut's order
    if loso_scope == "composite":
        return {"composite": names}
    datasets = dict.fromkeys(group.split("/", 1)[0] for group in groups)
    return {dataset: tuple(name for name in names if name.split("/", 1)[0] == dataset) for dataset in datasets}


def plan_folds(groups: Iterable[str], loso_scope: str, folds: Sequence[int | str] | None = None) -> list[FoldPlan]:
    """One ``FoldPlan`` per LOSO scope that runs: every fold (``folds`` None), or those ``folds`` names.

    An index ``i`` names fold ``i`` of every scope that has one; a group
    (``dataset/subject``) names the fold of the scope that holds it; a scope none
    of the entries names does not run. Raises ``FoldSelectionError``, listing the
    valid folds, when an entry names no fold of any scope.
    """
    scopes = scope_groups(groups, loso_scope)
    if folds is None:
        return [FoldPlan(scope, names, names) for scope, names in scopes.items()]
    chosen: dict[str, set[str]] = {scope: set() for scope in scopes}
    unknown = []
    for fold in folds:
        is_index = isinstance(fold, (int, np.integer)) and not isinstance(fold, bool)
        hits = [
            scope
            for scope, names in scopes.items()
            if (is_index and 0 <= fold < len(names)) or (isinstance(fold, str) and fold in names)
        ]
        for scope in hits:
            chosen[scope].add(scopes[scope][fold] if is_index else fold)
        if not hits:
            unknown.append(fold)
    if unknown:
        valid = "; ".join(
            f"{scope}: 0-{len(names) - 1} or {', '.join(names[:6])}{', ...' if len(names) > 6 else ''}"
            for scope, names in scopes.items()
        )
        raise FoldSelectionError(
            f"folds {unknown} name no fold of the LOSO per {loso_scope}. Valid folds: {valid}",
            unknown=unknown,
            valid=valid,
            loso_scope=loso_scope,
        )
    return [
        FoldPlan(scope, tuple(name for name in names if name in chosen[scope]), names)
        for scope, names in scopes.items()
        if chosen[scope]
    ]


class LeakageError(RuntimeError):
    """A test-subject clip reached training, validation, normalisation or alpha."""


def loso_splits(features: Features) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """``[(group, train_index, test_index), ...]``, one per group of ``features``, in ``LeaveOneGroupOut`` order."""
    from sklearn.model_selection import LeaveOneGroupOut

    groups = features.groups
    if len(np.unique(groups)) < 2:
        raise ValueError(f"LOSO needs at least 2 subjects, got {sorted(set(groups))}")
    splits = []
    for train_index, test_index in LeaveOneGroupOut().split(np.zeros(len(groups)), groups=groups):
        splits.append((str(groups[test_index[0]]), train_index, test_index))
    return splits


def fold_indices(splits, groups: Sequence[str] | None) -> list[int]:
    """The fold indices of ``groups`` among ``splits`` (``loso_splits``), in fold order; every fold when None."""
    if groups is None:
        return list(range(len(splits)))
    index = {group: i for i, (group, _, _) in enumerate(splits)}
    absent = [group for group in groups if group not in index]
    if absent:
        raise ValueError(f"groups {absent} are not LOSO groups of these features ({sorted(index)[:6]}, ...)")
    return sorted({index[group] for group in groups})


@dataclass(frozen=True)
class FoldSplit:
    """One fold's rows in its features: the test group's, those fitted, and those early stopping monitors
    (``val_index``: held-out training subjects; None when ``early_stop_on`` is not ``val``)."""

    fold: int
    group: str
    fit_index: np.ndarray
    val_index: np.ndarray | None
    test_index: np.ndarray


def split_fold(features: Features, splits, fold: int, config: Config) -> FoldSplit:
    """Fold ``fold`` of ``splits`` (``loso_splits``): its training rows → fit rows and early-stopping rows.

    ``early_stop_on`` ``val``: whole training subjects are held out (``validation_split``);
    ``test``/``none``: all training rows are fitted (``test`` then monitors the held-out subject).
    """
    group, train_index, test_index = splits[fold]
    if config.early_stop_on != "val":
        return FoldSplit(fold, group, train_index, None, test_index)
    from me_resnet.training.fold import validation_split

    fit, val = validation_split(features.groups[train_index], config.val_fraction, config.seed)
    return FoldSplit(fold, group, train_index[fit], train_index[val], test_index)


def check_no_leak(
    features: Features, split: FoldSplit, result: FoldResult | None = None, *, monitor_test: bool = False
) -> None:
    """Raise ``LeakageError`` if the test subject touches anything fitted (survives ``python -O``).

    ``monitor_test`` (``early_stop_on == "test"``, the optimistic protocol) allows
    the test subject as early-stopping data, and nothing else.
    """
    group, fit_index, val_index, test_index = split.group, split.fit_index, split.val_index, split.test_index
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
