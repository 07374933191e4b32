"""Table 5: UF1 / UAR (+ accuracy, 95 % intervals) per dataset and composite, beside the paper's rows.

    python reproduce/table5.py --demo                       # the demo main job
    python reproduce/table5.py --casme2 DIR --smic DIR --samm DIR --seeds 1 2 3
    python reproduce/table5.py --demo --methods me_resnet ststnet off_apexnet
    python reproduce/table5.py --precomputed-flow DIR --methods ststnet

The same as ``me-resnet table5`` (``me_resnet/cli/table5.py``).
"""

from me_resnet.cli import table5


def main(argv=None) -> int:
    return table5.main(argv, prog="python reproduce/table5.py")


if __name__ == "__main__":
    raise SystemExit(main())
