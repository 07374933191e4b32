"""Glue used by the ``reproduce/`` scripts: records → features → LOSO per seed → metrics.

The LOSO runs live in resumable run dirs (one per method, dataset scope, seed
and config); an interrupted script rerun with the same flags continues where it
stopped. Metrics are always recomputed from the saved predictions.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from me_resnet.config import Config
from me_resnet.data.loading import load_dataset
from me_resnet.data.precomputed_flow import load_precomputed_flow
from me_resnet.data.records import Features
from me_resnet.evaluation.executors import run_all
from me_resnet.evaluation.folds import parse_folds
from me_resnet.evaluation.metrics import compute_metrics
from me_resnet.evaluation.runner import LosoRun
from me_resnet.models.registry import get_method, method_config
from me_resnet.preprocessing.features import extract_features
from me_resnet.reporting import plots
from me_resnet.utils.provenance import provenance

log = logging.getLogger(__name__)

METRIC_COLUMNS = ("accuracy", "uf1", "uar")


def load_records(ctx, config: Config | None = None) -> dict:
    """``{dataset: LoadResult}`` for every dataset root in the context; problems are logged."""

    config = config or ctx.config
    annotations = {"casme2": ctx.args.casme2_annotations, "samm": ctx.args.samm_annotations}
    loaded = {}
    for name in ("casme2", "smic", "samm"):
        if name not in ctx.roots:
            continue
        result = load_dataset(name, ctx.roots[name], config, annotations=annotations.get(name))
        for problem in result.problems:
            log.debug("%s: %s", name, problem)
        log.info(
            "%s: %d clips loaded from %s; %d problems reported (first: %s) — full list: me-resnet datasets --%s %s",
            name,
            len(result.records),
            ctx.roots[name],
            len(result.problems),
            result.problems[0] if result.problems else "none",
            name,
            ctx.roots[name],
        )
        loaded[name] = result
    return loaded


def config_hash(config: Config) -> str:
    return hashlib.sha256(config.to_json().encode()).hexdigest()[:10]


# Modules whose code decides what a LOSO fold predicts, given its features and config.
_TRAINING_CODE = (
    "training.py",
    "pipeline.py",
    "augment.py",
    "models.py",
    "layers.py",
    "losses.py",
    "baselines.py",
    "inflation.py",
    "loso.py",
)


def code_fingerprint() -> str:
    """Hash of the training code: part of every run dir's name, so a rerun resumes only
    folds that the same code computed (changed code starts a fresh run dir)."""
    package = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for name in _TRAINING_CODE:
        digest.update((package / name).read_bytes())
    return digest.hexdigest()[:8]


def method_features(loaded: dict, method: str, config: Config, ctx, keep=()) -> tuple[Features, Config]:
    """Features of every loaded dataset for ``method`` (with the method's own defaults applied;
    ``keep`` names config keys that the method defaults must not override, e.g. a swept one)."""

    spec = get_method(method)
    method_cfg = method_config(method, config, explicit=ctx.explicit | set(keep), demo=ctx.demo)
    records = [record for result in loaded.values() for record in result.records]
    features = extract_features(
        records, method_cfg, kind=spec.feature_kind, cache_dir=ctx.args.cache_dir, workers=ctx.args.workers
    )
    return features, method_cfg


def run_method(features: Features, method: str, config: Config, ctx, *, seeds, label: str = "") -> pd.DataFrame:
    """LOSO of ``method`` for every seed; one run per dataset unless ``loso_scope == "composite"``.

    Returns the concatenated predictions with ``seed`` and ``method`` columns.
    The folds run on ``ctx.executor`` (``--executor``; default the local loop).
    """

    planned = plan_method(features, method, config, ctx, seeds=seeds, label=label)
    tables = run_all([run for run, _ in planned], getattr(ctx, "executor", None))
    return pd.concat([table.assign(**columns) for table, (_, columns) in zip(tables, planned)], ignore_index=True)


def plan_method(features: Features, method: str, config: Config, ctx, *, seeds, label: str = "") -> list:
    """``[(LosoRun, extra columns), ...]``: the runs of ``run_method``, planned but not yet run."""

    if config.loso_scope not in ("dataset", "composite"):
        raise ValueError(f"loso_scope must be 'dataset' or 'composite', got {config.loso_scope!r}")
    scopes = (
        {"composite": features}
        if config.loso_scope == "composite"
        else {  # one subset per scope, shared by seeds
            name: features.subset(np.flatnonzero(features.datasets == name))
            for name in dict.fromkeys(features.datasets)
        }
    )
    folds = parse_folds(getattr(ctx.args, "folds", None))
    planned = []
    for seed in seeds:
        seed_config = dataclasses.replace(config, seed=seed)
        for scope, scope_features in scopes.items():
            run_dir = (
                ctx.run_root
                / method
                / (label or "default")
                / scope
                / f"seed{seed}-{config_hash(seed_config)}-code{code_fingerprint()}"
            )
            log.info("LOSO %s on %s, seed %d -> %s", method, scope, seed, run_dir)
            run = LosoRun(
                scope_features,
                method,
                seed_config,
                run_dir=run_dir,
                folds=_folds_for_scope(folds, scope_features),
                verbose=int(ctx.args.verbose),
            )
            planned.append(
                (
                    run,
                    {
                        "method": method,
                        "seed": seed,
                        "variant": label or "default",
                        "protocol": protocol_label(seed_config),
                    },
                )
            )
    return planned


def _folds_for_scope(folds, features: Features):
    """Keep only the ``--folds`` entries that name a group of this scope (indices apply to every scope)."""
    if folds is None:
        return None
    groups = set(features.groups)
    kept = [fold for fold in folds if isinstance(fold, int) or fold in groups]
    return kept or None


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


def write_outputs(
    ctx, artifact: str, predictions: pd.DataFrame, metrics: pd.DataFrame, extra: dict | None = None
) -> dict[str, Path]:
    """Write predictions CSV, metrics CSV + JSON (config, versions, commit) into ``ctx.out``."""
    import json

    paths = {
        "predictions": ctx.out / "predictions.csv",
        "metrics_csv": ctx.out / "metrics.csv",
        "metrics_json": ctx.out / "metrics.json",
    }
    predictions.to_csv(paths["predictions"], index=False)
    metrics.to_csv(paths["metrics_csv"], index=False, float_format="%.4f")
    document = {
        "artifact": artifact,
        "data": "synthetic demo data (says nothing about the paper's claims)"
        if ctx.demo
        else "datasets given on the command line",
        "dataset_roots": {name: str(root) for name, root in ctx.roots.items()},
        "config": ctx.config.to_dict(),
        "provenance": provenance(),
        "metrics": json.loads(metrics.to_json(orient="records")),
        **(extra or {}),
    }
    paths["metrics_json"].write_text(json.dumps(document, indent=2, default=str) + "\n")
    return paths


def report(paths: dict[str, Path]) -> None:
    """Print where the script wrote what."""
    print("wrote:")
    for kind, path in paths.items():
        print(f"  {kind:>14}: {Path(path).resolve()}")


def input_features(loaded: dict | None, method: str, ctx) -> tuple[Features, Config]:
    """Features for ``method``: from the loaded raw datasets, or from ``--precomputed-flow``."""
    precomputed = getattr(ctx.args, "precomputed_flow", None)
    if precomputed is None:
        return method_features(loaded, method, ctx.config, ctx)

    spec = get_method(method)
    if spec.feature_kind != "apex_flow":
        raise SystemExit(
            f"--precomputed-flow holds one onset->apex flow image per clip; method {method!r} needs "
            f"{spec.feature_kind!r} features: run it on the raw datasets instead (e.g. --methods ststnet off_apexnet)."
        )
    features = load_precomputed_flow(precomputed)
    if ctx.args.datasets:
        features = features.subset(np.isin(features.datasets, ctx.args.datasets))
    return features, method_config(method, ctx.config, explicit=ctx.explicit, demo=ctx.demo)


def protocol_label(config: Config) -> str:
    """How a kit-run row was obtained, e.g. 'megc2019, LOSO per dataset, early stop on val'."""
    monitor = {
        "val": "early stop on held-out training subjects",
        "test": "early stop on the TEST subject (optimistic)",
        "none": f"fixed {config.epochs} epochs",
    }[config.early_stop_on]
    return f"{config.protocol} labels, LOSO per {config.loso_scope}, {monitor}"


def sweep(ctx, loaded: dict, parameter: str, values, method: str = "me_resnet") -> tuple[pd.DataFrame, pd.DataFrame]:
    """LOSO of ``method`` for each value of config field ``parameter``; (predictions, metrics with a ``parameter`` column).

    On a parallel executor (``--executor ray``) the folds of every value x seed x
    dataset are submitted together; on the local loop one value after another.
    """

    executor = getattr(ctx, "executor", None)
    predictions, batch = [], []
    for value in values:
        config = dataclasses.replace(ctx.config, **{parameter: value})
        features, method_cfg = method_features(loaded, method, config, ctx, keep=(parameter,))
        planned = plan_method(features, method, method_cfg, ctx, seeds=ctx.args.seeds, label=f"{parameter}={value}")
        batch += [(run, columns | {parameter: value}) for run, columns in planned]
        if not getattr(executor, "parallel", False):  # keep one value's features in memory at a time
            predictions += _run_batch(batch, executor, run_all)
            batch = []
    predictions = pd.concat(predictions + _run_batch(batch, executor, run_all), ignore_index=True)
    metrics = metrics_over_seeds(predictions, ctx.config, by=("method", "variant", parameter))
    return predictions, metrics


def _run_batch(batch, executor, run_all) -> list[pd.DataFrame]:
    tables = run_all([run for run, _ in batch], executor)
    return [table.assign(**columns) for table, (_, columns) in zip(tables, batch)]


def sweep_artifact(ctx, artifact: str, parameter: str, values, markdown, *, title: str, paper_best) -> dict[str, Path]:
    """Run a Fig. 9/10-style sweep and write its predictions, metrics, markdown table and plot into ``ctx.out``."""

    predictions, metrics = sweep(ctx, load_records(ctx), parameter, values)
    paths = write_outputs(ctx, artifact, predictions, metrics)
    paths["table_md"] = ctx.out / f"{artifact}.md"
    paths["table_md"].write_text(markdown(metrics, ctx))
    paths["plot"] = plots.sweep_plot(
        metrics, parameter, ctx.out / f"{artifact}.png", demo=ctx.demo, title=title, paper_best=paper_best
    )
    print(paths["table_md"].read_text())
    report(paths)
    return paths
