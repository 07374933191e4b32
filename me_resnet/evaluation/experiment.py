"""The experiment API: records → features → one LOSO per method, scope and seed → metrics over seeds.

Every function takes plain arguments (no command line) and returns data; the
only files written are the resumable LOSO run directories under ``run_root``
(one per method, variant, dataset scope, seed, config, training code, library
stack, features and pretrained weights: ``identity.run_dir_name``), so an
interrupted call repeated with the same arguments continues where it stopped.
Metrics are always recomputed from the predictions. ``RunOptions`` says how the
runs run; which folds run is planned once (``folds.plan_folds``), from the
records before any feature is extracted where the caller has them.

    config = apply_pretraining(PAPER, fer2013=Path("/data/fer2013.csv"))  # me_resnet.training.pretrain
    loaded = load_records({"casme2": Path("/data/CASME2")}, config)
    options = RunOptions(seeds=(0, 1, 2), run_root=Path("runs"), executor=make_executor("local"))  # parallel.build
    features, config = method_features(loaded, "me_resnet", config, options=options)
    predictions = run_method(features, "me_resnet", config, options=options)
    metrics = metrics_over_seeds(predictions, config)
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from me_resnet.config import Config, field_choices
from me_resnet.data.loading import load_dataset
from me_resnet.data.precomputed_flow import load_precomputed_flow
from me_resnet.data.records import DATASETS, Features
from me_resnet.evaluation.executor import Executor, LocalExecutor
from me_resnet.evaluation.folds import FoldPlan, FoldSelectionError, plan_folds
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


@dataclass(frozen=True)
class RunOptions:
    """How a call's LOSO runs run: seeds, folds, where folds train, where runs and features are kept.

    ``folds``: fold indices and/or ``dataset/subject`` groups (None: all; ``folds.plan_folds``).
    ``executor``: runs the folds (None: ``LocalExecutor()``, the plain loop; ``me_resnet.parallel``
    builds the others). ``run_root``: root of the resumable run dirs (None: nothing written).
    ``cache_dir``, ``workers``: the feature cache and the feature-extraction processes.
    """

    seeds: Sequence[int] = (0,)
    folds: Sequence[int | str] | None = None
    executor: Executor | None = None
    run_root: Path | None = None
    cache_dir: Path | None = None
    workers: int | None = None
    verbose: int = 0


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


def record_groups(loaded: dict) -> list[str]:
    """The LOSO groups (``dataset/subject``) of the records of ``loaded`` (``{dataset: LoadResult}``)."""
    return [f"{record.dataset}/{record.subject}" for result in loaded.values() for record in result.records]


def method_features(
    loaded: dict,
    method: str,
    config: Config,
    *,
    options: RunOptions | None = None,
    explicit=(),
    demo: bool = False,
) -> tuple[Features, Config]:
    """Features of every loaded dataset for ``method``, and the method's config.

    The method's own defaults apply except for the keys in ``explicit`` (the
    ones the user typed, or a swept one); ``demo`` adds its demo budget. What
    the loaders repaired and dropped travels with the features (``note_loading``).
    """
    spec = get_method(method)
    method_cfg = method_config(method, config, explicit=explicit, demo=demo)
    records = [record for result in loaded.values() for record in result.records]
    options = options or RunOptions()
    features = extract_features(
        records, method_cfg, kind=spec.feature_kind, cache_dir=options.cache_dir, workers=options.workers
    )
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
            f"{directory} holds one precomputed onset->apex flow image per clip; method {method!r} needs "
            f"{spec.feature_kind!r} features: run it on the raw datasets, or run an apex_flow method such as "
            "ststnet or off_apexnet on these"
        )
    features = load_precomputed_flow(directory)
    if datasets:
        features = features.subset(np.flatnonzero(np.isin(features.datasets, list(datasets))))
    return features, method_config(method, config, explicit=explicit, demo=demo)


def loso_scopes(features: Features, loso_scope: str) -> dict[str, Features]:
    """``{scope: features}``: one LOSO per dataset, or one ``composite`` LOSO over all of them."""
    if loso_scope not in field_choices("loso_scope"):
        raise ValueError(f"loso_scope must be one of {field_choices('loso_scope')}, got {loso_scope!r}")
    if loso_scope == "composite":
        return {"composite": features}
    return {
        name: features.subset(np.flatnonzero(features.datasets == name)) for name in dict.fromkeys(features.datasets)
    }


def plan_runs(
    features: Features,
    method: str,
    config: Config,
    *,
    plans: Sequence[FoldPlan],
    options: RunOptions,
    label: str = "",
) -> list[tuple[LosoRun, dict]]:
    """``[(LosoRun, extra columns), ...]``: the runs of ``run_method``, their run dirs claimed, not yet run.

    One run per seed of ``options`` and ``FoldPlan`` of ``plans``, which name the scopes of
    ``features`` that run and their folds.
    """
    scopes = loso_scopes(features, config.loso_scope)
    by_scope = {plan.scope: plan for plan in plans}
    if not set(by_scope) <= set(scopes):
        raise ValueError(f"fold plans for scopes {sorted(set(by_scope) - set(scopes))}: {method}'s are {list(scopes)}")
    run_root = options.run_root
    data = {scope: data_hash(part, config) for scope, part in scopes.items() if run_root and scope in by_scope}
    planned = []
    for seed in options.seeds:
        seed_config = dataclasses.replace(config, seed=int(seed))
        for scope, scope_features in scopes.items():
            if scope not in by_scope:
                continue  # no requested fold is in this scope
            run_dir = None
            if run_root is not None:  # other data, weights, code or libraries: another directory (identity.py)
                run_dir = (
                    Path(run_root) / method / (label or "default") / scope / run_dir_name(seed_config, data[scope])
                )
            log.info("LOSO %s on %s, seed %d -> %s", method, scope, seed, run_dir)
            run = LosoRun(
                scope_features, method, seed_config, run_dir, groups=by_scope[scope].groups, verbose=options.verbose
            )
            columns = {
                "method": method,
                "seed": int(seed),
                "variant": label or "default",
                "protocol": protocol_label(seed_config, method),
            }
            planned.append((run, columns))
    return planned


def run_planned(planned: list[tuple[LosoRun, dict]], executor: Executor | None = None) -> list[pd.DataFrame]:
    """Run the folds of every planned run on one executor; each run's predictions with its extra columns."""
    tables = run_all([run for run, _ in planned], executor or LocalExecutor())
    return [table.assign(**columns) for table, (_, columns) in zip(tables, planned)]


