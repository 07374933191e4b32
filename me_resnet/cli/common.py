"""The flags the paper-artifact subcommands share, and their translation into plain library arguments.

``make_parser``: dataset roots (or env vars), ``--demo``, ``--profile``, ``--out``,
``--verbose`` and any config key as ``--key value`` (``me_resnet.config``); a
subcommand adds the groups it uses: ``add_force``, ``add_feature_options``
(``--cache-dir``, ``--workers``) and, for a LOSO (``make_loso_parser``), ``--seeds``,
``--folds``, ``--early-stop-on``, ``--run-dir``, FER2013 pretraining (``--fer2013``,
``--no-pretraining``) and where folds train (``--executor``, ``--engine``,
``--pool-workers``, ``--ray-address``, ``--cpus-per-fold``, ``--gpus-per-fold``).
Config values the user typed win over a method's own defaults, even when they
equal the profile's. Usage errors, bad config values, unknown ``--folds`` and
expected input errors (a bad dataset path) end in a short message and exit
status 2, before any training.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import dataclasses
import logging
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from me_resnet.cli.executor_flags import add_executor_options, build_executor, executor_name
from me_resnet.config import Config, field_choices, get_profile, parse_overrides
from me_resnet.data.demo import demo_data_ready, ensure_demo_data
from me_resnet.data.records import DATASETS
from me_resnet.models.registry import get_method
from me_resnet.parallel.engine_choice import trains_fold_by_fold
from me_resnet.reporting.outputs import Coverage, ResultExistsError, check_replace, output_dir
from me_resnet.utils.keras_files import check_keras_file
from me_resnet.utils.paths import DATASET_ENV_VARS, RESULTS_DIR, dataset_root_from_env, demo_data_dir, runs_dir
from me_resnet.utils.quiet import import_backend_quietly, prepare_environment

if TYPE_CHECKING:  # the experiment API loads Keras: imported once the flags are checked
    from me_resnet.evaluation.experiment import RunOptions

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
    executor: object = None  # runs the LOSO folds (an evaluation.executor.Executor, built by me_resnet.parallel)
    folds: list | None = None
    fer2013: Path | None = None
    pretraining: bool = True
    annotations: dict = field(default_factory=dict)

    @property
    def seeds(self) -> list[int]:
        return list(getattr(self.args, "seeds", None) or [0])

    def run_options(self) -> RunOptions:
        """The LOSO options of these flags: seeds, folds, executor, run root, feature cache and workers."""
        from me_resnet.evaluation.experiment import RunOptions

        return RunOptions(
            seeds=tuple(self.seeds),
            folds=None if self.folds is None else tuple(self.folds),
            executor=self.executor,
            run_root=self.run_root,
            cache_dir=getattr(self.args, "cache_dir", None),
            workers=getattr(self.args, "workers", None),
            verbose=int(self.args.verbose),
        )

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
        try:
            check_replace(out, coverage, force=self.args.force)
        except ResultExistsError as error:  # the library names its parameter; the command its flags
            sys.stderr.write(f"{self.prog}: {error.reason}. Give another --out, or --force to replace it.\n")
            raise SystemExit(2) from None
        out.mkdir(parents=True, exist_ok=True)
        return out

    def data_note(self) -> str:
        return (
            "synthetic demo data (says nothing about the paper's claims)"
            if self.demo
            else "datasets given on the command line"
        )


def make_parser(prog: str, description: str) -> argparse.ArgumentParser:
    """The flags of every paper-artifact subcommand: data, profile, output dir, verbosity, config keys."""
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
    for name in DATASETS:
        parser.add_argument(f"--{name}", type=Path, help=f"dataset root (or ${DATASET_ENV_VARS[name]})")
    parser.add_argument("--casme2-annotations", type=Path, help="CASME II coding xlsx if not inside the root")
    parser.add_argument("--samm-annotations", type=Path, help="SAMM coding xlsx if not inside the root")
    parser.add_argument("--datasets", nargs="+", choices=list(DATASETS), help="restrict to these datasets")
    parser.add_argument("--verbose", action="store_true", help="TensorFlow's log and Keras epoch progress")
    return parser


def add_force(parser: argparse.ArgumentParser) -> None:
    """``--force``: for commands whose result folder refuses to be replaced by less of it."""
    parser.add_argument(
        "--force", action="store_true", help="replace a complete result in --out even by a partial or smaller one"
    )


def add_feature_options(parser: argparse.ArgumentParser) -> None:
    """The feature cache and the feature-extraction processes."""
    parser.add_argument(
        "--cache-dir", type=Path, help="feature cache dir (default under $ME_RESNET_CACHE or ~/.cache/me_resnet)"
    )
    parser.add_argument("--workers", type=int, help="processes for feature extraction (default: CPU count)")


def add_loso_options(parser: argparse.ArgumentParser, *, seeds: bool = True) -> None:
    """The flags of a LOSO run: seeds (``seeds``), folds, early stopping, run dirs, pretraining, executor."""
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
        "--early-stop-on", choices=field_choices("early_stop_on"), help="early stopping monitor (config early_stop_on)"
    )
    parser.add_argument(
        "--run-dir", type=Path, help="root of the resumable LOSO run dirs (default under the cache root)"
    )
    pretraining = parser.add_argument_group("FER2013 pretraining (paper §3.2)")
    pretraining.add_argument(
        "--fer2013", type=Path, help="FER2013 csv or folder to pretrain on (or $ME_RESNET_FER2013)"
    )
    pretraining.add_argument(
        "--no-pretraining", action="store_true", help="train from scratch (a deviation from the paper)"
    )
    add_executor_options(parser)


def make_loso_parser(prog: str, description: str, *, seeds: bool = True) -> argparse.ArgumentParser:
    """``make_parser`` with the flags of the subcommands that run LOSOs (table5, fig9/10, ablation, leakage)."""
    parser = make_parser(prog, description)
    add_force(parser)
    add_feature_options(parser)
    add_loso_options(parser, seeds=seeds)
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


def parse_folds(values):
    """``--folds`` values: integers stay integers, anything else is a group name."""
    if not values:
        return None
    return [int(value) if value.isdigit() else value for value in values]


def dataset_roots(args: argparse.Namespace) -> dict[str, Path]:
    """The roots of the datasets the flags name (``--demo``: the demo tree's, written by ``parse``)."""
    if args.demo:
        demo_root = demo_data_dir()
        roots = {name: demo_root / name for name in (*DATASETS, "fer2013")}
    else:
        roots = {}
        for name in DATASETS:
            root = getattr(args, name) or dataset_root_from_env(name)
            if root is not None:
                roots[name] = Path(root)
    if args.datasets:
        roots = {name: root for name, root in roots.items() if name in args.datasets or name == "fer2013"}
    return roots


def pretraining_source(parser, args, config: Config, trained) -> tuple[Path | None, bool]:
    """(FER2013 path, whether to pretrain); exits 2 when the paper pretrains one of ``trained`` and no FER2013
    data is given, or the given one does not exist (before any dataset loads)."""
    fer2013 = getattr(args, "fer2013", None)
    if fer2013 is None and hasattr(args, "fer2013") and not args.demo:  # demo runs read no real data from env vars
        fer2013 = dataset_root_from_env("fer2013")
    pretraining = not getattr(args, "no_pretraining", False) and (fer2013 is not None or not args.demo)
    pretrains = pretraining and not config.pretrained and any(get_method(name).pretrainable for name in trained)
    if pretrains and fer2013 is None:
        sys.stderr.write(NO_FER2013_MESSAGE.format(prog=parser.prog))
        raise SystemExit(2)
    if pretrains and not Path(fer2013).expanduser().exists():
        sys.stderr.write(
            f"{parser.prog}: --fer2013 (or ${DATASET_ENV_VARS['fer2013']}) {str(fer2013)!r} does not exist\n"
        )
        raise SystemExit(2)
    return (None if fer2013 is None else Path(fer2013)), pretraining


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
    executor = executor_name(parser, args, profile) if hasattr(args, "executor") else None
    if config.pretrained:  # a missing or junk weights file stops here, not in the first fold
        with expected_errors(parser.prog):
            check_keras_file(config.pretrained, "--pretrained")
    roots = dataset_roots(args)
    wanted = needs_data(args) if callable(needs_data) else needs_data
    if wanted and not any(name in roots for name in DATASETS):
        sys.stderr.write(NO_DATA_MESSAGE.format(prog=parser.prog))
        raise SystemExit(2)
    trained = methods(args) if callable(methods) else methods
    fer2013, pretraining = pretraining_source(parser, args, config, trained)
    out = args.out or (RESULTS_DIR / "demo" / artifact if args.demo else RESULTS_DIR / artifact)
    run_root = getattr(args, "run_dir", None) or (runs_dir() / ("demo" if args.demo else "real") / artifact)
    # the demo data is written (in worker processes) while TensorFlow loads here and the fold workers start
    writing = args.demo and not demo_data_ready()
    demo_data = _in_background(ensure_demo_data) if args.demo else None
    # the flags are checked: TensorFlow may load now, with the kit's settings and without its start-up lines
    prepare_environment(verbose=args.verbose)
    import_backend_quietly()
    if executor is not None:
        executor = build_executor(parser, args, executor)
        # only while there is a long start to overlap: a rerun that resumes every fold would wait for them at exit
        if writing and trained and trains_fold_by_fold(trained, args.engine) and hasattr(executor, "start"):
            executor.start()  # the fold workers load TensorFlow while the demo data is written and features extracted
    if demo_data is not None:
        with expected_errors(parser.prog):  # e.g. a folder there that the generator did not write
            demo_data.result()
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
        folds=parse_folds(getattr(args, "folds", None)),
        fer2013=fer2013,
        pretraining=pretraining,
        annotations={"casme2": args.casme2_annotations, "samm": args.samm_annotations},
    )


