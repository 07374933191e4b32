"""Fig. 10: accuracy (and UF1/UAR) of ME-ResNet against the mask scale factor a, per dataset.

    python reproduce/fig10_scale.py --demo
    python reproduce/fig10_scale.py --casme2 DIR --smic DIR --samm DIR

The same as ``me-resnet fig10`` (``me_resnet/cli/sweeps.py``).
"""

from me_resnet.cli import sweeps


def main(argv=None) -> int:
    return sweeps.fig10(argv, prog="python reproduce/fig10_scale.py")


if __name__ == "__main__":
    raise SystemExit(main())
