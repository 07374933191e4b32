"""One figure that shows why the model said what it said about a clip.

Four panels: the spotting curves with the onset, apex and offset marked (when
they were computed; ``me_resnet.inference.spotting``), the apex face, the improved-Farneback flow onset -> apex (the
continuity-masked fields of the key frames summed, colour = direction,
brightness = magnitude), and the spatial attention of the model's last CBAM
layer (``me_resnet.models.cbam.CBAM``; the last stage, averaged over time)
upsampled over the face. Models without CBAM get a note in that panel. The
title names the clip and, in red, the notice of a model that learnt synthetic
data (``Prediction.notice``).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from me_resnet.inference.predict import Prediction
from me_resnet.models.cbam import CBAM
from me_resnet.preprocessing import flow
from me_resnet.training.model_card import card_config


def last_cbam_attention(model, model_input: np.ndarray) -> np.ndarray | None:
    """Spatial attention (h, w) of the last CBAM layer for one input, averaged over time; None without CBAM."""
    import keras

    cbams = [layer for layer in model.layers if isinstance(layer, CBAM)]
    if not cbams:
        return None
    layer = cbams[-1]
    features = keras.Model(model.input, layer.input)(model_input[None], training=False)
    spatial = np.asarray(keras.ops.convert_to_numpy(layer.attention_maps(features)["spatial"]), dtype=np.float64)
    spatial = spatial[0, ..., 0]
    return spatial.mean(axis=0) if spatial.ndim == 3 else spatial


def improved_flow(entry: dict, config) -> np.ndarray | None:
    """(H, W, 2) continuity-masked Farneback flow of the key frames, summed (None for the apex image input)."""
    if "flows" not in entry:
        return None
    flows = entry["flows"].astype(np.float32)
    mask = flow.motion_mask(flows, entry["grey_diffs"], config)
    if mask is not None:
        flows = flows * mask[..., None]
    return flows.sum(axis=0)


def flow_colours(field: np.ndarray) -> np.ndarray:
    """RGB picture of a flow field: hue = direction, value = magnitude (scaled to its 99th percentile)."""
    magnitude, angle = cv2.cartToPolar(field[..., 0].astype(np.float32), field[..., 1].astype(np.float32))
    top = float(np.percentile(magnitude, 99)) or 1.0
    hsv = np.zeros(field.shape[:2] + (3,), dtype=np.uint8)
    hsv[..., 0] = (angle * 90 / np.pi).astype(np.uint8)
    hsv[..., 1] = 255
    hsv[..., 2] = np.clip(magnitude / top * 255, 0, 255).astype(np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)


def clip_name(source: str | Path) -> str:
    """The clip's name for a title: a video's file name, a folder's last two parts (``EP02_07/frames``)."""
    path = Path(source)
    return f"{path.parent.name}/{path.name}" if path.is_dir() and path.parent.name else path.name


def explain_figure(prediction: Prediction, model, card: dict, path: str | Path) -> Path:
    """Write the four-panel PNG for ``prediction`` to ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    config = card_config(card)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure, axes = plt.subplots(1, 4, figsize=(17, 4.2), gridspec_kw={"width_ratios": [1.8, 1, 1, 1]})
    probabilities = ", ".join(f"{name} {p:.2f}" for name, p in prediction.to_dict()["probabilities"].items())
    title = f"{clip_name(prediction.source)}: {prediction.label}  ({probabilities})"
    figure.suptitle(title, fontsize=11, y=0.99 if prediction.notice else 0.98)
    if prediction.notice:
        figure.text(0.5, 0.915, f"NOTICE: {prediction.notice}", ha="center", color="C3", fontsize=10, weight="bold")

    curve_axis = axes[0]
    if prediction.spotting is not None:
        spotted, spotting = prediction.spotting, prediction.spotting.spotting
        numbers = np.asarray(spotted.numbers)
        curve_axis.plot(numbers, spotting.profile, color="0.65", lw=1, label="displacement along the apex pattern")
        curve_axis.plot(numbers, spotting.score, color="C0", lw=1.6, label="expression score")
        curve_axis.axhline(spotting.threshold, color="0.5", ls=":", lw=1, label="score to stand out")
        curve_axis.axvspan(spotted.onset, spotted.offset, color="C2", alpha=0.08)
        curve_axis.axvline(spotted.offset, color="C2", lw=1, ls="--", label=f"offset {spotted.offset} (spotted)")
        curve_axis.set_xlabel("frame")
        curve_axis.set_ylabel("px (face crop)")
        verdict = "an episode stands out" if spotting.stands_out else "no episode stands out"
        curve_axis.set_title(f"spotting: {verdict} (confidence {spotting.confidence:.1f})", fontsize=10)
    else:
        curve_axis.text(0.5, 0.5, "onset and apex given:\nno motion curve computed", ha="center", va="center")
        curve_axis.set_xticks([])
        curve_axis.set_yticks([])
    source = "spotted" if prediction.spotted else "given"
    curve_axis.axvline(prediction.onset, color="C2", lw=1.5, label=f"onset {prediction.onset} ({source})")
    curve_axis.axvline(prediction.apex, color="C3", lw=1.5, label=f"apex {prediction.apex} ({source})")
    curve_axis.legend(fontsize=7, loc="upper right")

    axes[1].imshow(prediction.apex_face, cmap="gray")
    axes[1].set_title(f"apex face (frame {prediction.apex})" + ("" if prediction.face_found else ", no face found"))

    field = improved_flow(prediction.entry, config)
    if field is not None:
        axes[2].imshow(flow_colours(field))
        axes[2].set_title(f"{config.flow_mode} Farneback flow\nonset->apex")
    else:
        axes[2].text(0.5, 0.5, "this model takes the apex image,\nnot flow", ha="center", va="center")
        axes[2].set_title("flow")

    attention = last_cbam_attention(model, prediction.model_input)
    axes[3].imshow(prediction.apex_face, cmap="gray")
    if attention is not None and attention.size == 1:
        axes[3].set_title(f"last CBAM: a 1x1 map ({attention.item():.3f})\nno spatial detail at this input size")
    elif attention is not None:
        size = prediction.apex_face.shape[:2][::-1]
        heat = cv2.resize(attention.astype(np.float32), size, interpolation=cv2.INTER_LINEAR)
        shown = axes[3].imshow(heat, cmap="jet", alpha=0.45)
        figure.colorbar(shown, ax=axes[3], fraction=0.046, pad=0.04)
        axes[3].set_title(f"last CBAM spatial attention ({attention.shape[0]}x{attention.shape[1]})")
    else:
        axes[3].set_title(f"{config.model} has no CBAM layer")
    for axis in axes[1:]:
        axis.set_xticks([])
        axis.set_yticks([])
    figure.tight_layout(rect=(0, 0, 1, 0.9 if prediction.notice else 0.95))
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
