"""Farneback (or TV-L1) flow, the improved-Farneback continuity mask and optical strain.

Paper §2.1.1-§2.1.3, eq. (5)-(9). All Farneback calls go
through ``farneback`` so tests can count them (``FARNEBACK_CALLS``) or patch it.
``config.flow_method="tvl1"`` computes the fields with OpenCV's Dual TV-L1
(``cv2.optflow``, from the opencv-contrib wheel) instead: the flow the STSTNet
and OFF-ApexNet authors fed their networks; ME-ResNet keeps Farneback, the
paper's method.

Pipeline of one clip (``flow_features``)::

    grey key frames I_1..I_N (uint8, face crops)
      -> F_i = farneback(I_i, I_{i+1})            N-1 fields (u, v)     [cached] (or tvl1)
         (``flow_resolution="native"``: on the crops at their own size, then
          ``resize_flow``: u, v, strain and magnitude resized to the model's size)
      -> P_i = |I_{i+1} - I_i|                    eq. (6)               [cached]
      -> channels (u, v, strain | magnitude) from the unmasked F_i
      -> mask Q_i = P_i > U, U = a * p            eq. (5), (7)-(9)      (flow_mode="improved")
         (or another reading of eq. (5), ``config.mask_reading``: ``mask_for_reading``)
      -> per-clip, per-channel z-score            (normalise="clip")
"""

from __future__ import annotations

import cv2
import numpy as np

from me_resnet.config import Config

FARNEBACK_CALLS = [0]
"""Number of Farneback calls made in this process (a one-item list so it can be reset)."""

FLOW_METHODS = ("farneback", "tvl1")
FLOW_MODES = ("improved", "vanilla")
MASK_READINGS = ("grey_difference", "flow_difference", "temporal", "spatial", "spatiotemporal", "regional")
"""Readings of eq. (5); ``mask_for_reading`` gives each, docs/interpretations.md compares them."""
CHANNEL_SETS = {"strain": ("u", "v", "strain"), "magnitude": ("u", "v", "magnitude")}
NORMALISE_MODES = ("clip", "none")


def farneback(prev: np.ndarray, next_: np.ndarray, config: Config) -> np.ndarray:
    """Dense flow (H, W, 2) float32 from ``prev`` to ``next_`` (uint8 grey).

    ``cv2.calcOpticalFlowFarneback(prev, next, None, 0.5, 3, 15, 3, 5, 1.2, 0)``
    with the parameters taken from ``config.farneback_*``.
    """
    if prev.shape != next_.shape or prev.ndim != 2:
        raise ValueError(f"farneback needs two grey frames of equal shape, got {prev.shape} and {next_.shape}")
    FARNEBACK_CALLS[0] += 1
    flow = cv2.calcOpticalFlowFarneback(
        prev,
        next_,
        None,
        config.farneback_pyr_scale,
        config.farneback_levels,
        config.farneback_winsize,
        config.farneback_iterations,
        config.farneback_poly_n,
        config.farneback_poly_sigma,
        0,
    )
    return flow.astype(np.float32, copy=False)


def tvl1(prev: np.ndarray, next_: np.ndarray) -> np.ndarray:
    """Dense Dual TV-L1 flow (H, W, 2) float32 from ``prev`` to ``next_`` (uint8 grey).

    ``cv2.optflow.DualTVL1OpticalFlow_create()`` with OpenCV's default
    parameters (Zach, Pock & Bischof 2007; Javier Sanchez et al. 2013), the
    flow STSTNet and OFF-ApexNet were published on.
    """
    if prev.shape != next_.shape or prev.ndim != 2:
        raise ValueError(f"tvl1 needs two grey frames of equal shape, got {prev.shape} and {next_.shape}")
    if not hasattr(cv2, "optflow"):
        raise RuntimeError(
            "flow_method='tvl1' needs OpenCV's contrib build (cv2.optflow): "
            "pip uninstall opencv-python-headless && pip install opencv-contrib-python-headless"
        )
    flow = cv2.optflow.DualTVL1OpticalFlow_create().calc(prev, next_, None)
    return flow.astype(np.float32, copy=False)


def pair_flow(prev: np.ndarray, next_: np.ndarray, config: Config) -> np.ndarray:
    """Flow of one frame pair with ``config.flow_method`` ("farneback" or "tvl1")."""
    if config.flow_method not in FLOW_METHODS:
        raise ValueError(f"flow_method must be one of {FLOW_METHODS}, got {config.flow_method!r}")
    return farneback(prev, next_, config) if config.flow_method == "farneback" else tvl1(prev, next_)


