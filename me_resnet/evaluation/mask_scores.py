"""Fig. 3's claim as a number: how much of a clip's flow the continuity mask keeps where the face moved.

Paper §2.1.3, Fig. 3: the improved Farneback flow "很好地降低了面部其他无关噪声点的影响,准确地提取了微表情产生时
面部关键区域光流运动特征" (reduces the noise points elsewhere on the face and extracts the flow of the key
facial regions). On clips whose moving region is known (the demo's ground truth,
``me_resnet.data.demo_truth``) that is measurable. Per clip and setting
(vanilla, or one ``mask_reading`` at one scale factor a), from the cached
unmasked flow F_i and grey differences P_i (``flow_stats.cached_flows``):

- ``energy_share``: share of the kept flow energy sum_i (u_i^2 + v_i^2) that lies
  inside the moving region;
- ``strain_share``: the same for the optical strain (computed on the unmasked
  flow, then masked: the model's third channel, Fig. 3's maps);
- ``motion_kept``: share of the vanilla flow energy inside the moving region
  that the mask keeps (a mask keeping one pixel of the region would score a
  share of 1 and keep nothing of the motion);
- ``kept``, ``speckle``, ``removed``: as ``me_resnet.preprocessing.flow_stats``
  defines them (kept positions, isolated kept positions, flow energy removed);
- ``chance``: the share of the crop's area the moving region covers, the
  ``energy_share`` of flow spread evenly over the face.

The moving region comes at frame resolution and is mapped through the clip's
own face crop (its cached box and rotation), as an area share per flow pixel.
The claim holds where the share rises from vanilla to improved.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from me_resnet.config import Config
from me_resnet.data import demo_truth
from me_resnet.data.records import ClipRecord
from me_resnet.preprocessing import flow, flow_stats
from me_resnet.preprocessing.face import FaceBox
from me_resnet.preprocessing.face import crop as crop_face

SCORES = ("energy_share", "strain_share", "motion_kept", "kept", "speckle", "removed")
VANILLA = "vanilla"


def entry_box(entry: dict) -> FaceBox:
    """The crop box and rotation a cache entry was made with (rotation 0 if the entry does not hold it)."""
    x0, y0, x1, y1 = (int(value) for value in entry["box"])
    return FaceBox(x0, y0, x1, y1, float(entry["angle"]) if "angle" in entry else 0.0)


def region_in_crop(region: np.ndarray, box: tuple, size: int) -> np.ndarray:
    """A frame-sized boolean ``region`` seen through the face crop: (size, size) float32 area share in [0, 1].

    ``box`` is ``(x0, y0, x1, y1)`` or a ``FaceBox`` (rotation included), as
    ``me_resnet.preprocessing.face.crop`` takes it.
    """
    region = np.asarray(region)
    if region.ndim != 2:
        raise ValueError(f"region must be a 2-D (H, W) mask at frame resolution, got shape {region.shape}")
    image = np.where(region, np.uint8(255), np.uint8(0))
    return crop_face(image, box, size).astype(np.float32) / 255.0


def share_inside(weights: np.ndarray, region: np.ndarray) -> float:
    """sum(weights * region) / sum(weights) over steps and pixels; NaN when the weights sum to 0.

    ``weights`` is (steps, H, W) or (H, W); ``region`` (H, W) in [0, 1].
    """
    weights = np.asarray(weights, dtype=np.float64)
    if weights.shape[-2:] != region.shape:
        raise ValueError(f"weights of shape {weights.shape} do not match the region's {region.shape}")
    total = float(weights.sum())
    return float((weights * region).sum() / total) if total > 0 else float("nan")


def setting_scores(
    flows: np.ndarray,
    strain: np.ndarray,
    mask: np.ndarray | None,
    region: np.ndarray,
) -> dict[str, float]:
    """The ``SCORES`` of one clip's flow (steps, H, W, 2) and strain under ``mask`` (None: vanilla)."""
    energy = np.sum(flows.astype(np.float64) ** 2, axis=-1)
    kept = np.ones(energy.shape, bool) if mask is None else mask
    inside = float((energy * region).sum())
    return {
        "energy_share": share_inside(energy * kept, region),
        "strain_share": share_inside(strain * kept, region),
        "motion_kept": float((energy * kept * region).sum() / inside) if inside > 0 else float("nan"),
        "kept": float(kept.mean()),
        "speckle": flow_stats.speckle(kept),
        "removed": flow.energy_removed(flows, mask),
    }


def clip_scores(
    entry: dict,
    moving: np.ndarray,
    config: Config,
    readings: Sequence[str],
    scale_factors: Sequence[float],
) -> list[dict]:
    """Rows of one clip: vanilla, then each reading at each a (``config`` gives N, size, sigma, regions).

    ``entry`` is the clip's ``sequence`` cache entry, ``moving`` its frame-sized moving region.
    """
    flows, grey_diffs = entry["flows"], entry["grey_diffs"]
    region = region_in_crop(moving, entry_box(entry), flows.shape[-2])
    strain = entry["strain"] if "strain" in entry else flow.optical_strain(flows)
    chance = float(region.mean())
    settings = [(VANILLA, float("nan"))] + [(reading, float(a)) for reading in readings for a in scale_factors]
    rows = []
    for reading, scale_factor in settings:
        mask = None
        if reading != VANILLA:
            setting = dataclasses.replace(config, flow_mode="improved", mask_reading=reading, scale_factor=scale_factor)
            mask = flow.motion_mask(flows, grey_diffs, setting)
        scores = setting_scores(flows, strain, mask, region)
        rows.append({"reading": reading, "scale_factor": scale_factor, "chance": chance} | scores)
    return rows


