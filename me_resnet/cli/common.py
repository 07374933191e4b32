"""The flags every paper-artifact subcommand shares, and their translation into plain library arguments.

Flags: dataset roots (or env vars), ``--demo``, ``--profile``, ``--out``,
``--force``, ``--seeds``, ``--folds``, ``--early-stop-on``, ``--cache-dir``,
``--run-dir``, ``--workers``, ``--verbose``, FER2013 pretraining (``--fer2013``,
``--no-pretraining``), where folds train (``--executor``, ``--engine``,
``--ray-address``, ``--cpus-per-fold``, ``--gpus-per-fold``) and any config key as
``--key value`` (``me_resnet.config``). Config values the user typed win over a
method's own defaults, even when they equal the profile's. Usage errors, bad
config values, unknown ``--folds`` and expected input errors (a bad dataset path)
end in a short message and exit status 2, before any training.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import logging
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from me_resnet.config import Config, get_profile, parse_overrides
from me_resnet.data.demo import ensure_demo_data
from me_resnet.data.records import DATASETS
from me_resnet.evaluation.executors import ENGINES, EXECUTORS, make_executor
from me_resnet.evaluation.folds import parse_folds
from me_resnet.models.registry import get_method
from me_resnet.reporting.outputs import Coverage, ResultExistsError, check_replace, output_dir
from me_resnet.utils.keras_files import check_keras_file
from me_resnet.utils.paths import DATASET_ENV_VARS, RESULTS_DIR, dataset_root_from_env, runs_dir
from me_resnet.utils.quiet import import_backend_quietly, prepare_environment

NO_DATA_MESSAGE = """\
{prog}: no dataset given.
  Give dataset roots with flags or environment variables, e.g.
    {prog} --casme2 /data/CASME2 --smic /data/SMIC --samm /data/SAMM
    export ME_RESNET_CASME2=/data/CASME2 ME_RESNET_SMIC=/data/SMIC ME_RESNET_SAMM=/data/SAMM
  or run on the bundled synthetic demo data (small model, minutes on a CPU):
    {prog} --demo
"""
NO_FER2013_MESSAGE = """\
{prog}: the paper pretrains ME-ResNet on Fer2013 (section 3.2) and no FER2013 data was given.
  Give it (fer2013.csv, icml_face_data.csv or the train/test folders):
    {prog} ... --fer2013 /data/fer2013.csv      (or export ME_RESNET_FER2013=/data/fer2013.csv)
  or run without it, a deviation from the paper that every result states:
    {prog} ... --no-pretraining
"""


@dataclass
class Context:
    """A subcommand's flags, translated: what the library calls need."""

    args: argparse.Namespace
    prog: str
    config: Config
    roots: dict[str, Path]  # dataset name -> root (casme2 / smic / samm / fer2013)
    out: Path
    run_root: Path  # where LOSO run dirs (per-fold files, resumable) live
    demo: bool
    typed: frozenset = frozenset()  # every flag (argparse dest or config key) the user typed
    explicit: frozenset = frozenset()  # config keys the user typed: they win over method defaults
    executor: object = None  # runs the LOSO folds (me_resnet.evaluation.executors)
    engine: str = "auto"
    folds: list | None = None
    fer2013: Path | None = None
    pretraining: bool = True
    annotations: dict = field(default_factory=dict)

    @property
    def seeds(self) -> list[int]:
        return list(getattr(self.args, "seeds", None) or [0])

    def coverage(self, methods=(), required=DATASETS, datasets=None) -> Coverage:
        """What a run with these flags covers (``required``: the datasets the artifact needs)."""
        ran = datasets if datasets is not None else [name for name in DATASETS if name in self.roots]
        return Coverage(
            datasets=tuple(ran),
            required=tuple(required),
            seeds=tuple(self.seeds),
            methods=tuple(methods),
            folds=None if self.folds is None else tuple(self.folds),
        )

    def output(self, coverage: Coverage) -> Path:
        """Where this run writes: ``--out``, else the default dir (a ``partial-*`` subdir for a partial run).

        Refuses (``ResultExistsError``) to replace a complete result by less of it, unless ``--force``.
        """
        out = self.out if self.args.out else output_dir(self.out, coverage)
        check_replace(out, coverage, force=self.args.force)
        out.mkdir(parents=True, exist_ok=True)
        return out

    def data_note(self) -> str:
        return (
            "synthetic demo data (says nothing about the paper's claims)"
            if self.demo
            else "datasets given on the command line"
        )