def sequence_flow(frames: np.ndarray, config: Config) -> np.ndarray:
    """(N-1, H, W, 2) flow (``config.flow_method``) between consecutive frames of a (N, H, W) uint8 stack."""
    return np.stack([pair_flow(frames[i], frames[i + 1], config) for i in range(len(frames) - 1)])


def grey_differences(frames: np.ndarray) -> np.ndarray:
    """P_i = |I_{i+1} - I_i| per pixel, eq. (6): (N-1, H, W), uint8 for uint8 frames."""
    frames = np.asarray(frames)
    difference = np.abs(np.diff(frames.astype(np.int16), axis=0))
    return difference.astype(np.uint8) if frames.dtype == np.uint8 else difference


def flow_differences(flows: np.ndarray) -> np.ndarray:
    """D_i = | |F_i| - |F_{i-1}| | with D_0 = |F_0|: (N-1, H, W) float32.

    The ``mask_reading="flow_difference"`` reading of eq. (5), which writes the
    difference on the target (flow) image I_m of frames t and t-1 rather than
    on the grey frames. The first field has no predecessor, so its own
    magnitude stands in (motion from rest).

    This is a reading of its own, not eq. (6)-(8): under it the threshold
    ``U = a * mean(D)`` is computed from these flow differences too (one scale
    for the quantity compared and its threshold), whereas eq. (6)-(8) define
    p from the grey-level differences P_i. Comparing a flow difference (pixels
    per frame) with a grey-level threshold (intensity levels) would mix units.
    """
    magnitude = np.hypot(flows[..., 0], flows[..., 1])
    previous = np.concatenate([np.zeros_like(magnitude[:1]), magnitude[:-1]])
    return np.abs(magnitude - previous).astype(np.float32)


def adaptive_threshold(differences: np.ndarray, scale_factor: float) -> float:
    """U = a * p with p = sum_i S_i / ((N-1) K), S_i = sum_xy P_i: eq. (7)-(9).

    That is ``a`` times the mean of every per-pixel difference of the clip.
    """
    if scale_factor < 0:
        raise ValueError(f"scale_factor a must be >= 0, got {scale_factor}")
    return float(scale_factor) * float(np.mean(differences, dtype=np.float64))


def continuity_mask(differences: np.ndarray, scale_factor: float) -> np.ndarray:
    """Q_i(x, y) = P_i(x, y) > U (boolean, same shape), eq. (5) with U from eq. (9)."""
    return differences > adaptive_threshold(differences, scale_factor)


def optical_strain(flow: np.ndarray) -> np.ndarray:
    """sqrt(u_x^2 + v_y^2 + 0.5 (u_y + v_x)^2) of (..., H, W, 2) flow -> (..., H, W).

    Derivatives are central differences (``numpy.gradient``, one-sided at the
    border), x along columns and y along rows, in pixels per pixel.
    """
    return _strain(flow[..., 0], flow[..., 1])