def run_method(
    features: Features,
    method: str,
    config: Config,
    *,
    options: RunOptions | None = None,
    plans: Sequence[FoldPlan] | None = None,
    label: str = "",
) -> pd.DataFrame:
    """LOSO of ``method`` for every seed; one run per dataset unless ``config.loso_scope == "composite"``.

    ``plans``: the folds that run, planned by the caller from the records (``folds.plan_folds``);
    None: planned here from ``options.folds`` and the groups of ``features``.
    Returns the predictions with ``method``, ``seed``, ``variant`` and ``protocol`` columns.
    """
    options = options or RunOptions()
    if plans is None:
        plans = plan_folds(features.groups, config.loso_scope, options.folds)
    planned = plan_runs(features, method, config, plans=plans, options=options, label=label)
    if not planned:
        raise FoldSelectionError(f"no fold of {method} selected")
    return pd.concat(run_planned(planned, options.executor), ignore_index=True)


def sweep(
    loaded: dict,
    parameter: str,
    values: Sequence,
    config: Config,
    *,
    options: RunOptions | None = None,
    method: str = "me_resnet",
    explicit=(),
    demo: bool = False,
    on_features: Callable[[object, Features, Config, list[FoldPlan]], None] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """LOSO of ``method`` for each value of config field ``parameter``: (predictions, metrics).

    Both tables carry a ``parameter`` column. The folds of every value are planned
    from the records first (``FoldSelectionError`` before any feature is extracted).
    On a parallel executor the folds of every value x seed x dataset are submitted
    together; otherwise one value after another, keeping one value's features in
    memory at a time. ``on_features(value, features, method_config, plans)`` is called
    for each value before its runs are planned (e.g. to note the pre-processing fallbacks).
    """
    options = options or RunOptions()
    executor = options.executor or LocalExecutor()
    keep = set(explicit) | {parameter}
    configs = [dataclasses.replace(config, **{parameter: value}) for value in values]
    groups = record_groups(loaded)
    plans = [
        plan_folds(groups, method_config(method, each, explicit=keep, demo=demo).loso_scope, options.folds)
        for each in configs
    ]
    predictions, batch = [], []
    for value, value_config, value_plans in zip(values, configs, plans):
        features, method_cfg = method_features(loaded, method, value_config, options=options, explicit=keep, demo=demo)
        if on_features is not None:
            on_features(value, features, method_cfg, value_plans)
        planned = plan_runs(
            features, method, method_cfg, plans=value_plans, options=options, label=f"{parameter}={value}"
        )
        batch += [(run, columns | {parameter: value}) for run, columns in planned]
        if not executor.parallel:
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
