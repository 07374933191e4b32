"""The executor flags (``--executor``, ``--engine``, ``--pool-workers``, ``--ray-address``,
``--cpus-per-fold``, ``--gpus-per-fold``): where a LOSO subcommand's folds train, translated into the
executor ``me_resnet.parallel.build.make_executor`` builds. Nothing here changes a fold's predictions
but its thread count (docs/ray.md)."""

from __future__ import annotations

import argparse
import os

from me_resnet.parallel.build import EXECUTORS, make_executor
from me_resnet.parallel.engine_choice import ENGINES


def add_executor_options(parser: argparse.ArgumentParser) -> None:
    parallel = parser.add_argument_group(
        "executor",
        "where LOSO folds train (docs/ray.md); a fold's result depends only on its thread count "
        "(--cpus-per-fold; a pool worker has 1 unless given)",
    )
    parallel.add_argument(
        "--executor",
        choices=["auto", *EXECUTORS],
        default="auto",
        help="local: one fold after another in this process; process: the same, each fold in a fresh "
        "child process (returns TensorFlow's retained memory; auto's choice for the paper profile); "
        "pool: --pool-workers long-lived processes train folds side by side, 1 thread each by default (auto's "
        "choice with --demo / --profile demo on 2+ cores); ray: every fold a Ray task",
    )
    parallel.add_argument(
        "--pool-workers", type=int, help="--executor pool: worker processes (default: cores // --cpus-per-fold)"
    )
    parallel.add_argument(
        "--engine",
        choices=list(ENGINES),
        default="auto",
        help="how the folds of one run train: fold-parallel (all folds of a small model together), "
        "per-fold (one model.fit per fold), auto (chosen by model size)",
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


def auto_executor(profile: str) -> str:
    """``--executor auto``: a fresh process per fold for the paper profile (TensorFlow keeps memory per
    model); two single-thread workers side by side for the demo's small folds where there are 2+ cores."""
    if profile != "demo":
        return "process"
    return "pool" if (os.cpu_count() or 1) >= 2 else "local"


def executor_name(parser: argparse.ArgumentParser, args: argparse.Namespace, profile: str) -> str:
    """The executor the flags ask for; flags of another executor, or Ray missing, exit 2 (before TensorFlow loads)."""
    name = args.executor if args.executor != "auto" else auto_executor(profile)
    if args.pool_workers is not None and name != "pool":
        parser.error("--pool-workers needs --executor pool")
    if name != "ray" and (args.ray_address is not None or args.gpus_per_fold):
        parser.error("--ray-address / --gpus-per-fold need --executor ray")
    if name == "ray":
        from me_resnet.parallel.ray_executor import require_ray

        try:
            require_ray()
        except ImportError as error:
            parser.error(f"--executor ray: {error}")
    return name


def build_executor(parser: argparse.ArgumentParser, args: argparse.Namespace, name: str):
    """The executor ``name`` with the executor flags' options (``me_resnet.parallel.build.make_executor``), once
    TensorFlow may load (the fold-parallel engine it wraps loads it); a bad value exits 2."""
    try:
        return make_executor(
            name,
            address=args.ray_address,
            cpus_per_fold=args.cpus_per_fold,
            gpus_per_fold=args.gpus_per_fold,
            engine=args.engine,
            workers=args.pool_workers,
        )
    except (ValueError, ImportError) as error:
        parser.error(f"--executor {name}: {error}")