def make_parser(prog: str, description: str, *, seeds: bool = True) -> argparse.ArgumentParser:
    """The shared flags (``seeds``: with ``--seeds``)."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description=description,
        allow_abbrev=False,  # --seed (a config key) must not be read as --seeds
        epilog="Any config key can be given as --key value (see me_resnet/config.py), e.g. --num_frames 7 --epochs 20.",
    )
    parser.add_argument("--demo", action="store_true", help="run on the synthetic demo data with the demo profile")
    parser.add_argument(
        "--profile", choices=["paper", "demo"], help="settings profile (default: demo with --demo, else paper)"
    )
    parser.add_argument(
        "--out",
        type=Path,
        help="output dir (default results/[demo/]<artifact>/, or a partial-<what>/ subdir for a partial run)",
    )
    parser.add_argument(
        "--force", action="store_true", help="replace a complete result in --out even by a partial or smaller one"
    )
    for name in DATASETS:
        parser.add_argument(f"--{name}", type=Path, help=f"dataset root (or ${DATASET_ENV_VARS[name]})")
    parser.add_argument("--casme2-annotations", type=Path, help="CASME II coding xlsx if not inside the root")
    parser.add_argument("--samm-annotations", type=Path, help="SAMM coding xlsx if not inside the root")
    parser.add_argument("--datasets", nargs="+", choices=list(DATASETS), help="restrict to these datasets")
    parser.add_argument(
        "--cache-dir", type=Path, help="feature cache dir (default under $ME_RESNET_CACHE or ~/.cache/me_resnet)"
    )
    parser.add_argument("--workers", type=int, help="processes for feature extraction (default: CPU count)")
    if seeds:
        parser.add_argument(
            "--seeds", nargs="+", type=int, default=[0], help="one LOSO run per seed; mean and std reported"
        )
    parser.add_argument(
        "--folds",
        nargs="+",
        help="run only these LOSO folds (indices or dataset/subject groups); the result is partial",
    )
    parser.add_argument(
        "--early-stop-on", choices=["val", "test", "none"], help="early stopping monitor (config early_stop_on)"
    )
    parser.add_argument(
        "--run-dir", type=Path, help="root of the resumable LOSO run dirs (default under the cache root)"
    )
    parser.add_argument("--verbose", action="store_true", help="Keras epoch progress")
    pretraining = parser.add_argument_group("FER2013 pretraining (paper §3.2)")
    pretraining.add_argument(
        "--fer2013", type=Path, help="FER2013 csv or folder to pretrain on (or $ME_RESNET_FER2013)"
    )
    pretraining.add_argument(
        "--no-pretraining", action="store_true", help="train from scratch (a deviation from the paper)"
    )
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
    return parser


def typed_flags(parser: argparse.ArgumentParser, argv: list[str]) -> set[str]:
    """The dests of the options ``argv`` actually types: a second parse with every default suppressed."""
    saved = [(action, action.default) for action in parser._actions]
    try:
        for action, _ in saved:
            action.default = argparse.SUPPRESS
        namespace, _ = parser.parse_known_args(argv)
    finally:
        for action, default in saved:
            action.default = default
    return set(vars(namespace))


def config_from_flags(parser: argparse.ArgumentParser, profile: str, extra: list[str]) -> tuple[Config, set[str]]:
    """The profile with the typed ``--key value`` config flags applied, and those keys; bad ones are usage errors."""
    base = get_profile(profile)
    try:
        overrides = parse_overrides(extra)
    except ValueError as error:
        parser.error(str(error))
    for key, value in overrides.items():  # one at a time, so the message names the flag
        try:
            dataclasses.replace(base, **{key: value})
        except ValueError as error:
            parser.error(f"argument --{key}: {error}")
    return dataclasses.replace(base, **overrides), set(overrides)


def auto_executor(profile: str) -> str:
    """``--executor auto``: a fresh process per fold for the paper profile (TensorFlow keeps memory per
    model); two single-thread workers side by side for the demo's small folds where there are 2+ cores."""
    if profile != "demo":
        return "process"
    return "pool" if (os.cpu_count() or 1) >= 2 else "local"


