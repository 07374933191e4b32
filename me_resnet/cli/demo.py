"""``me-resnet demo``: write the synthetic demo datasets (docs/demo_data.md)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from me_resnet.data.demo import generate_demo, summarise
from me_resnet.utils.paths import demo_data_dir


def main(argv: list[str] | None = None, prog: str = "me-resnet demo") -> int:
    parser = argparse.ArgumentParser(
        prog=prog, description="Write the synthetic demo datasets in the official layouts."
    )
    parser.add_argument("--out", type=Path, default=None, help=f"output dir (default {demo_data_dir()})")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    out = args.out if args.out is not None else demo_data_dir()
    start = time.perf_counter()
    generate_demo(out, args.seed)
    for line in summarise(out):
        print(line)
    print(f"demo data (seed {args.seed}) written in {time.perf_counter() - start:.1f} s")
    return 0
