"""``me-resnet fig3``: Fig. 2/3, apex face and original vs improved Farneback (strain and magnitude) of one clip.

    me-resnet fig3 --demo [--clip casme2/sub19/EP02_01f]
    me-resnet fig3 --casme2 DIR --clip casme2/sub19/EP02_01f

One clip is cheap to pre-process, so even with --demo the figure uses the paper's
N and face size unless --num_frames / --image_size are given.
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
    parser = common.make_parser(prog, __doc__.splitlines()[0].split(": ", 1)[1], seeds=False)
    parser.add_argument(
        "--clip", help=f"DATASET/SUBJECT/CLIP (default {PAPER_CLIPS[0]} if present, else the first clip)"
    )
    ctx = common.parse(parser, ARTIFACT, argv)
    from me_resnet.cli import loso
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
    stem = out / output_stem(record, ctx.demo)
    title = (
        f"{'SYNTHETIC demo clip ' if ctx.demo else ''}{record.key} (N={config.num_frames}, a={config.scale_factor}): "
        f"mask removes {100 * result['energy_removed']:.1f}% of flow energy"
    )
    figure = plots.flow_plot(result["maps"], Path(f"{stem}.png"), title=title, demo=ctx.demo)
    summary = {
        "clip": record.key,
        "synthetic": bool(ctx.demo),  # a generated face under a real clip id, not the paper's sample
        "data": ctx.data_note(),
        "energy_removed": result["energy_removed"],
        "pixels_kept": result["pixels_kept"],
        "config": config.to_dict(),
        "provenance": provenance(),
    }
    path = write_json(Path(f"{stem}.json"), summary, sort_keys=True)
    common.report({"figure": figure, "summary": path})
    return 0
