"""Fig. 9: accuracy (and UF1/UAR) of ME-ResNet against the number of key frames N, per dataset.

    python reproduce/fig9_frames.py --demo
    python reproduce/fig9_frames.py --casme2 DIR --smic DIR --samm DIR --values 3 5 7 9 11 13 15

The same as ``me-resnet fig9`` (``me_resnet/cli/sweeps.py``).
"""

from me_resnet.cli import sweeps


def main(argv=None) -> int:
    return sweeps.fig9(argv, prog="python reproduce/fig9_frames.py")


if __name__ == "__main__":
    raise SystemExit(main())