INPUT_ERRORS = (OSError, ValueError, ResultExistsError)


def _in_background(function) -> concurrent.futures.Future:
    """``function()`` started in a thread; ``.result()`` waits for it and raises what it raised."""
    pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="me_resnet_demo_data")
    future = pool.submit(function)
    pool.shutdown(wait=False)
    return future


@contextlib.contextmanager
def expected_errors(prog: str, errors: tuple = INPUT_ERRORS):
    """Turn ``errors`` (by default those of reading inputs: bad paths, unreadable or inconsistent files, a
    result in the way) into one paragraph on stderr and exit status 2, instead of a traceback."""
    try:
        yield
    except errors as error:
        sys.stderr.write(f"{prog}: {in_flags(str(error))}\n")
        raise SystemExit(2) from None


def in_flags(message: str) -> str:
    """A library error's parameter advice in the command's flags (the library names parameters, not flags)."""
    missing_sheet = re.match(r"no (casme2|samm) annotation file found", message)
    if missing_sheet:
        message = message.replace("pass annotations=<xlsx>", f"give --{missing_sheet.group(1)}-annotations FILE")
    return message


def report(paths: dict[str, Path]) -> None:
    """Print where the command wrote what."""
    print("wrote:")
    for kind, path in paths.items():
        print(f"  {kind:>14}: {Path(path).resolve()}")
