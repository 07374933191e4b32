"""``me-resnet train``: one model on every clip of the chosen datasets, saved with its model card.

Same pre-processing, augmentation, loss and optimizer as a LOSO fold
(``me_resnet.training.final_model``). ``--demo`` trains the demo-profile model
on the synthetic demo data. Writes ``MODEL.keras`` and ``MODEL.card.json``.
Exit status: 0 trained, 1 the data or training failed, 2 usage errors.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from me_resnet.config import apply_overrides, get_profile
from me_resnet.data.demo import ensure_demo_data
from me_resnet.data.loading import MICRO_DATASETS, dataset_roots, load_dataset
from me_resnet.models.registry import METHODS, get_method, method_config
from me_resnet.preprocessing.features import extract_features
from me_resnet.utils.paths import DATASET_ENV_VARS, RESULTS_DIR, cache_root
from me_resnet.utils.quiet import import_backend_quietly, prepare_environment

NO_DATA = (
    "me-resnet train: no dataset given: pass --casme2 DIR, --samm DIR and/or --smic DIR, set "
    + ", ".join(DATASET_ENV_VARS[name] for name in MICRO_DATASETS)
    + ", or use --demo for the synthetic demo data.\n"
)


def make_parser(prog: str = "me-resnet train") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Train one model on all clips of the chosen datasets and save it with its model card.",
        epilog="Any config key can be given as --key value (see me_resnet/config.py), e.g. --epochs 20.",
    )
    parser.add_argument("--demo", action="store_true", help="synthetic demo data and the demo profile")
    parser.add_argument("--profile", choices=["paper", "demo"], help="settings (default: demo with --demo, else paper)")
    parser.add_argument("--method", choices=sorted(METHODS), default="me_resnet", help="model to train")
    for name in MICRO_DATASETS:
        parser.add_argument(f"--{name}", type=Path, metavar="DIR", help=f"{name} root (or ${DATASET_ENV_VARS[name]})")
    parser.add_argument("--casme2-annotations", type=Path, metavar="FILE", help="CASME II coding xlsx")
    parser.add_argument("--samm-annotations", type=Path, metavar="FILE", help="SAMM coding xlsx")
    parser.add_argument("--datasets", nargs="+", choices=MICRO_DATASETS, help="train on these datasets only")
    parser.add_argument("--out", type=Path, help="model file, .keras (default: under the cache root, models/)")
    parser.add_argument("--cache-dir", type=Path, help="feature cache dir (default under $ME_RESNET_CACHE)")
    parser.add_argument("--workers", type=int, help="processes for feature extraction (default: CPU count)")
    parser.add_argument("--quiet", action="store_true", help="no line per training epoch")
    return parser


def main(argv: list[str] | None = None, prog: str = "me-resnet train") -> int:
    parser = make_parser(prog)
    args, extra = parser.parse_known_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    profile = args.profile or ("demo" if args.demo else "paper")
    base = get_profile(profile)
    try:
        config = apply_overrides(base, extra)
    except ValueError as error:
        parser.error(str(error))
    if args.out is not None and args.out.suffix != ".keras":
        parser.error(f"--out must end in .keras, got {args.out}")
    explicit = {name for name, value in config.to_dict().items() if value != base.to_dict()[name]}
    config = method_config(args.method, config, explicit=explicit, demo=args.demo)
    kind = get_method(args.method).feature_kind

    if args.demo:
        demo_root = ensure_demo_data()
        roots = {name: demo_root / name for name in MICRO_DATASETS}
    else:
        roots = dataset_roots(args.casme2, args.samm, args.smic)
    if args.datasets:
        roots = {name: root for name, root in roots.items() if name in args.datasets}
    if not roots:
        sys.stderr.write(NO_DATA)
        return 2
    out = args.out or cache_root() / "models" / ("demo" if args.demo else "trained") / f"{args.method}.keras"
    prepare_environment()
    import_backend_quietly()
    from me_resnet.training.final_model import model_card_for, train_final_model
    from me_resnet.training.model_card import save_model_with_card

    annotations = {"casme2": args.casme2_annotations, "samm": args.samm_annotations}
    try:
        records = []
        for name, root in roots.items():
            records += load_dataset(name, root, config, annotations=annotations.get(name)).records
        features = extract_features(records, config, kind=kind, cache_dir=args.cache_dir, workers=args.workers)
        final = train_final_model(features, config, verbose=0 if args.quiet else 2)
    except (FileNotFoundError, ValueError) as error:
        sys.stderr.write(f"me-resnet train: {error}\n")
        return 1
    results = RESULTS_DIR / "demo" if args.demo else RESULTS_DIR
    card = model_card_for(final, features, config, kind, results, data_roots=roots)
    model_path, card_file = save_model_with_card(final.model, card, out)

    training = card["training"]
    print(f"trained {args.method} on {len(features)} clips ({', '.join(card['datasets'])}), profile {profile}")
    print(f"  data: {card['data']['kind']}")
    stop = f"best epoch {training['best_epoch']}" if training["best_epoch"] else "fixed epochs"
    print(
        f"  {training['clips_fit']} clips fit, {training['clips_val']} for early stopping; "
        f"{training['epochs_trained']} epochs ({stop})"
    )
    for source in card["loso_metrics"]:
        composite = [row for row in source["rows"] if row["dataset"] == "composite"] or source["rows"][:1]
        row = composite[0]
        scores = ", ".join(f"{name.upper()} {row[name]:.3f}" for name in ("uf1", "uar") if row.get(name) is not None)
        print(f"  kit LOSO ({source['artifact']}, {row['dataset']}): {scores}")
    if not card["loso_metrics"]:
        print("  no LOSO result of this configuration under results/ (the card says so)")
    print(f"model: {model_path}\ncard:  {card_file}")
    return 0
