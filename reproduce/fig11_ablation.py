"""Fig. 11: the four methods of Table 4 on CASME II — UF1, UAR and accuracy.

python reproduce/fig11_ablation.py --demo
python reproduce/fig11_ablation.py --casme2 DIR
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pandas as pd

from me_resnet.cli import common as cli
from me_resnet.evaluation import experiment
from me_resnet.reporting import paper, plots, tables


def main(argv=None):
    parser = cli.make_parser(__doc__.splitlines()[0])
    parser.add_argument("--methods", nargs="+", default=list(paper.FIG11), help="Table 4 methods to run")
    ctx = cli.parse(parser, "fig11_ablation", ["--datasets", "casme2", *(sys.argv[1:] if argv is None else argv)])
    loaded = experiment.load_records(ctx)
    predictions = []
    for method in ctx.args.methods:
        features, method_cfg = experiment.method_features(loaded, method, ctx.config, ctx)
        predictions.append(experiment.run_method(features, method, method_cfg, ctx, seeds=ctx.args.seeds))
    predictions = pd.concat(predictions, ignore_index=True)
    metrics = experiment.metrics_over_seeds(predictions, ctx.config)
    metrics = metrics[metrics["dataset"] == "casme2"]
    paths = experiment.write_outputs(ctx, "fig11_ablation", predictions, metrics)
    paths["table_md"] = ctx.out / "fig11_ablation.md"
    paths["table_md"].write_text(tables.fig11_markdown(metrics, ctx))
    paths["plot"] = plots.ablation_plot(metrics, ctx.out / "fig11_ablation.png", demo=ctx.demo)
    print(paths["table_md"].read_text())
    experiment.report(paths)


if __name__ == "__main__":
    main()
