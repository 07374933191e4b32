"""Regenerate the result blocks of README.md and docs/performance.md from the files in results/.

    python reproduce/update_readme.py

Rewrites the text between ``<!-- BEGIN name -->`` and ``<!-- END name -->`` markers
(``me_resnet.reporting.doc_blocks``); every number comes from results/, none is typed by hand.
"""

from me_resnet.reporting.doc_blocks import regenerate_all


def main() -> int:
    written = regenerate_all()
    print("updated " + ", ".join(str(path) for path in written) if written else "every generated block is current")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
