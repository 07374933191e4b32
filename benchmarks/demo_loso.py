"""The demo main job's LOSO (15 demo ME-ResNet folds) on each executor, side by side in one run.

    python benchmarks/demo_loso.py                      # local loop, 1 worker x 1 thread, 2 workers x 1 thread
    python benchmarks/demo_loso.py --variants pool2     # one variant only
    python benchmarks/demo_loso.py --no-end-to-end      # skip the timed table5.py --demo from an empty cache
    python benchmarks/demo_loso.py --variants pool2 --compare-with ba92e07 --rounds 2   # a change's make-demo time

What `make demo` spends its time on: the LOSO of the demo ME-ResNet on the
demo CASME II, SMIC and SAMM (``table5.py --demo``'s folds), from cached
features, without run dirs (nothing resumed). Variants:

- ``local``: one fold after another in this process, TensorFlow's default
  thread count (all cores; the demo default before the pool);
- ``pool1``: one pool worker with 1 thread (the same folds in turn);
- ``pool2``: two pool workers with 1 thread each side by side (the demo default
  on 2 cores, ``--executor auto``).

First, unless ``--no-end-to-end``: ``reproduce/table5.py --demo`` (what ``make
demo`` runs once its venv exists) in a child process with an empty cache (demo
data, features, the 15 folds on the ``--executor auto`` default, metrics and
plots), timed: the ``make demo`` figure of README.md and docs/performance.md.

``--compare-with COMMIT``: before that, ``table5.py --demo`` of COMMIT (a git worktree)
and of this tree from empty caches, ``--rounds`` times each, alternating which runs
first, with the load average at each start and whether all gave the same predictions
(``make_demo_side_by_side``: a speed change measured beside the code before it).

Each variant's wall-clock, per-fold seconds and the composite and per-dataset
UF1 (a fold's last bits depend on the thread count, so ``local`` differs from
the 1-thread variants; ``pool1`` and ``pool2`` must be equal) go to
``results/bench/demo_loso.json`` with the load average.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from me_resnet.utils.quiet import prepare_environment  # noqa: E402

prepare_environment()  # the kit's TensorFlow settings (oneDNN on), as its commands set them, before TensorFlow loads

import pandas as pd  # noqa: E402

from me_resnet.config import DEMO  # noqa: E402
from me_resnet.data.demo import GENERATOR_VERSION, ensure_demo_data  # noqa: E402
from me_resnet.evaluation.experiment import RunOptions, load_records, loso_scopes, method_features  # noqa: E402
from me_resnet.evaluation.metrics import compute_metrics  # noqa: E402
from me_resnet.evaluation.runner import LosoRun  # noqa: E402
from me_resnet.parallel.executors import InProcessExecutor, PoolExecutor  # noqa: E402
from me_resnet.utils.io import write_json_atomic  # noqa: E402
from me_resnet.utils.paths import RESULTS_DIR  # noqa: E402
from me_resnet.utils.provenance import provenance  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DATASETS = ("casme2", "smic", "samm")
VARIANTS = {
    "local": ("this process, default threads (all cores)", lambda: InProcessExecutor()),
    "pool1": ("1 pool worker x 1 thread", lambda: PoolExecutor(workers=1, threads=1)),
    "pool2": ("2 pool workers x 1 thread", lambda: PoolExecutor(workers=2, threads=1)),
}


def demo_runs(profile=DEMO):
    """One LOSO run per demo dataset: the demo ME-ResNet's features and config, as ``table5.py --demo``."""
    root = ensure_demo_data()
    loaded = load_records({name: root / name for name in DATASETS}, profile)
    features, config = method_features(loaded, "me_resnet", profile, options=RunOptions(workers=1), demo=True)
    return [LosoRun(part, "me_resnet", config) for part in loso_scopes(features, config.loso_scope).values()], config


def measure(name: str, profile=DEMO, executor=None) -> dict:
    runs, config = demo_runs(profile)
    executor = executor or VARIANTS[name][1]()
    jobs = [job for run in runs for job in run.jobs]
    started = time.perf_counter()
    outcomes = executor.run(jobs, progress=True)  # the per-fold loop: what run_all hands a ME-ResNet run
    wall = time.perf_counter() - started
    done = iter(outcomes)
    predictions = pd.concat([run.finish([next(done) for _ in run.jobs]) for run in runs], ignore_index=True)
    metrics = compute_metrics(predictions, bootstrap_resamples=0)
    return {
        "executor": VARIANTS[name][0] if name in VARIANTS else name,
        "folds": len(jobs),
        "wall_seconds": round(wall, 1),
        "uf1": {row.dataset: round(float(row.uf1), 4) for row in metrics.itertuples()},
        "predictions": predictions[["dataset", "subject", "clip", "y_pred"]].to_dict("list"),
        "fold_seconds": [info.get("wall_seconds") for _, info in outcomes],
        "epochs": config.epochs,
        "batch_size": config.batch_size,
    }


