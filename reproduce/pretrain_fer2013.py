"""Pretrain the 2D ResNet50-CBAM on FER2013 (paper §3.2) and save it for inflation.

    python reproduce/pretrain_fer2013.py --fer2013 /data/fer2013.csv   # or $ME_RESNET_FER2013
    python reproduce/pretrain_fer2013.py --demo                        # synthetic demo faces, ~1-2 min

The same as ``me-resnet pretrain`` (``me_resnet/cli/pretrain.py``).
"""

from me_resnet.cli import pretrain


def main(argv=None) -> int:
    return pretrain.main(argv, prog="python reproduce/pretrain_fer2013.py")


if __name__ == "__main__":
    raise SystemExit(main())
