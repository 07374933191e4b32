"""Steps shared by the LOSO subcommands (table5, fig9, fig10, ablation, leakage): flags → library calls → files."""

from __future__ import annotations

import dataclasses
import logging
import sys
from pathlib import Path

import pandas as pd

from me_resnet.cli.common import NO_FER2013_MESSAGE, Context, expected_errors
from me_resnet.config import Config
from me_resnet.data.common import LoadResult
from me_resnet.data.demo import is_demo_folder
from me_resnet.data.records import Features
from me_resnet.evaluation import experiment
from me_resnet.evaluation.folds import FoldPlan, FoldSelectionError, plan_folds
from me_resnet.evaluation.run_dir import RunDirMismatch
from me_resnet.models.registry import method_config
from me_resnet.reporting.outputs import Coverage, write_results
from me_resnet.training.pretrain import PretrainingMissing, apply_pretraining, pretraining_label

PLANNING_ERRORS = (FoldSelectionError, RunDirMismatch)
"""Raised while the runs are planned, before any fold trains: a message and exit status 2, no traceback."""

log = logging.getLogger(__name__)


def loaded_line(name: str, root: Path, result: LoadResult, demo: bool = False) -> str:
    """One line on a loaded dataset: its clips, (``demo``) the part of the megc2019 list it holds, its problems."""
    parts = [f"{name}: {len(result.records)} clips loaded from {root}"]
    if demo and result.listed:
        held = result.listed - len(result.listed_absent)
        parts.append(f"demo data: {held} of the megc2019 list's {result.listed} clips, by design")
    if result.problems:
        parts.append(
            f"{len(result.problems)} problem(s), first: {result.problems[0]} — all: me-resnet datasets --{name} {root}"
        )
    else:
        parts.append("no problems")
    return "; ".join(parts)


def load(ctx: Context, config: Config | None = None) -> dict:
    """The dataset records of the context's roots; input errors exit 2."""
    with expected_errors(ctx.prog):
        loaded = experiment.load_records(ctx.roots, config or ctx.config, ctx.annotations)
    for name, result in loaded.items():
        demo = is_demo_folder(ctx.roots[name])  # a demo tree holds part of the megc2019 list on purpose
        if demo:
            loaded[name] = result = result.as_subset()
        log.info("%s", loaded_line(name, ctx.roots[name], result, demo))
    return loaded


def refuse_folds(ctx: Context, method: str, error: FoldSelectionError):
    """Exit 2 with what ``--folds`` entries name no fold, in the LOSO scope the method runs, and the valid ones."""
    unknown = " ".join(map(str, error.unknown))
    sys.stderr.write(
        f"{ctx.prog}: {method} runs its LOSO per {error.loso_scope}: --folds {unknown}: no such fold. "
        f"Valid folds: {error.valid}\n"
    )
    raise SystemExit(2)


def plan(ctx: Context, groups, methods) -> dict[str, list[FoldPlan]]:
    """``{method: its FoldPlans}``: the folds each of ``methods`` runs among LOSO groups ``groups``, in the
    scope its config gives (``--folds``, else all). An entry that names no fold of a method exits 2 here,
    before any feature is extracted."""
    plans = {}
    for method in methods:
        scope = method_config(method, ctx.config, explicit=ctx.explicit, demo=ctx.demo).loso_scope
        try:
            plans[method] = plan_folds(groups, scope, ctx.folds)
        except FoldSelectionError as error:
            refuse_folds(ctx, method, error)
    return plans


def base_config(ctx: Context, methods) -> Config:
    """The run's config with the FER2013-pretrained weights (paper §3.2) to inflate into every fold's model.

    Only where the paper pretrains one of ``methods`` (ME-ResNet, its Table 4 variants; not the Table 5
    baselines): ``--fer2013`` (or ``$ME_RESNET_FER2013``) pretrains once and reuses the cached weights;
    without it the paper profile stops with a message unless ``--no-pretraining``; demo runs pretrain only
    when ``--fer2013`` is given.
    """
    with expected_errors(ctx.prog):
        try:
            return apply_pretraining(ctx.config, fer2013=ctx.fer2013, pretraining=ctx.pretraining, methods=methods)
        except PretrainingMissing:  # the library's message names its parameters; this one the flags
            sys.stderr.write(NO_FER2013_MESSAGE.format(prog=ctx.prog))
            raise SystemExit(2) from None


def features(ctx: Context, loaded: dict, *, method: str, config: Config) -> tuple[Features, Config]:
    with expected_errors(ctx.prog):
        return experiment.method_features(
            loaded, method, config, options=ctx.run_options(), explicit=ctx.explicit, demo=ctx.demo
        )


def run(
    ctx: Context, features: Features, *, method: str, config: Config, plans: list[FoldPlan], label: str = ""
) -> pd.DataFrame:
    """``experiment.run_method`` of the folds ``plans`` name, with the context's seeds, executor and run root."""
    with expected_errors(ctx.prog, PLANNING_ERRORS):
        return experiment.run_method(features, method, config, options=ctx.run_options(), plans=plans, label=label)


@dataclasses.dataclass
class Record:
    """What the result files say about the runs beyond their predictions (kept, unlike the features)."""

    fallbacks: dict = dataclasses.field(default_factory=dict)  # {run name: pre-processing fallbacks}
    fold_groups: dict = dataclasses.field(default_factory=dict)  # {run name: {scope: groups run}} with --folds
    pretraining: dict = dataclasses.field(default_factory=dict)  # {run name: pretraining label}
    loader: dict = dataclasses.field(default_factory=dict)  # {run name: what the loaders repaired and dropped}

    def add(self, ctx: Context, name: str, *, features: Features, config: Config, plans=()) -> None:
        """What the run ``name`` of ``features`` under ``config`` had; ``plans``: its ``FoldPlan``s."""
        self.fallbacks[name] = experiment.fallback_summary(features)
        self.loader[name] = features.info.get("loader", {})
        self.pretraining[name] = {"weights": config.pretrained, "label": pretraining_label(config)}
        if ctx.folds is not None:
            self.fold_groups[name] = {plan.scope: list(plan.groups) for plan in plans}


def write(
    ctx: Context,
    out: Path,
    *,
    artifact: str,
    predictions: pd.DataFrame,
    metrics: pd.DataFrame,
    coverage: Coverage,
    record: Record,
) -> dict[str, Path]:
    """predictions/metrics CSV + metrics.json (config, coverage, typed flags, fallbacks, what the loaders changed)."""
    extra = {
        "typed_flags": sorted(ctx.typed),
        "pretraining": record.pretraining,
        "fallbacks": record.fallbacks,
        "loader": record.loader,
    }
    return write_results(
        out,
        artifact,
        predictions,
        metrics,
        config=ctx.config,
        data=ctx.data_note(),
        dataset_roots=ctx.roots,
        coverage=dataclasses.replace(coverage, fold_groups=record.fold_groups),
        extra=extra,
    )


def output(ctx: Context, coverage: Coverage) -> Path:
    with expected_errors(ctx.prog):
        return ctx.output(coverage)
