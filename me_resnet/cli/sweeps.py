"""``me-resnet fig9`` / ``me-resnet fig10``: metrics of ME-ResNet against N (Fig. 9) or the mask scale a (Fig. 10).

    me-resnet fig9 --demo
    me-resnet fig9 --casme2 DIR --smic DIR --samm DIR --values 3 5 7 9 11 13 15
    me-resnet fig10 --demo

For Fig. 10 the flow is computed once: the feature cache keeps the unmasked flow
and the grey differences, and the continuity mask (eq. 9, U = a * p) is applied
at load time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from me_resnet.cli import common
from me_resnet.reporting import paper, tables

METHOD = "me_resnet"


@dataclass(frozen=True)
class Sweep:
    """One figure's sweep: the config field it varies, its values, and how its files are written."""

    artifact: str
    description: str
    parameter: str
    value_type: type
    paper_values: list
    demo_values: tuple
    markdown: Callable
    title: str
    paper_best: object
    paper_accuracy: object


FIG9 = Sweep(
    artifact="fig9_frames",
    description="Fig. 9: accuracy (and UF1/UAR) of ME-ResNet against the number of key frames N, per dataset.",
    parameter="num_frames",
    value_type=int,
    paper_values=paper.FIG9["frame_counts"],
    demo_values=(3, 7, 11),
    markdown=tables.fig9_markdown,
    title="Fig. 9: metrics vs number of key frames N",
    paper_best=paper.FIG9["best_num_frames"],
    paper_accuracy=paper.FIG9["accuracy_at_11"],
)
FIG10 = Sweep(
    artifact="fig10_scale",
    description="Fig. 10: accuracy (and UF1/UAR) of ME-ResNet against the mask scale factor a, per dataset.",
    parameter="scale_factor",
    value_type=float,
    paper_values=paper.FIG10["scale_factors"],
    demo_values=(0.2, 0.8, 1.4),
    markdown=tables.fig10_markdown,
    title="Fig. 10: metrics vs mask scale factor a",
    paper_best=paper.FIG10["best_scale_factor"],
    paper_accuracy=paper.FIG10["accuracy_at_0.8"],
)


def run_sweep(ctx, sweep: Sweep, loaded: dict, record):
    """``experiment.sweep`` of ``sweep.parameter`` over ``--values`` (or the defaults); a bad ``--folds`` or
    run dir exits 2 before any feature is extracted."""
    from me_resnet.cli import loso
    from me_resnet.evaluation import experiment
    from me_resnet.evaluation.folds import FoldSelectionError
    from me_resnet.evaluation.run_dir import RunDirMismatch

    values = ctx.args.values or (sweep.demo_values if ctx.demo else sweep.paper_values)
    try:  # the sweep plans every value's folds from the records before any feature
        with common.expected_errors(ctx.prog, (RunDirMismatch,)):
            return experiment.sweep(
                loaded,
                sweep.parameter,
                values,
                loso.base_config(ctx, [METHOD]),
                options=ctx.run_options(),
                method=METHOD,
                explicit=ctx.explicit,
                demo=ctx.demo,
                on_features=lambda value, features, method_cfg, plans: record.add(
                    ctx, f"{sweep.parameter}={value}", features=features, config=method_cfg, plans=plans
                ),
            )
    except FoldSelectionError as error:
        loso.refuse_folds(ctx, METHOD, error)


def sweep_main(argv, prog: str, sweep: Sweep) -> int:
    """Parse, run the sweep of config field ``sweep.parameter``, write predictions, metrics, table and plot."""
    parser = common.make_loso_parser(prog, sweep.description)
    parser.add_argument(
        "--values",
        nargs="+",
        type=sweep.value_type,
        help=f"values of {sweep.parameter} (default: the paper's {sweep.paper_values}; with --demo "
        f"{sweep.demo_values}, to stay within minutes)",
    )
    ctx = common.parse(parser, sweep.artifact, argv, methods=[METHOD])
    from me_resnet.cli import loso
    from me_resnet.reporting import plots
    from me_resnet.reporting.outputs import write_text
    from me_resnet.reporting.result_folder import final_paths, result_folder

    loaded = loso.load(ctx)
    coverage = ctx.coverage(methods=[METHOD])
    out = loso.output(ctx, coverage)
    record = loso.Record()
    predictions, metrics = run_sweep(ctx, sweep, loaded, record)
    with result_folder(out) as stage:  # every file of the result, or none, replaces the previous one
        paths = loso.write(
            ctx,
            stage,
            artifact=sweep.artifact,
            predictions=predictions,
            metrics=metrics,
            coverage=coverage,
            record=record,
        )
        markdown = sweep.markdown(metrics, demo=ctx.demo, coverage=coverage)
        paths["table_md"] = write_text(stage / f"{sweep.artifact}.md", markdown)
        paths["plot"] = plots.sweep_plot(
            metrics,
            sweep.parameter,
            stage / f"{sweep.artifact}.png",
            demo=ctx.demo,
            title=sweep.title,
            paper_best=sweep.paper_best,
            paper_accuracy=sweep.paper_accuracy,
        )
    paths = final_paths(paths, out)
    print(paths["table_md"].read_text())
    common.report(paths)
    return 0


def fig9(argv=None, prog: str = "me-resnet fig9") -> int:
    return sweep_main(argv, prog, FIG9)


def fig10(argv=None, prog: str = "me-resnet fig10") -> int:
    return sweep_main(argv, prog, FIG10)
