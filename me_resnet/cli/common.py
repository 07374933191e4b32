"""Shared command line of the ``reproduce/`` scripts.

Every script takes the same flags: dataset roots (or env vars), ``--demo``,
``--profile``, ``--out``, ``--seeds``, ``--folds``, ``--early-stop-on``,
``--cache-dir``, ``--workers``, ``--verbose``, the fold executor (``--executor
ray --ray-address --cpus-per-fold --gpus-per-fold``) and any config key as
``--key value`` (``me_resnet.config.apply_overrides``).
"""

from __future__ import annotations

import os

# TensorFlow's C++ start-up chatter (oneDNN, CUDA probing, grappler) hides the kit's own
# progress output; set TF_CPP_MIN_LOG_LEVEL=0 to see it again.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import argparse
import dataclasses
import logging
import sys
from dataclasses import dataclass
from pathlib import Path

from me_resnet.config import Config, apply_overrides, get_profile
from me_resnet.data.demo import ensure_demo_data
from me_resnet.evaluation.executors import make_executor
from me_resnet.utils.paths import DATASET_ENV_VARS, RESULTS_DIR, dataset_root_from_env, runs_dir

NO_DATA_MESSAGE = """\
{script}: no dataset given.
  Give dataset roots with flags or environment variables, e.g.
    python {script} --casme2 /data/CASME2 --smic /data/SMIC --samm /data/SAMM
    export ME_RESNET_CASME2=/data/CASME2 ME_RESNET_SMIC=/data/SMIC ME_RESNET_SAMM=/data/SAMM
  or run on the bundled synthetic demo data (small model, minutes on a CPU):
    python {script} --demo
"""


@dataclass
class Context:
    """What a reproduce script needs after argument parsing."""

    args: argparse.Namespace
    config: Config
    roots: dict[str, Path]  # dataset name -> root (casme2 / smic / samm / fer2013)
    out: Path
    run_root: Path  # where LOSO run dirs (per-fold files, resumable) live
    demo: bool
    explicit: frozenset = frozenset()  # config keys the user set on the command line (win over method defaults)
    executor: object = None  # runs the LOSO folds (me_resnet.evaluation.executors); None = the local loop


def make_parser(description: str, *, seeds: bool = True) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=description,
        epilog="Any config key can be given as --key value (see me_resnet/config.py), e.g. --num_frames 7 --epochs 20.",
    )
    parser.add_argument("--demo", action="store_true", help="run on the synthetic demo data with the demo profile")
    parser.add_argument(
        "--profile", choices=["paper", "demo"], help="settings profile (default: demo with --demo, else paper)"
    )
    parser.add_argument("--out", type=Path, help="output dir (default results/<artifact>/ or results/demo/<artifact>/)")
    for name in ("casme2", "smic", "samm"):
        parser.add_argument(f"--{name}", type=Path, help=f"dataset root (or ${DATASET_ENV_VARS[name]})")
    parser.add_argument("--casme2-annotations", type=Path, help="CASME II coding xlsx if not inside the root")
    parser.add_argument("--samm-annotations", type=Path, help="SAMM coding xlsx if not inside the root")
    parser.add_argument("--datasets", nargs="+", choices=["casme2", "smic", "samm"], help="restrict to these datasets")
    if seeds:
        parser.add_argument(
            "--seeds", nargs="+", type=int, default=[0], help="one LOSO run per seed; mean and std reported"
        )
    parser.add_argument("--folds", nargs="+", help="run only these LOSO folds (indices or dataset/subject groups)")
    parser.add_argument(
        "--early-stop-on", choices=["val", "test", "none"], help="early stopping monitor (config early_stop_on)"
    )
    parser.add_argument(
        "--cache-dir", type=Path, help="feature cache dir (default under $ME_RESNET_CACHE or ~/.cache/me_resnet)"
    )
    parser.add_argument(
        "--run-dir", type=Path, help="root of the resumable LOSO run dirs (default under the cache root)"
    )
    parser.add_argument("--workers", type=int, help="processes for feature extraction (default: CPU count)")
    parser.add_argument("--verbose", action="store_true", help="Keras epoch progress")
    parallel = parser.add_argument_group(
        "executor", "where LOSO folds train (docs/ray.md); results do not depend on it"
    )
    parallel.add_argument(
        "--executor",
        choices=["auto", "local", "process", "ray"],
        default="auto",
        help="local: one fold after another in this process; process: the same, each fold in a fresh "
        "child process (returns TensorFlow's retained memory; the default except with --demo / "
        "--profile demo, where auto = local); ray: every fold a Ray task",
    )
    parallel.add_argument(
        "--ray-address", help="Ray cluster to join, e.g. HEAD:6379 (default: a private local instance)"
    )
    parallel.add_argument(
        "--cpus-per-fold",
        type=float,
        help="TF/OpenMP threads per fold (and Ray CPUs per task); default: all cores locally, 1 on Ray. "
        "A fold's last bits depend on it: give the same value to mix executors in one run",
    )
    parallel.add_argument(
        "--gpus-per-fold", type=float, default=0.0, help="Ray GPUs per fold task (fractions share a GPU)"
    )
    return parser


def parse(parser: argparse.ArgumentParser, artifact: str, argv=None, *, needs_data: bool = True) -> Context:
    """Parse flags; resolve the config, the dataset roots and the output dir.

    Without data and without ``--demo`` the script exits with a short message (status 2).
    """
    args, extra = parser.parse_known_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    profile = args.profile or ("demo" if args.demo else "paper")
    try:
        config = apply_overrides(get_profile(profile), extra)
    except ValueError as error:
        parser.error(str(error))
    if args.early_stop_on:
        config = dataclasses.replace(config, early_stop_on=args.early_stop_on)
    executor = None
    if hasattr(args, "executor"):
        try:  # before any data work: --executor ray without Ray fails here, with the pip command
            name = args.executor if args.executor != "auto" else ("local" if profile == "demo" else "process")
            executor = make_executor(name, args.ray_address, args.cpus_per_fold, args.gpus_per_fold)
        except (ValueError, ImportError) as error:
            parser.error(str(error))
    base = get_profile(profile)
    explicit = frozenset(f.name for f in dataclasses.fields(config) if getattr(config, f.name) != getattr(base, f.name))

    if args.demo:
        demo_root = ensure_demo_data()
        roots = {name: demo_root / name for name in ("casme2", "smic", "samm", "fer2013")}
    else:
        roots = {}
        for name in ("casme2", "smic", "samm"):
            root = getattr(args, name) or dataset_root_from_env(name)
            if root is not None:
                roots[name] = Path(root)
    if args.datasets:
        roots = {name: root for name, root in roots.items() if name in args.datasets or name == "fer2013"}
    if needs_data and not any(name in roots for name in ("casme2", "smic", "samm")):
        sys.stderr.write(NO_DATA_MESSAGE.format(script=f"reproduce/{artifact}.py"))
        raise SystemExit(2)

    out = args.out or (RESULTS_DIR / "demo" / artifact if args.demo else RESULTS_DIR / artifact)
    out.mkdir(parents=True, exist_ok=True)
    run_root = args.run_dir or (runs_dir() / ("demo" if args.demo else "real") / artifact)
    return Context(
        args=args,
        config=config,
        roots=roots,
        out=out,
        run_root=run_root,
        demo=args.demo,
        explicit=explicit,
        executor=executor,
    )
