"""List and prune the kit's caches: ``me-resnet cache [list] | prune KIND... [--older-than DAYS] [--dry-run]``.

Kinds: features (per-clip pre-processing), runs (LOSO run directories),
pretrained (2D models), demo (synthetic datasets); all under ``$ME_RESNET_CACHE``
(default ``~/.cache/me_resnet``) and all recomputable. A run directory in use by
a running LOSO run is never removed.
"""

from __future__ import annotations

import argparse
import sys
import time

from me_resnet.utils import caches, paths


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="me-resnet cache", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command")
    listing = commands.add_parser("list", help="sizes per kind (default)")
    listing.add_argument("--all", action="store_true", help="one line per run dir / pretrained file too")
    removing = commands.add_parser("prune", help="remove cache entries")
    removing.add_argument("kinds", nargs="+", choices=caches.KINDS + ("all",), metavar="KIND")
    removing.add_argument("--older-than", type=float, metavar="DAYS", help="only entries not modified for DAYS")
    removing.add_argument("--dry-run", action="store_true", help="print what would be removed, remove nothing")
    args = parser.parse_args(argv)
    if args.command is None:
        args.command, args.all = "list", False
    if args.command == "prune" and args.older_than is not None and args.older_than < 0:
        parser.error(f"--older-than must be >= 0 days, got {args.older_than}")
    return args


def print_list(show_all: bool) -> None:
    print(f"cache root: {paths.cache_root()}")
    for kind in caches.KINDS:
        found = caches.entries(kind)
        total = caches.human_size(sum(entry.size for entry in found))
        print(f"  {kind:<10} {len(found):>7} entries {total:>11}   {caches.kind_root(kind)}")
        if show_all and kind in ("runs", "pretrained"):
            for entry in found:
                age = (time.time() - entry.modified) / 86400
                status = f"  [{entry.status}]" if entry.status else ""
                print(f"      {caches.human_size(entry.size):>11}  {age:6.1f} days  {entry.path}{status}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.command == "list":
        print_list(args.all)
        return 0
    kinds = caches.KINDS if "all" in args.kinds else tuple(dict.fromkeys(args.kinds))
    removed, skipped = caches.prune(kinds, args.older_than, args.dry_run)
    verb = "would remove" if args.dry_run else "removed"
    for kind in kinds:
        mine = [entry for entry in removed if entry.kind == kind]
        print(f"{kind}: {verb} {len(mine)} entries, {caches.human_size(sum(entry.size for entry in mine))}")
    for reason in skipped:
        print(f"skipped {reason}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