def end_to_end(repo: Path = REPO) -> dict:
    """``reproduce/table5.py --demo`` of the tree ``repo`` from an empty cache in a child process: its
    wall-clock and outcome."""
    with tempfile.TemporaryDirectory(prefix="me_resnet_demo_") as scratch:
        # PYTHONPATH: another checkout's package, not the one installed in this venv
        env = dict(os.environ, ME_RESNET_CACHE=str(Path(scratch) / "cache"), PYTHONPATH=str(repo))
        command = [sys.executable, "reproduce/table5.py", "--demo", "--out", str(Path(scratch) / "out")]
        load = os.getloadavg()[0]
        started = time.perf_counter()
        done = subprocess.run(command, cwd=repo, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - started
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
        document = json.loads((Path(scratch) / "out" / "metrics.json").read_text())
        predictions = pd.read_csv(Path(scratch) / "out" / "predictions.csv")
        me_resnet = predictions[predictions.method == "me_resnet"].to_csv(index=False).encode()
    metrics = document["metrics"]
    return {
        "command": "python reproduce/table5.py --demo  (empty ME_RESNET_CACHE, --out a scratch dir)",
        "methods": document["coverage"]["methods"],
        "wall_seconds": round(wall, 1),
        "load_average_at_start": round(load, 2),
        "uf1": {row["dataset"]: round(float(row["uf1"]), 4) for row in metrics if row["method"] == "me_resnet"},
        "me_resnet_predictions_sha256": hashlib.sha256(me_resnet).hexdigest(),
    }


def side_by_side(reference: str, rounds: int) -> tuple[dict, dict]:
    """``end_to_end`` of the commit ``reference`` (a git worktree) and of this tree, ``rounds`` times each,
    alternating which goes first: the make-demo time of a change, measured beside the code before it.
    Returns the comparison and this tree's last run (the ``make_demo`` figure)."""
    worktree = Path(tempfile.mkdtemp(prefix="me_resnet_reference_"))
    subprocess.run(["git", "worktree", "add", "--detach", str(worktree), reference], cwd=REPO, check=True)
    runs = {"reference": [], "this_tree": []}
    try:
        for number in range(rounds):
            order = [("reference", worktree), ("this_tree", REPO)]
            for name, repo in order if number % 2 == 0 else order[::-1]:
                runs[name].append(end_to_end(repo))
                print(f"round {number + 1}: {name} {runs[name][-1]['wall_seconds']} s", flush=True)
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(worktree)], cwd=REPO, check=False)
    rev = subprocess.run(["git", "rev-parse", reference], cwd=REPO, capture_output=True, text=True).stdout.strip()
    medians = {name: statistics.median(run["wall_seconds"] for run in done) for name, done in runs.items()}
    return {
        "reference_commit": rev,
        "rounds": rounds,
        "wall_seconds": {name: [run["wall_seconds"] for run in done] for name, done in runs.items()},
        "load_average_at_start": {name: [run["load_average_at_start"] for run in done] for name, done in runs.items()},
        "median_seconds": medians,
        "this_tree_over_reference": round(medians["this_tree"] / medians["reference"], 3),
        "same_me_resnet_predictions": len({run["me_resnet_predictions_sha256"] for r in runs.values() for run in r})
        == 1,
    }, runs["this_tree"][-1]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", nargs="+", choices=sorted(VARIANTS), default=list(VARIANTS))
    parser.add_argument("--no-end-to-end", action="store_true", help="skip the timed table5.py --demo")
    parser.add_argument(
        "--compare-with", metavar="COMMIT", help="also time table5.py --demo of COMMIT beside this tree's"
    )
    parser.add_argument("--rounds", type=int, default=2, help="--compare-with: runs of each (default 2)")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "bench" / "demo_loso.json")
    args = parser.parse_args(argv)
    load_before = os.getloadavg()
    compared, whole = side_by_side(args.compare_with, args.rounds) if args.compare_with else (None, None)
    if whole is None and not args.no_end_to_end:
        whole = end_to_end()
    demo_runs()  # demo data and features into the cache first: not timed
    results = {name: measure(name) for name in args.variants}
    document = {
        "make_demo": whole,
        "make_demo_side_by_side": compared,
        "data": f"synthetic demo data (generator version {GENERATOR_VERSION})",
        "setup": "table5.py --demo's LOSO: demo ME-ResNet, LOSO per dataset on demo CASME II, SMIC, SAMM "
        "(15 folds), cached features, no run dirs; wall = training and predicting every fold",
        "variants": {name: {k: v for k, v in result.items() if k != "predictions"} for name, result in results.items()},
        "load_average_before_after": [round(v, 2) for v in load_before + os.getloadavg()],
        "provenance": provenance(),
    }
    if "local" in results:
        for name, result in results.items():
            document["variants"][name]["speedup_over_local"] = round(
                results["local"]["wall_seconds"] / result["wall_seconds"], 2
            )
    if {"pool1", "pool2"} <= set(results):
        document["pool1_equals_pool2"] = results["pool1"]["predictions"] == results["pool2"]["predictions"]
    write_json_atomic(args.out, document)
    print(json.dumps({k: v for k, v in document.items() if k != "provenance"}, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