def score_clips(
    records: Sequence[ClipRecord],
    demo_root: str | os.PathLike,
    config: Config,
    readings: Sequence[str] = flow.MASK_READINGS,
    scale_factors: Sequence[float] = (0.8,),
    cache_dir: str | os.PathLike | None = None,
    workers: int = 1,
) -> pd.DataFrame:
    """One row per demo clip and setting (``clip_scores``), with ``dataset``, ``subject``, ``clip``.

    Clips without motion or whose moving region lies outside the face crop are
    left out (a share of nothing is not a score).
    """
    if not records:
        raise ValueError("score_clips needs at least one ClipRecord, got none")
    entries = flow_stats.cached_flows(records, config, cache_dir, workers)
    rows = []
    for record, entry in zip(records, entries):
        moving = demo_truth.truth_for_record(Path(demo_root), record).moving
        if not moving.any():
            continue
        clip_rows = clip_scores(entry, moving, config, readings, scale_factors)
        if clip_rows[0]["chance"] <= 0:
            continue
        key = {"dataset": record.dataset, "subject": record.subject, "clip": record.clip}
        rows += [key | row for row in clip_rows]
    return pd.DataFrame(rows)


def summarise(table: pd.DataFrame) -> pd.DataFrame:
    """Per (reading, a): median, 10th and 90th percentile over clips of every score and the chance level,
    and, paired per clip against vanilla, the median gain of the two shares and the share of clips it is > 0."""
    if table.empty:
        raise ValueError("summarise needs at least one scored clip")
    vanilla = table[table.reading == VANILLA].set_index(["dataset", "subject", "clip"])
    rows = []
    for (reading, scale_factor), part in table.groupby(["reading", "scale_factor"], dropna=False, sort=False):
        row = {"reading": reading, "scale_factor": scale_factor, "clips": len(part)}
        for score in ("chance", *SCORES):
            values = part[score].dropna()
            spread = flow_stats.summary(values) if len(values) else dict.fromkeys(("median", "p10", "p90"), np.nan)
            row |= {f"{score}_{name}": value for name, value in spread.items()}
        indexed = part.set_index(["dataset", "subject", "clip"])
        for score in ("energy_share", "strain_share"):
            gain = (indexed[score] - vanilla.loc[indexed.index, score]).dropna()
            row[f"{score}_gain_median"] = float(gain.median())
            row[f"{score}_gain_positive"] = float((gain > 0).mean())
        rows.append(row)
    return pd.DataFrame(rows)


def figure_scores(
    record: ClipRecord, demo_root: str | os.PathLike, config: Config, cache_dir: str | os.PathLike | None = None
) -> tuple[dict, np.ndarray]:
    """Fig. 3's clip scored: ``({"chance", "vanilla", "improved", ...}, region in the crop)``.

    ``improved`` is ``config``'s reading at its a; the region (size x size, area
    share) is for drawing on the figure.
    """
    entry = flow_stats.cached_flows([record], config, cache_dir)[0]
    moving = demo_truth.truth_for_record(Path(demo_root), record).moving
    region = region_in_crop(moving, entry_box(entry), entry["flows"].shape[-2])
    vanilla, improved = clip_scores(entry, moving, config, [config.mask_reading], [config.scale_factor])
    scores = {
        "mask_reading": config.mask_reading,
        "scale_factor": config.scale_factor,
        "chance": vanilla["chance"],
        "vanilla": {name: vanilla[name] for name in SCORES},
        "improved": {name: improved[name] for name in SCORES},
    }
    return scores, region


def summary_records(summary: pd.DataFrame) -> list[dict]:
    """``summarise``'s table as JSON-ready rows (NaN as None)."""
    return [
        {key: (None if isinstance(value, float) and np.isnan(value) else value) for key, value in row.items()}
        for row in summary.to_dict(orient="records")
    ]


def over_clips(
    records: Sequence[ClipRecord],
    demo_root: str | os.PathLike,
    config: Config,
    cache_dir: str | os.PathLike | None = None,
    workers: int = 1,
) -> dict:
    """Every reading at ``config``'s a, and vanilla, summarised over the demo ``records`` (``summarise``)."""
    table = score_clips(records, demo_root, config, flow.MASK_READINGS, [config.scale_factor], cache_dir, workers)
    return {
        "clips": int(table[["dataset", "subject", "clip"]].drop_duplicates().shape[0]),
        "scale_factor": config.scale_factor,
        "settings": summary_records(summarise(table)),
    }
