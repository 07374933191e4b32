"""Table 1 / Table 2: samples per dataset and class, the kit's counts beside the paper's.

    python reproduce/table1_datasets.py --demo
    python reproduce/table1_datasets.py --casme2 DIR --smic DIR --samm DIR

The same as ``me-resnet table1`` (``me_resnet/cli/table1.py``).
"""

from me_resnet.cli import table1


def main(argv=None) -> int:
    return table1.main(argv, prog="python reproduce/table1_datasets.py")


if __name__ == "__main__":
    raise SystemExit(main())