def _strain(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    u_y, u_x = np.gradient(u, axis=(-2, -1))
    v_y, v_x = np.gradient(v, axis=(-2, -1))
    shear = u_y + v_x
    return np.sqrt(u_x * u_x + v_y * v_y + 0.5 * shear * shear).astype(np.float32, copy=False)


def flow_channels(flows: np.ndarray, channels: str = "strain") -> np.ndarray:
    """(..., H, W, 2) flow -> (..., H, W, 3): (u, v, strain) or (u, v, magnitude)."""
    if channels not in CHANNEL_SETS:
        raise ValueError(f"channels must be one of {sorted(CHANNEL_SETS)}, got {channels!r}")
    third = optical_strain(flows) if channels == "strain" else np.hypot(flows[..., 0], flows[..., 1])
    return np.concatenate([flows, third[..., None].astype(np.float32)], axis=-1)


def normalise(x: np.ndarray, mode: str = "clip") -> np.ndarray:
    """Per-clip, per-channel z-score over all axes but the last (the kit's ``normalise="clip"``).

    A channel with zero variance (e.g. all-zero flow of a still clip) is only
    centred, never divided by zero. ``mode="none"`` returns ``x`` unchanged.
    """
    if mode not in NORMALISE_MODES:
        raise ValueError(f"normalise must be one of {NORMALISE_MODES}, got {mode!r}")
    if mode == "none":
        return x.astype(np.float32, copy=False)
    # statistics on a channel-first copy: reducing over the leading axes of a
    # channels-last array is ~10x slower in numpy
    per_channel = np.ascontiguousarray(np.moveaxis(x, -1, 0).reshape(x.shape[-1], -1), dtype=np.float32)
    mean = per_channel.mean(axis=1, dtype=np.float64)
    per_channel -= mean[:, None].astype(np.float32)
    std = np.sqrt(np.einsum("ij,ij->i", per_channel, per_channel, dtype=np.float64) / per_channel.shape[1])
    scale = np.where(std > 1e-12, 1.0 / np.maximum(std, 1e-12), 1.0).astype(np.float32)
    centred = np.subtract(x, mean.astype(np.float32), dtype=np.float32)
    centred *= scale
    return centred


def temporally_continuous(above: np.ndarray) -> np.ndarray:
    """Positions of a (steps, H, W) test that also pass it at an adjacent step (i - 1 or i + 1).

    §2.1.2's "去除运动轨迹不连贯的噪声" (remove the noise whose motion trajectory is not
    continuous): a change seen at one step only has no trajectory. A clip of one
    step has no adjacent step to confirm anything, so its own test stands.
    """
    if above.ndim != 3:
        raise ValueError(f"the continuity test needs (steps, H, W) values, got shape {above.shape}")
    if len(above) < 2:
        return above.copy()
    adjacent = np.zeros_like(above)
    adjacent[1:] |= above[:-1]
    adjacent[:-1] |= above[1:]
    return above & adjacent


def smoothed_differences(differences: np.ndarray, sigma: float) -> np.ndarray:
    """Each step's P_i blurred by a Gaussian of ``sigma`` pixels (float32, borders reflected).

    A pixel then passes eq. (5) only where its neighbourhood changed on average:
    coherent motion of a face region, not one pixel's sensor noise.
    """
    if sigma <= 0:
        raise ValueError(f"the smoothing sigma must be > 0 pixels, got {sigma}")
    return np.stack(
        [
            cv2.GaussianBlur(step.astype(np.float32), (0, 0), sigmaX=sigma, borderType=cv2.BORDER_REFLECT)
            for step in differences
        ]
    )


def regional_threshold(differences: np.ndarray, scale_factor: float, regions: int) -> np.ndarray:
    """(H, W) map of U = a * p with p of eq. (8) taken per block of a ``regions`` x ``regions`` grid.

    Each block's mean runs over every step and the block's pixels (rows and
    columns split as evenly as ``numpy.array_split`` does).
    """
    if scale_factor < 0:
        raise ValueError(f"scale_factor a must be >= 0, got {scale_factor}")
    height, width = differences.shape[-2:]
    if not 1 <= regions <= min(height, width):
        raise ValueError(f"mask_regions must lie in [1, {min(height, width)}] for {height}x{width} maps, got {regions}")
    threshold = np.empty((height, width), np.float64)
    for rows in np.array_split(np.arange(height), regions):
        for columns in np.array_split(np.arange(width), regions):
            block = differences[:, rows[0] : rows[-1] + 1, columns[0] : columns[-1] + 1]
            threshold[rows[0] : rows[-1] + 1, columns[0] : columns[-1] + 1] = scale_factor * np.mean(
                block, dtype=np.float64
            )
    return threshold


def mask_for_reading(
    flows: np.ndarray,
    grey_diffs: np.ndarray,
    reading: str,
    scale_factor: float,
    sigma: float = 1.0,
    regions: int = 4,
) -> np.ndarray:
    """The continuity mask Q ((N-1, H, W) bool) of eq. (5) under ``reading``, U = a * p of eq. (7)-(9).

    - ``grey_difference``: Q_i = P_i > U, per pixel and step (eq. (5) as printed,
      with the text's grey-level difference);
    - ``flow_difference``: ``flow_differences(flows)`` > a * their mean (eq. (5) on the flow image I_m);
    - ``temporal``: P_i > U at step i and at step i - 1 or i + 1 (``temporally_continuous``);
    - ``spatial``: G_sigma * P_i > U, the difference blurred over ``sigma`` pixels first
      (``smoothed_differences``); U from the unblurred P_i as eq. (8) defines it;
    - ``spatiotemporal``: ``spatial`` and then ``temporal``;
    - ``regional``: P_i > U(x, y), U per block of a ``regions`` x ``regions`` grid (``regional_threshold``).
    """
    if reading not in MASK_READINGS:
        raise ValueError(f"mask_reading must be one of {MASK_READINGS}, got {reading!r}")
    if grey_diffs.shape != flows.shape[:-1]:
        raise ValueError(f"grey differences of shape {grey_diffs.shape} do not match the flow's {flows.shape}")
    if reading == "flow_difference":
        return continuity_mask(flow_differences(flows), scale_factor)
    if reading == "regional":
        return grey_diffs > regional_threshold(grey_diffs, scale_factor, regions)
    threshold = adaptive_threshold(grey_diffs, scale_factor)
    compared = smoothed_differences(grey_diffs, sigma) if reading in ("spatial", "spatiotemporal") else grey_diffs
    above = compared > threshold
    return temporally_continuous(above) if reading in ("temporal", "spatiotemporal") else above


def motion_mask(flows: np.ndarray, grey_diffs: np.ndarray, config: Config) -> np.ndarray | None:
    """The continuity mask for ``config`` ((N-1, H, W) bool), or None for vanilla flow.

    ``config.mask_sigma`` is a share of the crop's side, converted to pixels of the flow's grid here.
    """
    if config.flow_mode not in FLOW_MODES:
        raise ValueError(f"flow_mode must be one of {FLOW_MODES}, got {config.flow_mode!r}")
    if config.mask_reading not in MASK_READINGS:
        raise ValueError(f"mask_reading must be one of {MASK_READINGS}, got {config.mask_reading!r}")
    if config.flow_mode == "vanilla":
        return None
    return mask_for_reading(
        flows,
        grey_diffs,
        config.mask_reading,
        config.scale_factor,
        sigma=config.mask_sigma * grey_diffs.shape[-1],
        regions=config.mask_regions,
    )


def resize_flow(flows: np.ndarray, size: int) -> dict[str, np.ndarray]:
    """(T, h, h, 2) flow of crops at their own size -> ``{"flows", "strain", "magnitude"}`` at size x size.

    Strain and magnitude are computed at the crop's own size, where sub-pixel
    motion is resolved, then every map is resized (area averaging when
    shrinking). u, v and the magnitude are multiplied by ``size / h``, so they
    are displacements in the resized grid's pixels, the unit of flow computed
    on resized crops; strain, a ratio of displacements to distances, is unchanged.
    """
    if flows.ndim != 4 or flows.shape[-1] != 2:
        raise ValueError(f"resize_flow needs (T, H, W, 2) flow, got shape {flows.shape}")
    ratio = np.float32(size / flows.shape[-2])
    interpolation = cv2.INTER_AREA if flows.shape[-2] > size else cv2.INTER_LINEAR

    def resized(maps: np.ndarray) -> np.ndarray:
        return np.stack([cv2.resize(m, (size, size), interpolation=interpolation) for m in maps]).astype(np.float32)

    return {
        "flows": resized(np.ascontiguousarray(flows, dtype=np.float32)) * ratio,
        "strain": resized(optical_strain(flows)),
        "magnitude": resized(np.hypot(flows[..., 0], flows[..., 1]).astype(np.float32)) * ratio,
    }


def flow_features(
    flows: np.ndarray, grey_diffs: np.ndarray, config: Config, third: np.ndarray | None = None
) -> np.ndarray:
    """Model input (N-1, H, W, 3) float32 from cached unmasked flow and P_i.

    Equal to ``normalise(flow_channels(flows) * mask, config.normalise)``, built
    channel by channel on contiguous arrays (this runs for every clip at every
    load). Strain (or magnitude) is computed on the unmasked flow and the mask
    then zeroes all three channels: masking first would put artificial strain
    ridges on every mask border. ``third``: the strain or magnitude maps
    already computed (``resize_flow``), used instead of deriving them from ``flows``.
    """
    if config.channels not in CHANNEL_SETS:
        raise ValueError(f"channels must be one of {sorted(CHANNEL_SETS)}, got {config.channels!r}")
    if config.normalise not in NORMALISE_MODES:
        raise ValueError(f"normalise must be one of {NORMALISE_MODES}, got {config.normalise!r}")
    u = np.ascontiguousarray(flows[..., 0], dtype=np.float32)
    v = np.ascontiguousarray(flows[..., 1], dtype=np.float32)
    if third is None:
        third = _strain(u, v) if config.channels == "strain" else np.hypot(u, v)
    elif third.shape != u.shape:
        raise ValueError(f"third channel of shape {third.shape} does not match the flow's {u.shape}")
    mask = motion_mask(flows, grey_diffs, config)
    out = np.empty(u.shape + (3,), dtype=np.float32)
    for index, channel in enumerate((u, v, third)):
        if mask is not None:
            channel = channel * mask
        if config.normalise == "clip":
            mean = channel.mean(dtype=np.float64)
            centred = channel - np.float32(mean)
            std = np.sqrt(np.vdot(centred, centred) / centred.size)
            channel = centred * np.float32(1.0 / std if std > 1e-12 else 1.0)
        out[..., index] = channel
    return out


def energy_removed(flows: np.ndarray, mask: np.ndarray | None) -> float:
    """Fraction of the flow energy sum |F|^2 that the mask sets to zero."""
    if mask is None:
        return 0.0
    energy = np.sum(flows.astype(np.float64) ** 2, axis=-1)
    total = float(energy.sum())
    return float(energy[~mask].sum() / total) if total > 0 else 0.0
