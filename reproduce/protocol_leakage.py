"""How much does test-subject early stopping inflate LOSO numbers? Each method run twice:
early stopping on held-out TRAINING subjects (honest) and on the TEST subject (optimistic).

    python reproduce/protocol_leakage.py --demo
    python reproduce/protocol_leakage.py --casme2 DIR --smic DIR --samm DIR --methods me_resnet ststnet off_apexnet
"""

import dataclasses
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pandas as pd

from me_resnet.cli import common as cli
from me_resnet.evaluation import experiment
from me_resnet.reporting import markdown
from me_resnet.reporting import tables


def main(argv=None):
    parser = cli.make_parser(__doc__.splitlines()[0])
    parser.add_argument(
        "--methods",
        nargs="+",
        help="methods to compare (default: me_resnet ststnet off_apexnet; "
        "with --demo the two small baselines, to stay within minutes)",
    )
    ctx = cli.parse(parser, "protocol_leakage", argv)
    methods = ctx.args.methods or (["ststnet", "off_apexnet"] if ctx.demo else ["me_resnet", "ststnet", "off_apexnet"])
    loaded = experiment.load_records(ctx)
    predictions = []
    for method in methods:
        features, method_cfg = experiment.method_features(loaded, method, ctx.config, ctx)
        for monitor in ("val", "test"):
            config = dataclasses.replace(method_cfg, early_stop_on=monitor)
            run = experiment.run_method(
                features, method, config, ctx, seeds=ctx.args.seeds, label=f"early_stop_on={monitor}"
            )
            predictions.append(run.assign(early_stop_on=monitor))
    predictions = pd.concat(predictions, ignore_index=True)
    metrics = experiment.metrics_over_seeds(predictions, ctx.config, by=("method", "variant", "early_stop_on"))
    table = tables.leakage_table(metrics)
    paths = experiment.write_outputs(ctx, "protocol_leakage", predictions, metrics)
    paths["table_md"] = ctx.out / "protocol_leakage.md"
    paths["table_md"].write_text(tables.leakage_markdown(table, ctx))
    print(markdown.markdown_table(table))
    experiment.report(paths)


if __name__ == "__main__":
    main()
