"""``me-resnet ablation``: Fig. 11, the four methods of Table 4 on CASME II — UF1, UAR and accuracy.

me-resnet ablation --demo
me-resnet ablation --casme2 DIR
"""

from __future__ import annotations

import sys

from me_resnet.cli import common
from me_resnet.models.registry import METHODS
from me_resnet.reporting import paper

ARTIFACT = "fig11_ablation"
DATASET = "casme2"  # the paper's ablation is on CASME II only


def main(argv=None, prog: str = "me-resnet ablation") -> int:
    parser = common.make_loso_parser(prog, __doc__.splitlines()[0].split(": ", 1)[1])
    parser.add_argument(
        "--methods", nargs="+", default=list(paper.FIG11), choices=list(METHODS), help="Table 4 methods to run"
    )
    argv = list(sys.argv[1:] if argv is None else argv)
    ctx = common.parse(parser, ARTIFACT, ["--datasets", DATASET, *argv], methods=lambda args: args.methods)
    import pandas as pd

    from me_resnet.cli import loso
    from me_resnet.evaluation import experiment
    from me_resnet.reporting import plots, tables
    from me_resnet.reporting.outputs import write_text
    from me_resnet.reporting.result_folder import final_paths, result_folder

    loaded = loso.load(ctx)
    plans = loso.plan(ctx, experiment.record_groups(loaded), ctx.args.methods)
    coverage = ctx.coverage(methods=ctx.args.methods, required=(DATASET,))
    out = loso.output(ctx, coverage)
    config = loso.base_config(ctx, ctx.args.methods)
    predictions, record = [], loso.Record()
    for method in ctx.args.methods:
        features, method_cfg = loso.features(ctx, loaded, method=method, config=config)
        record.add(ctx, method, features=features, config=method_cfg, plans=plans[method])
        predictions.append(loso.run(ctx, features, method=method, config=method_cfg, plans=plans[method]))
        del features
    predictions = pd.concat(predictions, ignore_index=True)
    metrics = experiment.metrics_over_seeds(predictions, ctx.config)
    metrics = metrics[metrics["dataset"] == DATASET]
    with result_folder(out) as stage:  # every file of the result, or none, replaces the previous one
        paths = loso.write(
            ctx, stage, artifact=ARTIFACT, predictions=predictions, metrics=metrics, coverage=coverage, record=record
        )
        paths["table_md"] = write_text(
            stage / "fig11_ablation.md", tables.fig11_markdown(metrics, demo=ctx.demo, coverage=coverage)
        )
        paths["plot"] = plots.ablation_plot(metrics, stage / "fig11_ablation.png", demo=ctx.demo)
    paths = final_paths(paths, out)
    print(paths["table_md"].read_text())
    common.report(paths)
    return 0
