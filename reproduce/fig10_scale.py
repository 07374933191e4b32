"""Fig. 10: accuracy (and UF1/UAR) of ME-ResNet against the mask scale factor a, per dataset.

The flow is computed once: the feature cache keeps the unmasked flow and the grey
differences, and the continuity mask (eq. 9, U = a * p) is applied at load time.

    python reproduce/fig10_scale.py --demo
    python reproduce/fig10_scale.py --casme2 DIR --smic DIR --samm DIR
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from me_resnet.cli import common as cli
from me_resnet.evaluation import experiment
from me_resnet.reporting import paper, tables

DEMO_VALUES = (0.2, 0.8, 1.4)


def main(argv=None):
    parser = cli.make_parser(__doc__.splitlines()[0])
    parser.add_argument(
        "--values",
        nargs="+",
        type=float,
        help="scale factors a (default: the paper's {}; with --demo (0.2, 0.8, 1.4), to stay within minutes)".format(
            paper.FIG10["scale_factors"]
        ),
    )
    ctx = cli.parse(parser, "fig10_scale", argv)
    values = ctx.args.values or (DEMO_VALUES if ctx.demo else paper.FIG10["scale_factors"])
    experiment.sweep_artifact(
        ctx,
        "fig10_scale",
        "scale_factor",
        values,
        tables.fig10_markdown,
        title="Fig. 10: metrics vs mask scale factor a",
        paper_best=paper.FIG10["best_scale_factor"],
    )


if __name__ == "__main__":
    main()