def parse(parser: argparse.ArgumentParser, artifact: str, argv=None, *, needs_data=True, methods=()) -> Context:
    """Parse flags; resolve the config, the dataset roots, the executor and the output dir.

    ``needs_data`` (a bool, or a function of the parsed args): without any dataset
    root and without ``--demo`` the command exits with a short message (status 2).
    ``methods`` (registry names, or a function of the parsed args): what the command trains;
    where the paper pretrains one of them, a run that pretrains without FER2013 data exits 2 here.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    args, extra = parser.parse_known_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    typed = typed_flags(parser, argv)
    profile = args.profile or ("demo" if args.demo else "paper")
    config, explicit = config_from_flags(parser, profile, extra)
    if getattr(args, "early_stop_on", None):
        config = dataclasses.replace(config, early_stop_on=args.early_stop_on)
        explicit.add("early_stop_on")
    executor, engine = None, getattr(args, "engine", "auto")
    if hasattr(args, "executor"):
        try:  # before any data work: --executor ray without Ray fails here, with the pip command
            name = args.executor if args.executor != "auto" else auto_executor(profile)
            executor = make_executor(
                name, args.ray_address, args.cpus_per_fold, args.gpus_per_fold, engine=engine, workers=args.pool_workers
            )
        except (ValueError, ImportError) as error:
            parser.error(str(error))
    folds = parse_folds(getattr(args, "folds", None))
    if config.pretrained:  # a missing or junk weights file stops here, not in the first fold
        with expected_errors(parser.prog):
            check_keras_file(config.pretrained, "--pretrained")

    if args.demo:
        demo_root = ensure_demo_data()
        roots = {name: demo_root / name for name in (*DATASETS, "fer2013")}
    else:
        roots = {}
        for name in DATASETS:
            root = getattr(args, name) or dataset_root_from_env(name)
            if root is not None:
                roots[name] = Path(root)
    if args.datasets:
        roots = {name: root for name, root in roots.items() if name in args.datasets or name == "fer2013"}
    wanted = needs_data(args) if callable(needs_data) else needs_data
    if wanted and not any(name in roots for name in DATASETS):
        sys.stderr.write(NO_DATA_MESSAGE.format(prog=parser.prog))
        raise SystemExit(2)

    fer2013 = getattr(args, "fer2013", None)
    if fer2013 is None and hasattr(args, "fer2013") and not args.demo:  # demo runs read no real data from env vars
        fer2013 = dataset_root_from_env("fer2013")
    pretraining = not getattr(args, "no_pretraining", False) and (fer2013 is not None or not args.demo)
    trained = methods(args) if callable(methods) else methods
    pretrains = pretraining and not config.pretrained and any(get_method(name).pretrainable for name in trained)
    if pretrains and fer2013 is None:  # not after the datasets have loaded
        sys.stderr.write(NO_FER2013_MESSAGE.format(prog=parser.prog))
        raise SystemExit(2)
    if pretrains and not Path(fer2013).expanduser().exists():
        sys.stderr.write(
            f"{parser.prog}: --fer2013 (or ${DATASET_ENV_VARS['fer2013']}) {str(fer2013)!r} does not exist\n"
        )
        raise SystemExit(2)
    out = args.out or (RESULTS_DIR / "demo" / artifact if args.demo else RESULTS_DIR / artifact)
    run_root = getattr(args, "run_dir", None) or (runs_dir() / ("demo" if args.demo else "real") / artifact)
    # the flags are checked: TensorFlow may load now, with the kit's settings and without its start-up lines
    prepare_environment(verbose=args.verbose)
    import_backend_quietly()
    return Context(
        args=args,
        prog=parser.prog,
        config=config,
        roots=roots,
        out=out,
        run_root=run_root,
        demo=args.demo,
        typed=frozenset(typed | explicit),
        explicit=frozenset(explicit),
        executor=executor,
        engine=engine,
        folds=folds,
        fer2013=None if fer2013 is None else Path(fer2013),
        pretraining=pretraining,
        annotations={"casme2": args.casme2_annotations, "samm": args.samm_annotations},
    )


INPUT_ERRORS = (OSError, ValueError, ResultExistsError)


@contextlib.contextmanager
def expected_errors(prog: str, errors: tuple = INPUT_ERRORS):
    """Turn ``errors`` (by default those of reading inputs: bad paths, unreadable or inconsistent files, a
    result in the way) into one paragraph on stderr and exit status 2, instead of a traceback."""
    try:
        yield
    except errors as error:
        sys.stderr.write(f"{prog}: {error}\n")
        raise SystemExit(2) from None


def check_folds(ctx: Context, loaded: dict, methods=()) -> None:
    """Exit 2 listing the valid names when a ``--folds`` entry names no fold of the LOSO scopes that will run.

    A method's LOSO runs per dataset or over the composite (its ``loso_scope``, known from the registry and
    the config before any feature exists), its folds being the subjects of ``loaded``; every entry must name
    a fold of each method in ``methods``. Without ``methods``, a fold of any scope will do.
    """
    if ctx.folds is None:
        return
    from me_resnet.evaluation.experiment import FoldSelectionError, select_folds

    groups = sorted({f"{record.dataset}/{record.subject}" for result in loaded.values() for record in result.records})
    if not methods:
        scopes = {dataset: [group for group in groups if group.startswith(dataset + "/")] for dataset in loaded}
        with expected_errors(ctx.prog, (FoldSelectionError,)):
            select_folds(ctx.folds, scopes | {"composite": groups})
        return
    check_method_folds(ctx, groups, methods)


def check_method_folds(ctx: Context, groups, methods) -> None:
    """Exit 2 unless every ``--folds`` entry names a fold of each of ``methods`` among LOSO groups ``groups``."""
    if ctx.folds is None:
        return
    from me_resnet.evaluation.experiment import FoldSelectionError, selected_groups
    from me_resnet.models.registry import method_config

    for method in methods:
        scope = method_config(method, ctx.config, explicit=ctx.explicit, demo=ctx.demo).loso_scope
        try:
            selected_groups(groups, scope, ctx.folds)
        except FoldSelectionError as error:
            sys.stderr.write(f"{ctx.prog}: {method} runs its LOSO per {scope}: {error}\n")
            raise SystemExit(2) from None


def report(paths: dict[str, Path]) -> None:
    """Print where the command wrote what."""
    print("wrote:")
    for kind, path in paths.items():
        print(f"  {kind:>14}: {Path(path).resolve()}")
