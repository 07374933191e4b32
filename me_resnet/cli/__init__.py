"""The ``me-resnet`` command: one subcommand per job, each a thin layer over the library.

``me-resnet SUBCOMMAND --help`` describes each; usage errors exit with status 2.
A subcommand's module is imported only when it runs, and imports at its top only
what its flags need: the library it runs (and with it TensorFlow) is imported
once the flags are checked, after ``me_resnet.utils.quiet.prepare_environment``
(TensorFlow's settings) and ``import_backend_quietly`` (no native start-up
lines). So ``--help`` and usage errors answer without loading TensorFlow.
"""

from __future__ import annotations

import importlib
import inspect
import sys

# subcommand -> ("module[:function]" under me_resnet.cli, default function ``main``; one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "table1": ("me_resnet.cli.table1", "Table 1/2: clips per dataset and class, beside the paper's counts"),
    "fig3": ("me_resnet.cli.fig3", "Fig. 2/3: vanilla vs improved Farneback flow of one clip"),
    "pretrain": ("me_resnet.cli.pretrain", "pretrain the 2D ResNet50-CBAM on FER2013 (weights for inflation)"),
    "table5": ("me_resnet.cli.table5", "Table 5: UF1/UAR per dataset and composite, beside the paper"),
    "fig9": ("me_resnet.cli.sweeps:fig9", "Fig. 9: metrics vs the number of key frames N"),
    "fig10": ("me_resnet.cli.sweeps:fig10", "Fig. 10: metrics vs the mask scale factor a"),
    "ablation": ("me_resnet.cli.ablation", "Fig. 11: the four methods of Table 4 on CASME II"),
    "leakage": ("me_resnet.cli.leakage", "early stopping on the test subject vs on held-out training subjects"),
    "datasets": ("me_resnet.cli.datasets", "check dataset trees: clips per class and subject, every problem found"),
    "demo": ("me_resnet.cli.demo", "write the synthetic demo datasets in the official layouts"),
    "cache": ("me_resnet.cli.cache", "list and prune the caches: features, run dirs, pretrained weights, demo data"),
    "train": ("me_resnet.cli.train", "train one model on all clips of the chosen datasets; save it with a model card"),
    "predict": ("me_resnet.cli.predict", "spot onset/apex in a video or frame folder and print class probabilities"),
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


def subcommand(name: str):
    """The function that runs subcommand ``name``: ``function(argv, prog=...) -> exit status``."""
    module_name, _, function = SUBCOMMANDS[name][0].partition(":")
    return getattr(importlib.import_module(module_name), function or "main")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        (sys.stdout if argv else sys.stderr).write(usage())
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if name not in SUBCOMMANDS:
        sys.stderr.write(f"me-resnet: unknown subcommand {name!r}\n\n" + usage())
        return 2
    function = subcommand(name)
    takes_prog = "prog" in inspect.signature(function).parameters
    result = function(rest, prog=f"me-resnet {name}") if takes_prog else function(rest)
    return int(result or 0)
