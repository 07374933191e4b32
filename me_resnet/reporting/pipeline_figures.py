"""Figures of the pipeline's intermediate steps: frames, face crops, flow maps, CBAM attention (notebooks 01, 02),
and the demo clips' ground truth (``me_resnet.data.demo_truth``) beside them.

Each function returns a matplotlib figure (not saved, not shown) so a notebook displays it inline.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

import cv2
import keras
import matplotlib.pyplot as plt
import numpy as np

from me_resnet.data.demo_truth import ClipTruth
from me_resnet.data.records import CLASS_NAMES, ClipRecord
from me_resnet.preprocessing import face, frames

Box = tuple[int, int, int, int]
REGION_COLOUR = "cyan"  # the outline of a known moving region, as on the Fig. 3 plot (reporting.plots.flow_plot)
EVENT_COLOURS = {"blink": "tab:orange", "head_move": "tab:green"}


def clip_frames_figure(records: Sequence[ClipRecord]) -> plt.Figure:
    """One row per clip: its onset, apex and offset frames and |apex − onset|, where the motion is."""
    fig, axes = plt.subplots(len(records), 4, figsize=(8, 2.13 * len(records)), squeeze=False)
    for row, record in zip(axes, records):
        path_of = dict(zip(record.frame_numbers, record.frame_paths))
        images = {name: frames.read_grey(path_of[getattr(record, name)]) for name in ("onset", "apex", "offset")}
        images["|apex - onset|"] = np.abs(images["apex"].astype(np.int16) - images["onset"])
        for ax, (name, image) in zip(row, images.items()):
            ax.imshow(image, cmap="magma" if name.startswith("|") else "gray")
            ax.set_title(f"{record.dataset} {CLASS_NAMES[record.label]}: {name}")
            ax.axis("off")
    fig.tight_layout()
    return fig


def face_crop_figure(records: Sequence[ClipRecord], cropper: face.FaceCropper, small_size: int) -> plt.Figure:
    """Top row: each clip's onset frame with the detector's box (yellow, MTCNN only), the square crop box (red)
    and the rotation that levels the eyes. Bottom row: the onset | apex crops (rotated, cropped, resized) at
    ``cropper.image_size`` and, drawn at the same size, at ``small_size``."""
    fig, axes = plt.subplots(2, len(records), figsize=(8 * len(records) / 3, 5.6), squeeze=False)
    for column, record in enumerate(records):
        path_of = dict(zip(record.frame_numbers, record.frame_paths))
        onset_rgb = frames.read_rgb(path_of[record.onset])
        detected = face.detect_face(onset_rgb) if cropper.detector == "mtcnn" else None  # (x, y, w, h)
        box, found = cropper.box(onset_rgb, record.key)  # square (x0, y0, x1, y1) and the eye-levelling angle
        ax = axes[0, column]
        ax.imshow(onset_rgb)
        if detected is not None:
            ax.add_patch(plt.Rectangle(detected[:2], detected[2], detected[3], fill=False, color="yellow"))
        x0, y0, x1, y1 = box[:4]  # the crop is taken after rotating by box.angle about its centre
        ax.add_patch(plt.Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, color="red"))
        ax.set_title(f"{record.key}: face found = {found}, rotated {box.angle:+.1f} deg")
        ax.axis("off")
        greys = [frames.read_grey(path_of[number]) for number in (record.onset, record.apex)]
        large = [cropper.crop(grey, box) for grey in greys]
        small = [face.crop(grey, box, small_size) for grey in greys]
        small = [cv2.resize(image, large[0].shape[::-1], interpolation=cv2.INTER_NEAREST) for image in small]
        axes[1, column].imshow(np.vstack([np.hstack(large), np.hstack(small)]), cmap="gray")
        axes[1, column].set_title(f"onset | apex; {cropper.image_size} px (top), {small_size} px (bottom)")
        axes[1, column].axis("off")
    fig.tight_layout()
    return fig


def image_grid(
    panels: Mapping[str, np.ndarray],
    columns: int,
    grey: Collection[str] = (),
    cmap: str = "magma",
    title: str | None = None,
    panel_size: float = 2.67,
    region: np.ndarray | None = None,
) -> plt.Figure:
    """``panels`` (title -> 2D image) on a grid of ``columns``; titles in ``grey`` drawn in grey levels.

    ``region`` (the panels' size, values in [0, 1], e.g. ``mask_scores.region_in_crop``): a known moving region,
    outlined on every panel.
    """
    rows = -(-len(panels) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(panel_size * columns, 2.8 * rows), squeeze=False)
    for ax in axes.ravel()[len(panels) :]:
        ax.axis("off")
    for ax, (name, image) in zip(axes.ravel(), panels.items()):
        ax.imshow(image, cmap="gray" if name in grey else cmap)
        if region is not None:
            _outline(ax, region)
        ax.set_title(name)
        ax.axis("off")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def flow_sequence_figure(clip: np.ndarray, channels: Sequence[str], title: str) -> plt.Figure:
    """A ``(T, H, W, C)`` feature clip: one row per channel, one column per flow field."""
    steps = len(clip)
    fig, axes = plt.subplots(len(channels), steps, figsize=(1.6 * steps, 5 * len(channels) / 3), squeeze=False)
    for channel, name in enumerate(channels):
        for step in range(steps):
            ax = axes[channel, step]
            ax.imshow(clip[step, ..., channel], cmap="magma" if name == "strain" else "coolwarm")
            ax.set_title(f"{name}, field {step + 1}")
            ax.axis("off")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def cbam_attention(model: keras.Model, layer_name: str, clip: np.ndarray) -> dict[str, np.ndarray]:
    """The channel and spatial attention maps of the CBAM layer ``layer_name`` for one input ``clip``."""
    layer = model.get_layer(layer_name)
    if not hasattr(layer, "attention_maps"):
        raise ValueError(f"layer {layer_name!r} of {model.name!r} is a {type(layer).__name__}, not a CBAM layer")
    layer_input = keras.Model(model.input, layer.input)(clip[None])
    return {name: keras.ops.convert_to_numpy(value)[0] for name, value in layer.attention_maps(layer_input).items()}


def attention_figure(face_crop: np.ndarray, maps: Mapping[str, Mapping[str, np.ndarray]], title: str) -> plt.Figure:
    """One row per entry of ``maps`` (e.g. before / after training): the spatial attention of each time step
    over ``face_crop`` (colours scaled per row) and a bar chart of the channel weights."""
    steps = next(iter(maps.values()))["spatial"].shape[0]
    fig, axes = plt.subplots(
        len(maps),
        steps + 1,
        figsize=(1.7 * (steps + 1), 1.9 * len(maps)),
        gridspec_kw={"width_ratios": [1] * steps + [2]},
        squeeze=False,
    )
    extent = (0, face_crop.shape[1], face_crop.shape[0], 0)
    for row, (name, attention) in enumerate(maps.items()):
        spatial = attention["spatial"][..., 0]
        for step in range(steps):
            ax = axes[row, step]
            ax.imshow(face_crop, cmap="gray")
            ax.imshow(
                spatial[step],
                cmap="jet",
                alpha=0.45,
                extent=extent,
                interpolation="bilinear",
                vmin=spatial.min(),
                vmax=spatial.max(),
            )
            ax.set_title(f"{name}, t = {step + 1}")
            ax.axis("off")
        axes[row, -1].bar(np.arange(len(attention["channel"])), attention["channel"])
        axes[row, -1].set_ylim(0, 1)
        axes[row, -1].set_title(f"channel weights a_c ({name})")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def _outline(ax: plt.Axes, region: np.ndarray) -> None:
    """The border of ``region`` (values in [0, 1], half or more counts as inside) on ``ax``; nothing if empty."""
    region = np.asarray(region, dtype=np.float32)
    if region.max() > 0.5:
        ax.contour(region, levels=[0.5], colors=REGION_COLOUR, linewidths=0.8)


def ground_truth_figure(records: Sequence[ClipRecord], truths: Sequence[ClipTruth]) -> plt.Figure:
    """One row per demo clip and its ground truth: the onset frame, the apex frame and |apex − onset| with the
    moving region outlined (cyan), |frame − onset| in the middle of the clip's first distractor (blink or head
    move; left empty without one; same colour scale as |apex − onset|), and the expression's intensity
    onset → offset with the apex marked (red) and the distractors shaded."""
    if len(records) != len(truths):
        raise ValueError(f"one ground truth per record needed, got {len(records)} records and {len(truths)} truths")
    fig, axes = plt.subplots(
        len(records),
        5,
        figsize=(10, 2.2 * len(records)),
        gridspec_kw={"width_ratios": [1, 1, 1, 1, 1.5]},
        squeeze=False,
    )
    for row, record, truth in zip(axes, records, truths):
        path_of = dict(zip(record.frame_numbers, record.frame_paths))
        onset = frames.read_grey(path_of[truth.onset]).astype(np.int16)
        apex = frames.read_grey(path_of[truth.apex])
        # (title, image, difference or frame, region outlined)
        panels = [
            (f"{record.subject}/{record.clip} {CLASS_NAMES[truth.label]}\nonset", onset, False, False),
            ("apex\nmoving region", apex, False, True),
            ("|apex - onset|", np.abs(apex - onset), True, True),
        ]
        if truth.events:
            event = truth.events[0]
            middle = (event.first + event.last) // 2
            distractor = np.abs(frames.read_grey(path_of[middle]) - onset)
            panels.append((f"|{event.kind} - onset|\nat frame {middle}", distractor, True, False))
        scale = max(float(np.percentile(image, 99.5)) for _, image, is_difference, _ in panels if is_difference)
        for ax, (title, image, is_difference, outlined) in zip(row, panels):
            ax.imshow(
                image, cmap="magma" if is_difference else "gray", vmin=0, vmax=(scale or 1) if is_difference else 255
            )
            if outlined:
                _outline(ax, truth.moving)
            ax.set_title(title)
        for ax in row[:4]:
            ax.axis("off")
        ax = row[4]
        ax.plot(np.arange(truth.onset, truth.offset + 1), truth.intensity, color="black")
        ax.axvline(truth.apex, color="red", linewidth=0.8)
        for event in truth.events:
            ax.axvspan(
                event.first, event.last, color=EVENT_COLOURS.get(event.kind, "grey"), alpha=0.3, label=event.kind
            )
        if truth.events:
            ax.legend(loc="upper right", fontsize=7)
        ax.set_ylim(0, 1.05)
        ax.set_xlabel("frame")
        ax.set_title(f"intensity; onset {truth.onset},\napex {truth.apex} (red), offset {truth.offset}")
    fig.tight_layout()
    return fig
