"""Check dataset trees: ``me-resnet datasets [--casme2 DIR] [--samm DIR] [--smic DIR] [--check-frames] ...``.

Prints per dataset the number of clips, clips per class and per subject, and
every problem the loader met; ``--check-frames`` also reads every frame of
every clip and lists the truncated or damaged ones. Roots also come from
``ME_RESNET_CASME2`` / ``ME_RESNET_SAMM`` / ``ME_RESNET_SMIC``. Exit status: 0
all loaded (and every frame whole), 1 a dataset failed to load or a frame is
damaged, 2 no dataset given.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys

from tqdm.auto import tqdm

from me_resnet.cli import common
from me_resnet.config import Config, field_choices
from me_resnet.data.demo import is_demo_folder
from me_resnet.data.loading import dataset_roots, load_dataset
from me_resnet.data.protocols import PROTOCOLS
from me_resnet.utils.images import check_image_file
from me_resnet.utils.paths import DATASET_ENV_VARS

NO_DATASET = (
    "no dataset given: pass --casme2 DIR, --samm DIR and/or --smic DIR, or set "
    + ", ".join(DATASET_ENV_VARS[name] for name in ("casme2", "samm", "smic"))
    + " (see README, 'Datasets')."
)


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="me-resnet datasets", description=__doc__.splitlines()[0])
    for name in ("casme2", "samm", "smic"):
        parser.add_argument(f"--{name}", metavar="DIR", help=f"{name} root (default: ${DATASET_ENV_VARS[name]})")
    parser.add_argument(
        "--casme2-annotations", metavar="FILE", help="CASME II coding xlsx (default: found in the root)"
    )
    parser.add_argument("--samm-annotations", metavar="FILE", help="SAMM coding xlsx (default: found in the root)")
    parser.add_argument("--protocol", choices=PROTOCOLS, default=Config.protocol)
    parser.add_argument("--bad-apex", choices=field_choices("bad_apex"), default=Config.bad_apex)
    parser.add_argument("--smic-apex", choices=field_choices("smic_apex"), default=Config.smic_apex)
    parser.add_argument(
        "--check-frames", action="store_true", help="decode every frame of every clip; list damaged ones"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    return parser.parse_args(argv)


def summarize(name: str, root, args, config: Config) -> dict:
    """Counts and problems of one dataset, or its load error."""
    annotations = {"casme2": args.casme2_annotations, "samm": args.samm_annotations}.get(name)
    try:
        result = load_dataset(name, root, config, annotations=annotations)
    except (FileNotFoundError, ValueError) as error:
        return {"root": str(root), "error": common.in_flags(str(error))}
    entry = {"root": str(root)}
    if is_demo_folder(root):  # a demo tree holds part of the megc2019 list on purpose: its absent clips are no problem
        result = result.as_subset()
        if result.listed:
            entry["demo_subset"] = {"listed": result.listed, "held": result.listed - len(result.listed_absent)}
    entry |= {
        "clips": len(result.records),
        "classes": result.class_counts(),
        "subjects": result.subject_counts(),
        "problems": list(result.problems),
    }
    if args.check_frames:
        entry["damaged_frames"] = damaged_frames(name, result.records)
    return entry


def damaged_frames(name: str, records) -> list[str]:
    """The reason for every frame of ``records`` that does not read as a whole image."""
    frames = [path for record in records for path in record.frame_paths]
    found = []
    for path in tqdm(frames, desc=f"{name} frames", unit="frame", disable=None, leave=False):
        problem = check_image_file(path)
        if problem is not None:
            found.append(problem)
    return found


def print_text(config: Config, report: dict) -> None:
    print(f"protocol {config.protocol}, bad_apex {config.bad_apex}, smic_apex {config.smic_apex}")
    for name, entry in report.items():
        print(f"\n{name}: {entry['root']}")
        if "error" in entry:
            print(f"  ERROR: {entry['error']}")
            continue
        print(f"  clips: {entry['clips']}")
        if "demo_subset" in entry:
            subset = entry["demo_subset"]
            print(f"  demo data: {subset['held']} of the megc2019 list's {subset['listed']} clips, by design")
        print("  per class: " + ", ".join(f"{c} {n}" for c, n in entry["classes"].items()))
        print(
            f"  per subject ({len(entry['subjects'])}): " + ", ".join(f"{s} {n}" for s, n in entry["subjects"].items())
        )
        print(f"  problems ({len(entry['problems'])}):")
        for problem in entry["problems"]:
            print(f"    - {problem}")
        if "damaged_frames" in entry:
            print(f"  damaged frames ({len(entry['damaged_frames'])}):")
            for problem in entry["damaged_frames"]:
                print(f"    - {problem}")


def main(argv=None) -> int:
    args = parse_args(argv)
    roots = dataset_roots(args.casme2, args.samm, args.smic)
    if not roots:
        print(NO_DATASET, file=sys.stderr)
        return 2
    config = dataclasses.replace(Config(), protocol=args.protocol, bad_apex=args.bad_apex, smic_apex=args.smic_apex)
    report = {name: summarize(name, root, args, config) for name, root in roots.items()}
    if args.json:
        print(
            json.dumps(
                {
                    "protocol": config.protocol,
                    "bad_apex": config.bad_apex,
                    "smic_apex": config.smic_apex,
                    "datasets": report,
                },
                indent=2,
            )
        )
    else:
        print_text(config, report)
    failed = any("error" in entry or entry.get("damaged_frames") for entry in report.values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
