"""How much does test-subject early stopping inflate LOSO numbers? Each method runs with early stopping on
held-out TRAINING subjects (honest) and on the TEST subject (optimistic).

    python reproduce/protocol_leakage.py --demo
    python reproduce/protocol_leakage.py --casme2 DIR --smic DIR --samm DIR --methods me_resnet ststnet off_apexnet

The same as ``me-resnet leakage`` (``me_resnet/cli/leakage.py``).
"""

from me_resnet.cli import leakage


def main(argv=None) -> int:
    return leakage.main(argv, prog="python reproduce/protocol_leakage.py")


if __name__ == "__main__":
    raise SystemExit(main())
