"""The experiment API: records → features → one LOSO per method, scope and seed → metrics over seeds.

Every function takes plain arguments (no command line) and returns data; the
only files written are the resumable LOSO run directories under ``run_root``
(one per method, variant, dataset scope, seed, config, training code, library
stack, features and pretrained weights: ``identity.run_dir_name``), so an
interrupted call repeated with the same arguments continues where it stopped.
Metrics are always recomputed from the predictions.

    config = apply_pretraining(PAPER, fer2013=Path("/data/fer2013.csv"))  # me_resnet.training.pretrain
    loaded = load_records({"casme2": Path("/data/CASME2")}, config)
    features, config = method_features(loaded, "me_resnet", config)
    predictions = run_method(features, "me_resnet", config, seeds=[0, 1, 2], run_root=Path("runs"))
    metrics = metrics_over_seeds(predictions, config)
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from me_resnet.config import Config
from me_resnet.data.loading import load_dataset
from me_resnet.data.precomputed_flow import load_precomputed_flow
from me_resnet.data.records import DATASETS, Features
from me_resnet.evaluation.executors import make_executor
from me_resnet.evaluation.identity import data_hash, run_dir_name
from me_resnet.evaluation.loso import run_all
from me_resnet.evaluation.metrics import compute_metrics
from me_resnet.evaluation.runner import LosoRun
from me_resnet.models.registry import METHODS, get_method, method_config
from me_resnet.preprocessing.features import extract_features
from me_resnet.training.augment import augmentation_label, whole_dataset_augmentation
from me_resnet.training.pretrain import pretraining_label

log = logging.getLogger(__name__)

METRIC_COLUMNS = ("accuracy", "uf1", "uar")
LOSO_SCOPES = ("dataset", "composite")


class FoldSelectionError(ValueError):
    """A ``folds`` entry names no fold of any LOSO scope."""


def load_records(roots: dict[str, Path], config: Config, annotations: dict | None = None) -> dict:
    """``{dataset: LoadResult}`` for every micro-expression dataset root in ``roots`` (others are skipped).

    ``annotations`` maps a dataset to its coding sheet when it is not inside the root.
    """
    annotations = annotations or {}
    loaded = {}
    for name in DATASETS:
        if name not in roots:
            continue
        result = load_dataset(name, roots[name], config, annotations=annotations.get(name))
        for problem in result.problems:
            log.debug("%s: %s", name, problem)
        loaded[name] = result
    return loaded


def method_features(
    loaded: dict,
    method: str,
    config: Config,
    *,
    explicit=(),
    demo: bool = False,
    cache_dir: Path | None = None,
    workers: int | None = None,
) -> tuple[Features, Config]:
    """Features of every loaded dataset for ``method``, and the method's config.

    The method's own defaults apply except for the keys in ``explicit`` (the
    ones the user typed, or a swept one); ``demo`` adds its demo budget. What
    the loaders repaired and dropped travels with the features (``note_loading``).
    """
    spec = get_method(method)
    method_cfg = method_config(method, config, explicit=explicit, demo=demo)
    records = [record for result in loaded.values() for record in result.records]
    features = extract_features(records, method_cfg, kind=spec.feature_kind, cache_dir=cache_dir, workers=workers)
    return note_loading(features, loaded), method_cfg


def note_loading(features: Features, loaded: dict) -> Features:
    """``features`` with what the loaders of ``loaded`` (``{dataset: LoadResult}``) changed, for the results.

    The clips whose annotation the loader repaired (a bad apex, docs/datasets.md) become the fallback kind
    ``loader_repaired``, counted like the face fallbacks; ``info["loader"]`` holds, per dataset, the
    clips loaded, each repair and each clip the protocol selects that did not load (``dropped``) with why.
    """
    features.fallbacks["loader_repaired"] = [key for result in loaded.values() for key in result.repaired()]
    features.info["loader"] = {
        name: {"loaded": len(result.records), "repaired": result.repaired(), "dropped": dict(result.dropped)}
        for name, result in loaded.items()
    }
    return features


def precomputed_features(
    directory: Path, method: str, config: Config, *, datasets=None, explicit=(), demo: bool = False
) -> tuple[Features, Config]:
    """Onset->apex flow images from ``directory`` (STSTNet authors' layout) for an ``apex_flow`` method."""
    spec = get_method(method)
    if spec.feature_kind != "apex_flow":
        raise ValueError(
            f"--precomputed-flow holds one onset->apex flow image per clip; method {method!r} needs "
            f"{spec.feature_kind!r} features: run it on the raw datasets instead (e.g. --methods ststnet off_apexnet)."
        )
    features = load_precomputed_flow(directory)
    if datasets:
        features = features.subset(np.flatnonzero(np.isin(features.datasets, list(datasets))))
    return features, method_config(method, config, explicit=explicit, demo=demo)


def loso_scopes(features: Features, loso_scope: str) -> dict[str, Features]:
    """``{scope: features}``: one LOSO per dataset, or one ``composite`` LOSO over all of them."""
    if loso_scope not in LOSO_SCOPES:
        raise ValueError(f"loso_scope must be one of {LOSO_SCOPES}, got {loso_scope!r}")
    if loso_scope == "composite":
        return {"composite": features}
    return {
        name: features.subset(np.flatnonzero(features.datasets == name)) for name in dict.fromkeys(features.datasets)
    }


def select_folds(folds, scope_groups: dict[str, Sequence[str]]) -> dict[str, list | None]:
    """The entries of ``folds`` that name a fold of each scope: ``{scope: entries or None for all}``.

    ``scope_groups`` maps each scope to its groups (``dataset/subject``, one fold
    each, in fold order). An index names fold ``i`` of every scope that has one;
    a group names the fold of the scope that holds it. A scope none of the
    entries names gets ``[]`` (it is not run). Raises ``FoldSelectionError``,
    listing the valid names, when an entry names no fold of any scope.
    """
    if folds is None:
        return {scope: None for scope in scope_groups}
    groups = {scope: list(dict.fromkeys(str(group) for group in names)) for scope, names in scope_groups.items()}
    chosen = {scope: [] for scope in groups}
    unknown = []
    for fold in folds:
        hits = [
            scope
            for scope, names in groups.items()
            if (isinstance(fold, int) and 0 <= fold < len(names)) or (isinstance(fold, str) and fold in names)
        ]
        if not hits:
            unknown.append(fold)
        for scope in hits:
            chosen[scope].append(fold)
    if unknown:
        valid = "; ".join(
            f"{scope}: 0-{len(names) - 1} or {', '.join(names[:6])}{', ...' if len(names) > 6 else ''}"
            for scope, names in groups.items()
        )
        raise FoldSelectionError(f"--folds {' '.join(map(str, unknown))}: no such fold. Valid folds: {valid}")
    return chosen


def selected_groups(groups: Sequence[str], loso_scope: str, folds) -> dict[str, list[str]]:
    """``{scope: the groups (folds) that run}`` for LOSO groups ``groups`` (``dataset/subject``), ``folds`` as above.

    Scopes with no selected fold are left out; ``FoldSelectionError`` as in ``select_folds``.
    """
    names = sorted(set(map(str, groups)))  # fold order: LeaveOneGroupOut's sorted unique groups
    if loso_scope not in LOSO_SCOPES:
        raise ValueError(f"loso_scope must be one of {LOSO_SCOPES}, got {loso_scope!r}")
    if loso_scope == "composite":
        scopes = {"composite": names}
    else:
        datasets = dict.fromkeys(name.split("/", 1)[0] for name in groups)
        scopes = {dataset: [name for name in names if name.split("/", 1)[0] == dataset] for dataset in datasets}
    selection = select_folds(folds, scopes)
    return {
        scope: scopes[scope] if chosen is None else [scopes[scope][f] if isinstance(f, int) else f for f in chosen]
        for scope, chosen in selection.items()
        if chosen != []
    }


def plan_method(
    features: Features,
    method: str,
    config: Config,
    *,
    seeds: Sequence[int],
    folds=None,
    run_root: Path | None = None,
    label: str = "",
    verbose: int = 0,
) -> list[tuple[LosoRun, dict]]:
    """``[(LosoRun, extra columns), ...]``: the runs of ``run_method``, planned (run dirs claimed) but not run.

    Raises ``FoldSelectionError`` before anything is planned when a ``folds``
    entry names no fold.
    """
    scopes = loso_scopes(features, config.loso_scope)
    selection = select_folds(folds, {scope: np.unique(part.groups).tolist() for scope, part in scopes.items()})
    data = {scope: data_hash(part, config) for scope, part in scopes.items() if run_root and selection[scope] != []}
    planned = []
    for seed in seeds:
        seed_config = dataclasses.replace(config, seed=int(seed))
        for scope, scope_features in scopes.items():
            if selection[scope] == []:
                continue  # --folds names no fold of this scope
            run_dir = None
            if run_root is not None:  # other data, weights, code or libraries: another directory (identity.py)
                name = run_dir_name(seed_config, data[scope])
                run_dir = Path(run_root) / method / (label or "default") / scope / name
            log.info("LOSO %s on %s, seed %d -> %s", method, scope, seed, run_dir)
            run = LosoRun(scope_features, method, seed_config, run_dir=run_dir, folds=selection[scope], verbose=verbose)
            columns = {
                "method": method,
                "seed": int(seed),
                "variant": label or "default",
                "protocol": protocol_label(seed_config, method),
            }
            planned.append((run, columns))
    return planned


def default_executor(executor=None, engine: str = "auto"):
    """``executor``, or the local loop when None (``engine`` as for ``make_executor``)."""
    return executor if executor is not None else make_executor("local", engine=engine)


def run_planned(planned: list[tuple[LosoRun, dict]], executor=None, engine: str = "auto") -> list[pd.DataFrame]:
    """Run the folds of every planned run on one executor; each run's predictions with its extra columns."""
    tables = run_all([run for run, _ in planned], default_executor(executor, engine))
    return [table.assign(**columns) for table, (_, columns) in zip(tables, planned)]


def run_method(
    features: Features,
    method: str,
    config: Config,
    *,
    seeds: Sequence[int] = (0,),
    folds=None,
    executor=None,
    engine: str = "auto",
    run_root: Path | None = None,
    label: str = "",
    verbose: int = 0,
) -> pd.DataFrame:
    """LOSO of ``method`` for every seed; one run per dataset unless ``config.loso_scope == "composite"``.

    ``folds``: fold indices and/or ``dataset/subject`` groups (None: all).
    ``executor``: where folds train (``me_resnet.evaluation.executors``; None: the
    local loop). ``run_root``: root of the resumable run dirs (None: nothing written).
    Returns the predictions with ``method``, ``seed``, ``variant`` and ``protocol`` columns.
    """
    planned = plan_method(
        features, method, config, seeds=seeds, folds=folds, run_root=run_root, label=label, verbose=verbose
    )
    if not planned:
        raise FoldSelectionError(f"no fold of {method} selected")
    return pd.concat(run_planned(planned, executor, engine), ignore_index=True)


def sweep(
    loaded: dict,
    parameter: str,
    values: Sequence,
    config: Config,
    *,
    method: str = "me_resnet",
    seeds: Sequence[int] = (0,),
    folds=None,
    executor=None,
    engine: str = "auto",
    run_root: Path | None = None,
    explicit=(),
    demo: bool = False,
    cache_dir: Path | None = None,
    workers: int | None = None,
    verbose: int = 0,
    on_features: Callable[[object, Features, Config], None] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """LOSO of ``method`` for each value of config field ``parameter``: (predictions, metrics).

    Both tables carry a ``parameter`` column. On a parallel executor the folds of
    every value x seed x dataset are submitted together; otherwise one value after
    another, keeping one value's features in memory at a time. ``on_features(value,
    features, method_config)`` is called for each value before its folds are
    planned (e.g. to note the pre-processing fallbacks).
    """
    executor = default_executor(executor, engine)
    keep = set(explicit) | {parameter}
    predictions, batch = [], []
    for value in values:
        value_config = dataclasses.replace(config, **{parameter: value})
        features, method_cfg = method_features(
            loaded, method, value_config, explicit=keep, demo=demo, cache_dir=cache_dir, workers=workers
        )
        if on_features is not None:
            on_features(value, features, method_cfg)
        planned = plan_method(
            features,
            method,
            method_cfg,
            seeds=seeds,
            folds=folds,
            run_root=run_root,
            label=f"{parameter}={value}",
            verbose=verbose,
        )
        batch += [(run, columns | {parameter: value}) for run, columns in planned]
        if not getattr(executor, "parallel", False):
            predictions += run_planned(batch, executor)
            batch = []
    predictions = pd.concat(predictions + run_planned(batch, executor), ignore_index=True)
    metrics = metrics_over_seeds(predictions, config, by=("method", "variant", parameter))
    return predictions, metrics


def metrics_over_seeds(predictions: pd.DataFrame, config: Config, by=("method", "variant")) -> pd.DataFrame:
    """Per seed metrics (``compute_metrics``), then mean and std over seeds per dataset.

    Returns one row per (by..., dataset): ``<metric>``, ``<metric>_std``, CIs of the
    first seed's run, ``n`` and ``seeds``.
    """
    rows = []
    keys = list(by) + ["seed"]
    for key, group in predictions.groupby(keys, sort=False):
        table = compute_metrics(group, bootstrap_resamples=config.bootstrap_resamples, seed=int(key[-1]))
        for column, value in zip(keys, key):
            table[column] = value
        if "protocol" in group:
            table["protocol"] = group["protocol"].iloc[0]
        rows.append(table)
    per_seed = pd.concat(rows, ignore_index=True)
    aggregated = []
    for key, group in per_seed.groupby(list(by) + ["dataset"], sort=False):
        row = dict(zip(list(by) + ["dataset"], key))
        row["seeds"] = " ".join(str(s) for s in sorted(group["seed"]))
        row["n"] = int(group["n"].iloc[0])
        if "protocol" in group:
            row["protocol"] = group["protocol"].iloc[0]
        for metric in METRIC_COLUMNS:
            row[metric] = float(group[metric].mean())
            row[f"{metric}_std"] = float(group[metric].std(ddof=1)) if len(group) > 1 else 0.0
        for column in ("uf1_ci_low", "uf1_ci_high", "uar_ci_low", "uar_ci_high", "uf1_subject_averaged"):
            if column in group:
                row[column] = float(group[column].iloc[0])
        aggregated.append(row)
    return pd.DataFrame(aggregated)


def protocol_label(config: Config, method: str | None = None) -> str:
    """How a kit-run row was obtained, e.g. 'megc2019 labels, LOSO per dataset, early stop on ...'.

    For a method that takes FER2013 weights (``MethodSpec.pretrainable``) it ends with
    what the run had: e.g. 'no Fer2013 pretraining (deviation from the paper)'.
    """
    monitor = {
        "val": "early stop on held-out training subjects",
        "test": "early stop on the TEST subject (optimistic)",
        "none": f"fixed {config.epochs} epochs",
    }[config.early_stop_on]
    label = f"{config.protocol} labels, LOSO per {config.loso_scope}, {monitor}"
    if whole_dataset_augmentation(config):
        label += f", {augmentation_label(config)}"
    if method in METHODS and METHODS[method].pretrainable:
        label += f", {pretraining_label(config)}"
    return label


def fallback_summary(features: Features) -> dict:
    """``{kind: {"count": n, "clips": [...]}}`` of the pre-processing fallbacks ``features`` records."""
    return {kind: {"count": len(keys), "clips": sorted(keys)} for kind, keys in features.fallbacks.items()}
