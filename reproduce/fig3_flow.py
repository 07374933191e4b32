"""Fig. 2/3: apex face, original vs improved Farneback (strain and magnitude maps) for one clip.

    python reproduce/fig3_flow.py --demo [--clip casme2/sub19/EP02_01f]
    python reproduce/fig3_flow.py --casme2 DIR --clip casme2/sub19/EP02_01f

One clip is cheap to pre-process, so even with --demo the figure uses the paper's
N and face size unless --num_frames / --image_size are given.
"""

import dataclasses
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from me_resnet.cli import common as cli
from me_resnet.evaluation import experiment
from me_resnet.preprocessing.features import flow_maps
from me_resnet.utils import provenance

PAPER_CLIPS = ("casme2/sub19/EP02_01f", "casme2/sub19/EP02_01")  # the paper's Fig. 3 surprise sample
PANELS = (
    ("apex", "apex face crop", "gray"),
    ("vanilla_strain", "Farneback strain", "inferno"),
    ("improved_strain", "improved Farneback strain", "inferno"),
    ("vanilla_magnitude", "Farneback |flow|", "inferno"),
    ("improved_magnitude", "improved Farneback |flow|", "inferno"),
)


def pick_clip(loaded: dict, wanted: str | None):
    records = {record.key: record for result in loaded.values() for record in result.records}
    if wanted and wanted not in records:
        raise SystemExit(f"clip {wanted!r} not found; e.g. {sorted(records)[:5]}")
    for key in (wanted, *PAPER_CLIPS):
        if key in records:
            return records[key]
    return next(iter(records.values()))


def main(argv=None):
    parser = cli.make_parser(__doc__.splitlines()[0], seeds=False)
    parser.add_argument(
        "--clip", help=f"DATASET/SUBJECT/CLIP (default {PAPER_CLIPS[0]} if present, else the first clip)"
    )
    ctx = cli.parse(parser, "fig3_flow", argv)
    paper = {"num_frames": 11, "image_size": 112}
    config = dataclasses.replace(ctx.config, **{key: value for key, value in paper.items() if key not in ctx.explicit})
    record = pick_clip(experiment.load_records(ctx), ctx.args.clip)
    result = flow_maps(record, config, ctx.args.cache_dir)
    figure, axes = plt.subplots(1, len(PANELS), figsize=(3 * len(PANELS), 3.4))
    for axis, (name, title, cmap) in zip(axes, PANELS):
        pair = name.replace("improved", "vanilla")  # same colour scale for vanilla and improved
        axis.imshow(result["maps"][name], cmap=cmap, vmin=0, vmax=result["maps"][pair].max() or 1)
        axis.set_title(title, fontsize=9)
        axis.axis("off")
    figure.suptitle(
        f"{record.key} (N={config.num_frames}, a={config.scale_factor}): "
        f"mask removes {100 * result['energy_removed']:.1f}% of flow energy",
        fontsize=10,
    )
    figure.tight_layout()
    stem = ctx.out / f"fig3_flow_{record.key.replace('/', '_')}"
    figure.savefig(f"{stem}.png", dpi=120)
    summary = {
        "clip": record.key,
        "energy_removed": result["energy_removed"],
        "pixels_kept": result["pixels_kept"],
        "config": config.to_dict(),
        "provenance": provenance.provenance(),
    }
    Path(f"{stem}.json").write_text(json.dumps(summary, indent=2, sort_keys=True, default=str) + "\n")
    experiment.report({"figure": Path(f"{stem}.png"), "summary": Path(f"{stem}.json")})


if __name__ == "__main__":
    main()
