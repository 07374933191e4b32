"""The ``me-resnet`` command: one subcommand per job, each a thin layer over the library.

``me-resnet SUBCOMMAND --help`` describes each; usage errors exit with status 2.
"""

from __future__ import annotations

import importlib
import sys

# subcommand -> (module under me_resnet.cli or reproduce script module, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "datasets": ("me_resnet.cli.datasets", "check dataset trees: clips per class and subject, every problem found"),
    "demo": ("me_resnet.cli.demo", "write the synthetic demo datasets in the official layouts"),
}


def usage() -> str:
    width = max(len(name) for name in SUBCOMMANDS)
    lines = [
        "usage: me-resnet SUBCOMMAND [options]   (me-resnet SUBCOMMAND --help for its options)",
        "",
        "subcommands:",
    ]
    lines += [f"  {name:<{width}}  {help_text}" for name, (_, help_text) in SUBCOMMANDS.items()]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        sys.stdout.write(usage())
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if name not in SUBCOMMANDS:
        sys.stderr.write(f"me-resnet: unknown subcommand {name!r}\n\n" + usage())
        return 2
    module = importlib.import_module(SUBCOMMANDS[name][0])
    result = module.main(rest)
    return int(result or 0)
