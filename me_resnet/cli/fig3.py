"""``me-resnet fig3``: Fig. 2/3, apex face and original vs improved Farneback (strain and magnitude) of one clip.

    me-resnet fig3 --demo [--clip casme2/sub19/EP02_01f]
    me-resnet fig3 --casme2 DIR --clip casme2/sub19/EP02_01f

One clip is cheap to pre-process, so even with --demo the figure uses the paper's
N and face size unless --num_frames / --image_size are given. On the demo data, whose
moving regions are known, the summary also scores Fig. 3's claim: the share of the flow
energy and strain inside the moving region, vanilla vs improved (me_resnet/evaluation/mask_scores.py);
--all-clips scores every demo clip under every mask reading.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from me_resnet.cli import common

ARTIFACT = "fig3_flow"
PAPER_CLIPS = ("casme2/sub19/EP02_01f", "casme2/sub19/EP02_01")  # the paper's Fig. 3 surprise sample
PAPER_SETTINGS = {"num_frames": 11, "image_size": 112}


def pick_clip(loaded: dict, wanted: str | None):
    """The record named ``wanted``, else the paper's Fig. 3 clip if present, else the first clip."""
    records = {record.key: record for result in loaded.values() for record in result.records}
    if wanted and wanted not in records:
        raise ValueError(f"clip {wanted!r} not found; e.g. {sorted(records)[:5]}")
    for key in (wanted, *PAPER_CLIPS):
        if key in records:
            return records[key]
    if not records:
        raise ValueError("no clip loaded")
    return next(iter(records.values()))


def output_stem(record, demo: bool) -> str:
    """File name stem of the figure and its summary. A demo clip borrows a real clip's id (the paper's Fig. 3
    sample among them), so its files say DEMO: ``fig3_flow_DEMO_casme2_sub19_EP02_01``."""
    return f"fig3_flow_{'DEMO_' if demo else ''}{record.key.replace('/', '_')}"


def main(argv=None, prog: str = "me-resnet fig3") -> int:
    parser = common.make_parser(prog, __doc__.splitlines()[0].split(": ", 1)[1])
    common.add_feature_options(parser)
    parser.add_argument(
        "--clip", help=f"DATASET/SUBJECT/CLIP (default {PAPER_CLIPS[0]} if present, else the first clip)"
    )
    parser.add_argument(
        "--all-clips", action="store_true", help="with --demo: also score every clip under every mask reading"
    )
    ctx = common.parse(parser, ARTIFACT, argv)
    if ctx.args.all_clips and not ctx.demo:
        parser.error("--all-clips needs --demo: only the demo clips come with their moving regions")
    from me_resnet.cli import loso
    from me_resnet.evaluation import mask_scores
    from me_resnet.preprocessing.features import flow_maps
    from me_resnet.reporting import plots
    from me_resnet.reporting.outputs import write_json
    from me_resnet.utils.provenance import provenance

    config = dataclasses.replace(
        ctx.config, **{key: value for key, value in PAPER_SETTINGS.items() if key not in ctx.explicit}
    )
    loaded = loso.load(ctx)
    with common.expected_errors(ctx.prog):
        record = pick_clip(loaded, ctx.args.clip)
        out = ctx.out
        out.mkdir(parents=True, exist_ok=True)
    result = flow_maps(record, config, ctx.args.cache_dir)
    scores, region = None, None
    if ctx.demo:  # the demo root holds the ground truth beside the datasets
        demo_root = ctx.roots[record.dataset].parent
        scores, region = mask_scores.figure_scores(record, demo_root, config, ctx.args.cache_dir)
    stem = out / output_stem(record, ctx.demo)
    title = (
        f"{'SYNTHETIC demo clip ' if ctx.demo else ''}{record.key} (N={config.num_frames}, a={config.scale_factor}): "
        f"mask removes {100 * result['energy_removed']:.1f}% of flow energy"
    )
    figure = plots.flow_plot(result["maps"], Path(f"{stem}.png"), title=title, demo=ctx.demo, region=region)
    summary = {
        "clip": record.key,
        "synthetic": bool(ctx.demo),  # a generated face under a real clip id, not the paper's sample
        "data": ctx.data_note(),
        "energy_removed": result["energy_removed"],
        "pixels_kept": result["pixels_kept"],
        "config": config.to_dict(),
        "provenance": provenance(),
    }
    if scores is not None:
        summary["moving_region"] = scores
        print(
            f"moving region {100 * scores['chance']:.1f}% of the crop; flow energy inside it: "
            f"{100 * scores['vanilla']['energy_share']:.1f}% vanilla, {100 * scores['improved']['energy_share']:.1f}% "
            f"improved ({config.mask_reading}, a={config.scale_factor})"
        )
    if ctx.args.all_clips:
        records = [clip for dataset in loaded.values() for clip in dataset.records]
        summary["over_clips"] = mask_scores.over_clips(
            records, demo_root, config, ctx.args.cache_dir, ctx.args.workers or 1
        )
        print(over_clips_table(summary["over_clips"]))
    path = write_json(Path(f"{stem}.json"), summary, sort_keys=True)
    common.report({"figure": figure, "summary": path})
    return 0


def over_clips_table(over: dict) -> str:
    """The --all-clips scores as lines a terminal shows: medians over clips, one row per reading."""
    chance = over["settings"][0]["chance_median"]
    rows = [
        f"over {over['clips']} clips (a={over['scale_factor']}), medians: share of the flow energy / strain inside "
        f"the moving region (chance: its {100 * chance:.1f}% of the crop); kept and isolated (speckle) share of "
        "the pixels; clips where the energy share rose over vanilla",
        f"  {'reading':<16} {'energy':>7} {'strain':>7} {'kept':>6} {'speckle':>8} {'rose':>6}",
    ]
    for row in over["settings"]:
        rose = "" if row["reading"] == "vanilla" else f"{100 * row['energy_share_gain_positive']:.0f}%"
        rows.append(
            f"  {row['reading']:<16} {100 * row['energy_share_median']:6.1f}% {100 * row['strain_share_median']:6.1f}% "
            f"{100 * row['kept_median']:5.0f}% {100 * row['speckle_median']:7.0f}% {rose:>6}"
        )
    return "\n".join(rows)
