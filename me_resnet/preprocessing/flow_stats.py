"""What a clip's key-frame flow looks like: the statistics that compare synthetic with real clips.

Every statistic reads one clip's cached pre-processing (``features.extract_features``
with ``kind="sequence"``): the N-1 unmasked Farneback fields ``flows``
(N-1, H, W, 2) between consecutive key frames and the grey differences
``grey_diffs`` P_i (N-1, H, W) of paper eq. (6). The continuity mask is the
per-pixel grey-difference reading of eq. (5)-(9), ``flow.continuity_mask(P, a)``,
whatever ``config.mask_reading`` says: these numbers describe the data, not a
setting. Nothing is normalised.

Per clip (``clip_statistics``):

- ``flow_mean``: mean over steps and pixels of the flow magnitude |F_i| (pixels
  per key-frame step);
- ``top10``: share of the step-summed flow energy E(x) = sum_i (u_i^2 + v_i^2)
  held by the 10 % of pixels with the largest E (0.1 for uniform motion, near 1
  for motion on a few pixels);
- ``drift``: mean over steps of |(median u_i, median v_i)| over the crop: the
  global (head) motion per step;
- ``kept``: share of (step, pixel) positions the mask keeps;
- ``speckle``: share of kept positions with fewer than 2 kept 4-neighbours in
  their own step (outside the crop counts as not kept);
- ``removed``: share of the flow energy sum |F_i|^2 the mask sets to zero.

``probe_features`` is the input of the learnability probe
(``me_resnet.evaluation.flow_probe``): the step-summed (u, v, |F|) average-pooled
to a 14 x 14 grid.
"""

from __future__ import annotations

import os
from typing import Sequence

import numpy as np

from me_resnet.config import Config
from me_resnet.data.records import ClipRecord
from me_resnet.preprocessing import cache as feature_cache
from me_resnet.preprocessing import flow, frames
from me_resnet.utils import paths

STATISTICS = ("flow_mean", "top10", "drift", "kept", "speckle", "removed")
MASK_SCALE_FACTOR = 0.8  # a of eq. (9) at which the mask statistics are read
TOP_FRACTION = 0.1
PROBE_GRID = 14


def _check_flows(flows: np.ndarray) -> None:
    if flows.ndim != 4 or flows.shape[-1] != 2:
        raise ValueError(f"flows must have shape (steps, H, W, 2), got {flows.shape}")


def flow_mean(flows: np.ndarray) -> float:
    """Mean of |F_i| over steps and pixels."""
    _check_flows(flows)
    return float(np.mean(np.hypot(flows[..., 0], flows[..., 1]), dtype=np.float64))


def top_share(flows: np.ndarray, fraction: float = TOP_FRACTION) -> float:
    """Share of sum_x E(x), E(x) = sum_i |F_i(x)|^2, held by the ``fraction`` of pixels with the largest E."""
    _check_flows(flows)
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must lie in (0, 1], got {fraction}")
    energy = np.sum(flows.astype(np.float64) ** 2, axis=(0, -1)).ravel()
    total = energy.sum()
    if total <= 0:
        return 0.0
    count = max(1, int(round(fraction * energy.size)))
    return float(np.sort(energy)[-count:].sum() / total)


def drift(flows: np.ndarray) -> float:
    """Mean over steps of the magnitude of the per-step median flow vector (median u, median v)."""
    _check_flows(flows)
    medians = np.median(flows.reshape(len(flows), -1, 2), axis=1)
    return float(np.mean(np.hypot(medians[:, 0], medians[:, 1])))


def isolated(mask: np.ndarray) -> np.ndarray:
    """Kept positions of a (steps, H, W) mask with fewer than 2 kept 4-neighbours in their step."""
    if mask.ndim != 3:
        raise ValueError(f"mask must have shape (steps, H, W), got {mask.shape}")
    padded = np.pad(mask.astype(np.int8), ((0, 0), (1, 1), (1, 1)))
    neighbours = padded[:, :-2, 1:-1] + padded[:, 2:, 1:-1] + padded[:, 1:-1, :-2] + padded[:, 1:-1, 2:]
    return mask & (neighbours < 2)


def speckle(mask: np.ndarray) -> float:
    """Share of the kept positions that are isolated (``isolated``); 0 when nothing is kept."""
    kept = int(mask.sum())
    return float(isolated(mask).sum() / kept) if kept else 0.0


def clip_statistics(
    flows: np.ndarray, grey_diffs: np.ndarray, scale_factor: float = MASK_SCALE_FACTOR
) -> dict[str, float]:
    """The six statistics of one clip (module docstring), mask at a = ``scale_factor``."""
    _check_flows(flows)
    if grey_diffs.shape != flows.shape[:-1]:
        raise ValueError(f"grey_diffs shape {grey_diffs.shape} does not match flows {flows.shape}")
    mask = flow.continuity_mask(grey_diffs, scale_factor)
    return {
        "flow_mean": flow_mean(flows),
        "top10": top_share(flows),
        "drift": drift(flows),
        "kept": float(mask.mean()),
        "speckle": speckle(mask),
        "removed": flow.energy_removed(flows, mask),
    }


def probe_features(flows: np.ndarray, grid: int = PROBE_GRID) -> np.ndarray:
    """Step-summed (u, v, |F|) average-pooled to ``grid`` x ``grid``, flattened: (grid * grid * 3,)."""
    _check_flows(flows)
    height, width = flows.shape[1:3]
    if height % grid or width % grid:
        raise ValueError(f"flow size {height}x{width} is not a multiple of the probe grid {grid}")
    summed = np.concatenate(
        [flows.sum(axis=0), np.hypot(flows[..., 0], flows[..., 1]).sum(axis=0)[..., None]], axis=-1
    ).astype(np.float64)
    pooled = summed.reshape(grid, height // grid, grid, width // grid, 3).mean(axis=(1, 3))
    return pooled.ravel().astype(np.float32)


def summary(values: Sequence[float]) -> dict[str, float]:
    """Median and 10th / 90th percentiles of per-clip values."""
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        raise ValueError("summary needs at least one value")
    p10, median, p90 = np.percentile(values, [10, 50, 90])
    return {"median": float(median), "p10": float(p10), "p90": float(p90)}


def cached_flows(
    records: Sequence[ClipRecord], config: Config, cache_dir: str | os.PathLike | None = None, workers: int = 1
) -> list[dict[str, np.ndarray]]:
    """The ``sequence`` cache entries (``flows``, ``grey_diffs``, ``box``, ...) of ``records``.

    ``features.extract_features`` computes whatever is missing; the entries are
    then read back from the cache where it stored them.
    """
    from me_resnet.preprocessing.features import expected_shapes, extract_features

    extract_features(records, config, "sequence", cache_dir, workers, progress=False)
    root = paths.feature_cache_dir(cache_dir)
    settings = feature_cache.settings_for_kind(config, "sequence")
    shapes = expected_shapes(config, "sequence")
    entries = []
    for record in records:
        key = frames.key_frames(record, config.num_frames)
        signatures = [frames.file_signature(path) for path in dict.fromkeys(key.paths)]
        path = feature_cache.entry_path(root, "sequence", settings, record.key, signatures)
        entry, state = feature_cache.load_entry(path, shapes)
        if entry is None:
            raise RuntimeError(f"feature cache entry of {record.key} is {state} right after extraction: {path}")
        entries.append(entry)
    return entries
