"""Fig. 9: accuracy (and UF1/UAR) of ME-ResNet against the number of key frames N, per dataset.

python reproduce/fig9_frames.py --demo
python reproduce/fig9_frames.py --casme2 DIR --smic DIR --samm DIR --values 3 5 7 9 11 13 15
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from me_resnet.cli import common as cli
from me_resnet.evaluation import experiment
from me_resnet.reporting import paper, tables

DEMO_VALUES = (3, 7, 11)


def main(argv=None):
    parser = cli.make_parser(__doc__.splitlines()[0])
    parser.add_argument(
        "--values",
        nargs="+",
        type=int,
        help="frame counts N (default: the paper's {}; with --demo (3, 7, 11), to stay within minutes)".format(
            paper.FIG9["frame_counts"]
        ),
    )
    ctx = cli.parse(parser, "fig9_frames", argv)
    values = ctx.args.values or (DEMO_VALUES if ctx.demo else paper.FIG9["frame_counts"])
    experiment.sweep_artifact(
        ctx,
        "fig9_frames",
        "num_frames",
        values,
        tables.fig9_markdown,
        title="Fig. 9: metrics vs number of key frames N",
        paper_best=paper.FIG9["best_num_frames"],
    )


if __name__ == "__main__":
    main()
