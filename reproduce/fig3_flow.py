"""Fig. 2/3: apex face, original vs improved Farneback (strain and magnitude maps) for one clip.

    python reproduce/fig3_flow.py --demo [--clip casme2/sub19/EP02_01f]
    python reproduce/fig3_flow.py --casme2 DIR --clip casme2/sub19/EP02_01f

The same as ``me-resnet fig3`` (``me_resnet/cli/fig3.py``).
"""

from me_resnet.cli import fig3


def main(argv=None) -> int:
    return fig3.main(argv, prog="python reproduce/fig3_flow.py")


if __name__ == "__main__":
    raise SystemExit(main())
