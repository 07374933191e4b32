"""Fig. 10: accuracy (and UF1/UAR) of ME-ResNet against the mask scale factor a, per dataset.

The flow is computed once: the feature cache keeps the unmasked flow and the grey
differences, and the continuity mask (eq. 9, U = a * p) is applied at load time.

    python reproduce/fig10_scale.py --demo
    python reproduce/fig10_scale.py --casme2 DIR --smic DIR --samm DIR
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from me_resnet import cli, experiment, paper, plots, tables

DEMO_VALUES = (0.2, 0.8, 1.4)


def main(argv=None):
    parser = cli.make_parser(__doc__.splitlines()[0])
    parser.add_argument("--values", nargs="+", type=float,
                        help="scale factors a (default: the paper's {}; with --demo (0.2, 0.8, 1.4), to stay within minutes)".format(
                            paper.FIG10["scale_factors"]))
    ctx = cli.parse(parser, "fig10_scale", argv)
    values = ctx.args.values or (DEMO_VALUES if ctx.demo else paper.FIG10["scale_factors"])
    predictions, metrics = experiment.sweep(ctx, experiment.load_records(ctx), "scale_factor", values)
    paths = experiment.write_outputs(ctx, "fig10_scale", predictions, metrics)
    paths["table_md"] = ctx.out / "fig10_scale.md"
    paths["table_md"].write_text(tables.fig10_markdown(metrics, ctx))
    paths["plot"] = plots.sweep_plot(metrics, "scale_factor", ctx.out / "fig10_scale.png", demo=ctx.demo,
                                     title="Fig. 10: metrics vs mask scale factor a", paper_best=paper.FIG10["best_scale_factor"])
    print(paths["table_md"].read_text())
    experiment.report(paths)


if __name__ == "__main__":
    main()
