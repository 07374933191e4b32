"""``me-resnet leakage``: how much test-subject early stopping inflates LOSO numbers.

Each method runs twice: early stopping on held-out TRAINING subjects (honest) and
on the TEST subject (optimistic).

    me-resnet leakage --demo
    me-resnet leakage --casme2 DIR --smic DIR --samm DIR --methods me_resnet ststnet off_apexnet
"""

from __future__ import annotations

import dataclasses

from me_resnet.cli import common
from me_resnet.models.registry import METHODS

ARTIFACT = "protocol_leakage"
MONITORS = ("val", "test")


def chosen_methods(args) -> list[str]:
    """``--methods``, else all three; with --demo the two small baselines, to stay within minutes."""
    return args.methods or (["ststnet", "off_apexnet"] if args.demo else ["me_resnet", "ststnet", "off_apexnet"])


def main(argv=None, prog: str = "me-resnet leakage") -> int:
    parser = common.make_loso_parser(prog, __doc__.splitlines()[0].split(": ", 1)[1])
    parser.add_argument(
        "--methods",
        nargs="+",
        choices=list(METHODS),
        help="methods to compare (default: me_resnet ststnet off_apexnet; "
        "with --demo the two small baselines, to stay within minutes)",
    )
    ctx = common.parse(parser, ARTIFACT, argv, methods=chosen_methods)
    import pandas as pd

    from me_resnet.cli import loso
    from me_resnet.evaluation import experiment
    from me_resnet.reporting import markdown, tables
    from me_resnet.reporting.outputs import write_text
    from me_resnet.reporting.result_folder import final_paths, result_folder

    methods = chosen_methods(ctx.args)
    loaded = loso.load(ctx)
    plans = loso.plan(ctx, experiment.record_groups(loaded), methods)
    coverage = ctx.coverage(methods=methods)
    out = loso.output(ctx, coverage)
    config = loso.base_config(ctx, methods)
    predictions, record = [], loso.Record()
    for method in methods:
        features, method_cfg = loso.features(ctx, loaded, method=method, config=config)
        record.add(ctx, method, features=features, config=method_cfg, plans=plans[method])
        for monitor in MONITORS:
            monitored = dataclasses.replace(method_cfg, early_stop_on=monitor)
            run = loso.run(
                ctx, features, method=method, config=monitored, plans=plans[method], label=f"early_stop_on={monitor}"
            )
            predictions.append(run.assign(early_stop_on=monitor))
        del features
    predictions = pd.concat(predictions, ignore_index=True)
    metrics = experiment.metrics_over_seeds(predictions, ctx.config, by=("method", "variant", "early_stop_on"))
    table = tables.leakage_table(metrics)
    with result_folder(out) as stage:  # every file of the result, or none, replaces the previous one
        paths = loso.write(
            ctx, stage, artifact=ARTIFACT, predictions=predictions, metrics=metrics, coverage=coverage, record=record
        )
        paths["table_md"] = write_text(
            stage / "protocol_leakage.md", tables.leakage_markdown(table, demo=ctx.demo, coverage=coverage)
        )
    paths = final_paths(paths, out)
    print(markdown.markdown_table(table))
    common.report(paths)
    return 0
