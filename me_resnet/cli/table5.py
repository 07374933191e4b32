"""``me-resnet table5``: Table 5, UF1 / UAR (+ accuracy, 95 % intervals) per dataset and composite, beside the paper.

me-resnet table5 --demo                       # the demo main job: ME-ResNet, STSTNet and OFF-ApexNet
me-resnet table5 --casme2 DIR --smic DIR --samm DIR --seeds 1 2 3
me-resnet table5 --demo --methods me_resnet
me-resnet table5 --precomputed-flow DIR --methods ststnet
"""

from __future__ import annotations

from pathlib import Path

from me_resnet.cli import common
from me_resnet.data.records import DATASETS
from me_resnet.models.registry import METHODS
from me_resnet.reporting import paper

ARTIFACT = "table5"
# the paper's Table 5 rows that the kit can run: ME-ResNet and the two flow baselines it compares with
TABLE5_METHODS = tuple(name for name, spec in METHODS.items() if spec.title in paper.TABLE5)


def run_methods(ctx, loaded: dict | None, plans: dict, config):
    """Each method's LOSO, one after another (its features freed before the next): (predictions, record).

    Without ``loaded`` records the features are the ``--precomputed-flow`` images, and each method's
    folds are planned from them. With them, the next method's features are computed while a method
    trains (``evaluation.prefetch``: in the CPU time the training leaves idle).
    """
    import pandas as pd

    from me_resnet.cli import loso
    from me_resnet.evaluation import experiment
    from me_resnet.evaluation.prefetch import FeaturePrefetch

    predictions, record, prefetch = [], loso.Record(), None
    methods = list(ctx.args.methods)
    try:
        for position, method in enumerate(methods):
            if loaded is None:
                with common.expected_errors(ctx.prog):
                    features, method_cfg = experiment.precomputed_features(
                        ctx.args.precomputed_flow,
                        method,
                        config,
                        datasets=ctx.args.datasets,
                        explicit=ctx.explicit,
                        demo=ctx.demo,
                    )
                plans |= loso.plan(ctx, features.groups, [method])
            else:
                if prefetch is not None:
                    prefetch.wait()
                features, method_cfg = loso.features(ctx, loaded, method=method, config=config)
                if position + 1 < len(methods):
                    prefetch = FeaturePrefetch(
                        loaded,
                        methods[position + 1],
                        config,
                        options=ctx.run_options(),
                        explicit=ctx.explicit,
                        demo=ctx.demo,
                    )
            record.add(ctx, method, features=features, config=method_cfg, plans=plans[method])
            predictions.append(loso.run(ctx, features, method=method, config=method_cfg, plans=plans[method]))
            del features
    finally:
        if prefetch is not None:
            prefetch.cancel()  # after a failure or Ctrl-C: stop at once (a finished one returns at once)
    return pd.concat(predictions, ignore_index=True), record


def main(argv=None, prog: str = "me-resnet table5") -> int:
    parser = common.make_loso_parser(prog, __doc__.splitlines()[0].split(": ", 1)[1])
    parser.add_argument(
        "--methods",
        nargs="+",
        default=list(TABLE5_METHODS),
        choices=list(METHODS),
        help=f"methods to run (default: the Table 5 rows the kit implements, {' '.join(TABLE5_METHODS)})",
    )
    parser.add_argument(
        "--precomputed-flow",
        type=Path,
        help="onset->apex flow images (STSTNet authors' layout) instead of raw datasets",
    )
    ctx = common.parse(
        parser,
        ARTIFACT,
        argv,
        needs_data=lambda args: args.precomputed_flow is None,
        methods=lambda args: args.methods,
    )
    from me_resnet.cli import loso
    from me_resnet.evaluation import experiment
    from me_resnet.reporting import markdown, plots, tables
    from me_resnet.reporting.outputs import write_text
    from me_resnet.reporting.result_folder import final_paths, result_folder

    precomputed = ctx.args.precomputed_flow
    loaded, plans = None, {}
    if not precomputed:  # the folds of every method are planned from the records, before any feature
        loaded = loso.load(ctx)
        plans = loso.plan(ctx, experiment.record_groups(loaded), ctx.args.methods)
    datasets = (ctx.args.datasets or list(DATASETS)) if precomputed else None
    coverage = ctx.coverage(methods=ctx.args.methods, datasets=datasets)
    out = loso.output(ctx, coverage)
    predictions, record = run_methods(ctx, loaded, plans, loso.base_config(ctx, ctx.args.methods))
    metrics = experiment.metrics_over_seeds(predictions, ctx.config)
    table = tables.table5(metrics, demo=ctx.demo, coverage=coverage)
    with result_folder(out) as stage:  # every file of the result, or none, replaces the previous one
        paths = loso.write(
            ctx, stage, artifact=ARTIFACT, predictions=predictions, metrics=metrics, coverage=coverage, record=record
        )
        paths["table_md"] = write_text(
            stage / "table5.md", tables.table5_markdown(table, metrics, demo=ctx.demo, coverage=coverage)
        )
        paths["plot"] = plots.table5_plot(metrics, stage / "table5.png", demo=ctx.demo)
    print(markdown.markdown_table(table))
    common.report(final_paths(paths, out))
    return 0
