"""2D -> 3D weight inflation by layer name (paper §3.2.1 pretraining on Fer2013; docs/interpretations.md).

I3D-style (Carreira & Zisserman, CVPR 2017; SlowFast's ``inflate_weight``): a
2D kernel ``(kh, kw, cin, cout)`` becomes ``(kt, kh, kw, cin, cout)`` by
repeating it ``kt`` times along time and dividing by ``kt``, so a video of
identical frames ("boring video") gives the 2D response at every temporally
interior position. Same-shape weights (BatchNorm, CBAM's MLP, biases) are
copied; CBAM's 7x7 spatial-attention kernel is inflated like any conv kernel.
The classifier head (``predictions``) is always replaced.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

logger = logging.getLogger(__name__)

HEAD_LAYERS = ("predictions",)


def inflate_conv_kernel(kernel_2d: np.ndarray, temporal_size: int) -> np.ndarray:
    """``(kh, kw, cin, cout)`` -> ``(kt, kh, kw, cin, cout)``, repeated over time and divided by kt."""
    kernel_2d = np.asarray(kernel_2d)
    if kernel_2d.ndim != 4:
        raise ValueError(f"expected a 2D conv kernel (kh, kw, cin, cout), got shape {kernel_2d.shape}")
    if int(temporal_size) < 1:
        raise ValueError(f"temporal_size must be >= 1, got {temporal_size!r}")
    return np.repeat(kernel_2d[np.newaxis], temporal_size, axis=0) / temporal_size


@dataclass
class InflationReport:
    """What happened to every weighted layer of the 3D model (and unused 2D layers)."""

    inflated: list[str] = field(default_factory=list)  # at least one kernel inflated 2D -> 3D
    copied: list[str] = field(default_factory=list)  # all weights copied unchanged
    skipped: dict[str, str] = field(default_factory=dict)  # layer -> reason (head, absent in 2D, ...)
    mismatched: list[str] = field(default_factory=list)  # "layer: reason" for incompatible shapes
    unused_source: list[str] = field(default_factory=list)  # weighted 2D layers with no 3D counterpart

    def summary(self) -> str:
        return (
            f"{len(self.inflated)} inflated, {len(self.copied)} copied, {len(self.skipped)} skipped, "
            f"{len(self.mismatched)} mismatched, {len(self.unused_source)} 2D layers unused"
        )

    def to_dict(self) -> dict:
        return {
            "inflated": list(self.inflated),
            "copied": list(self.copied),
            "skipped": dict(self.skipped),
            "mismatched": list(self.mismatched),
            "unused_source": list(self.unused_source),
        }


def _transfer(source_values, target_weights):
    """New values for ``target_weights`` and whether any was inflated; ValueError on misfit."""
    if len(source_values) != len(target_weights):
        raise ValueError(f"{len(source_values)} weights in 2D, {len(target_weights)} in 3D")
    new_values, inflated = [], False
    for value, target in zip(source_values, target_weights):
        target_shape = tuple(target.shape)
        if value.shape == target_shape:
            new_values.append(value)
        elif value.ndim == 4 and len(target_shape) == 5 and target_shape[1:] == value.shape:
            new_values.append(inflate_conv_kernel(value, target_shape[0]))
            inflated = True
        else:
            raise ValueError(f"weight {target.path}: 2D shape {value.shape} does not fit 3D shape {target_shape}")
    return new_values, inflated


def inflate_weights(model_2d, model_3d, log: logging.Logger = logger, head_layers=HEAD_LAYERS) -> InflationReport:
    """Fill ``model_3d``'s weights from ``model_2d`` layer by layer, matched by name.

    Conv kernels are inflated (``inflate_conv_kernel``), equal shapes copied,
    ``head_layers`` and layers absent from ``model_2d`` skipped. Layers whose
    weights do not fit are left untouched and listed in ``mismatched``. Every
    decision is logged at INFO (mismatches at WARNING) and returned.
    """
    report = InflationReport()
    source_layers = {layer.name: layer for layer in model_2d.layers if layer.weights}
    for layer in model_3d.layers:
        if not layer.weights:
            continue
        name = layer.name
        if name in head_layers:
            report.skipped[name] = "classifier head (replaced)"
        elif name not in source_layers:
            report.skipped[name] = "not in the 2D model (kept its initialisation)"
        else:
            try:
                values, inflated = _transfer(
                    [np.asarray(w.numpy()) for w in source_layers[name].weights], layer.weights
                )
            except ValueError as error:
                report.mismatched.append(f"{name}: {error}")
                log.warning("inflation: %s mismatched: %s", name, error)
                continue
            for weight, value in zip(layer.weights, values):
                weight.assign(value.astype(weight.dtype))
            (report.inflated if inflated else report.copied).append(name)
            log.info("inflation: %s %s", name, "inflated" if inflated else "copied")
            continue
        log.info("inflation: %s skipped (%s)", name, report.skipped[name])
    target_names = {layer.name for layer in model_3d.layers}
    report.unused_source = [name for name in source_layers if name not in target_names]
    for name in report.unused_source:
        log.info("inflation: 2D layer %s has no counterpart in %s", name, model_3d.name)
    log.info("inflation %s -> %s: %s", model_2d.name, model_3d.name, report.summary())
    return report
