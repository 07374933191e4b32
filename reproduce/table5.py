"""Table 5: UF1 / UAR (+ accuracy, 95 % intervals) per dataset and composite, beside the paper's rows.

python reproduce/table5.py --demo                       # the demo main job
python reproduce/table5.py --casme2 DIR --smic DIR --samm DIR --seeds 1 2 3
python reproduce/table5.py --demo --methods me_resnet ststnet off_apexnet
python reproduce/table5.py --precomputed-flow DIR --methods ststnet
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pandas as pd

from me_resnet.cli import common as cli
from me_resnet.evaluation import experiment
from me_resnet.reporting import markdown
from me_resnet.reporting import plots, tables


def main(argv=None):
    parser = cli.make_parser(__doc__.splitlines()[0])
    parser.add_argument(
        "--methods", nargs="+", default=["me_resnet"], help="methods to run (me_resnet, ststnet, off_apexnet, ...)"
    )
    parser.add_argument(
        "--precomputed-flow",
        type=Path,
        help="onset->apex flow images (STSTNet authors' layout) instead of raw datasets",
    )
    argv_list = sys.argv[1:] if argv is None else argv
    ctx = cli.parse(parser, "table5", argv, needs_data="--precomputed-flow" not in argv_list)
    loaded = None if ctx.args.precomputed_flow else experiment.load_records(ctx)
    predictions = []
    for method in ctx.args.methods:
        features, method_cfg = experiment.input_features(loaded, method, ctx)
        predictions.append(experiment.run_method(features, method, method_cfg, ctx, seeds=ctx.args.seeds))
    predictions = pd.concat(predictions, ignore_index=True)
    metrics = experiment.metrics_over_seeds(predictions, ctx.config)
    table = tables.table5(metrics, ctx)
    paths = experiment.write_outputs(ctx, "table5", predictions, metrics)
    paths["table_md"] = ctx.out / "table5.md"
    paths["table_md"].write_text(tables.table5_markdown(table, metrics, ctx))
    paths["plot"] = plots.table5_plot(metrics, ctx.out / "table5.png", demo=ctx.demo)
    print(markdown.markdown_table(table))
    experiment.report(paths)


if __name__ == "__main__":
    main()
