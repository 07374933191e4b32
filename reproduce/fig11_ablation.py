"""Fig. 11: the four methods of Table 4 on CASME II — UF1, UAR and accuracy.

    python reproduce/fig11_ablation.py --demo
    python reproduce/fig11_ablation.py --casme2 DIR

The same as ``me-resnet ablation`` (``me_resnet/cli/ablation.py``).
"""

from me_resnet.cli import ablation


def main(argv=None) -> int:
    return ablation.main(argv, prog="python reproduce/fig11_ablation.py")


if __name__ == "__main__":
    raise SystemExit(main())
