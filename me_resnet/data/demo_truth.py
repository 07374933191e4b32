"""Ground truth of the demo clips: where the expression moved the face, when, and what else moved.

The demo generator (``me_resnet.data.demo``) writes, beside the datasets, a
``ground_truth/`` folder in the demo data dir (never in git):

- ``ground_truth/clips.csv``: one row per clip folder it wrote (``truth_table``):
  ``dataset, subject, clip`` as on disk (the ``ClipRecord``'s, e.g. ``sub02``,
  ``006``, ``s1`` / ``s1_ne_01``), ``folder`` (the frame folder, relative to the
  demo data dir), ``label``, the true ``onset, apex, offset`` frame numbers,
  ``sheet_apex`` (what the coding sheet says; differs on the quirk rows, empty
  for SMIC), ``action_units`` (FACS-style code), ``sides``, ``amplitude_px``,
  ``peak_px``, ``ambiguous``, ``events`` (JSON list of ``[kind, first, last]``
  frame numbers), ``listed`` (False for the folder without a sheet row) and
  ``file`` (the clip's arrays, relative to ``ground_truth/``).
- ``ground_truth/<dataset>/<subject>/<clip>.npz`` with ``displacement``, the
  expression's displacement field at its apex, (H, W, 2) float32 pixels (dx, dy)
  at frame resolution, head motion and distractors excluded; ``moving``, (H, W)
  bool, the pixels the expression moved: ``|displacement| >= MOVING_FRACTION``
  times its largest value over the frame (all False for a clip without motion);
  ``intensity``, the share of the apex displacement shown by each frame
  onset..offset (0 at rest, 1 at the apex).

Frame numbers are those of the files (``img<N>.jpg``, ...). The arrays are at
the frames' own size: map them through the kit's face crop
(``me_resnet.preprocessing.face.FaceCropper.crop``, e.g. ``moving`` as a uint8
image) with a clip's cached box to compare them with the flow of the crop.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

TRUTH_DIR = "ground_truth"
TABLE = "clips.csv"
MOVING_FRACTION = 0.2
EVENT_KINDS = ("blink", "head_move")


@dataclass(frozen=True)
class TruthEvent:
    """A distractor: ``kind`` ("blink" or "head_move") from frame number ``first`` to ``last``."""

    kind: str
    first: int
    last: int


@dataclass(frozen=True)
class ClipTruth:
    """The ground truth of one demo clip (module docstring)."""

    dataset: str
    subject: str
    clip: str
    label: int
    onset: int
    apex: int
    offset: int
    moving: np.ndarray
    displacement: np.ndarray
    intensity: np.ndarray
    events: tuple[TruthEvent, ...]
    action_units: str
    ambiguous: bool


def moving_mask(displacement: np.ndarray, fraction: float = MOVING_FRACTION) -> np.ndarray:
    """Pixels whose displacement magnitude reaches ``fraction`` of the largest one (all False if none moves)."""
    if displacement.ndim != 3 or displacement.shape[-1] != 2:
        raise ValueError(f"displacement must have shape (H, W, 2), got {displacement.shape}")
    magnitude = np.hypot(displacement[..., 0], displacement[..., 1])
    peak = float(magnitude.max()) if magnitude.size else 0.0
    return magnitude >= fraction * peak if peak > 0 else np.zeros(magnitude.shape, bool)


def clip_file(dataset: str, subject: str, clip: str) -> str:
    return f"{dataset}/{subject}/{clip}.npz"


def save_clip_arrays(truth_root: Path, dataset: str, subject: str, clip: str, displacement, intensity) -> str:
    """Write one clip's arrays (``moving`` derived from ``displacement``); return the file relative to the root."""
    relative = clip_file(dataset, subject, clip)
    path = Path(truth_root) / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    displacement = np.asarray(displacement, dtype=np.float32)
    arrays = {
        "displacement": displacement,
        "moving": moving_mask(displacement),
        "intensity": np.asarray(intensity, dtype=np.float32),
    }
    # an .npz as numpy.savez_compressed writes it, but with fast compression and fixed member dates
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for name, array in arrays.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, array, allow_pickle=False)
            archive.writestr(
                zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0)),
                buffer.getvalue(),
                compress_type=zipfile.ZIP_DEFLATED,
                compresslevel=1,
            )
    return relative


def write_clip_truth(out: Path, dataset: str, subject: str, clip: str, folder: Path, label: int, draws, field, **extra):
    """Write one clip's arrays under ``out/ground_truth``; return its row of the truth table.

    ``draws`` is the clip's ``demo_sampling.ClipDraws``, ``field`` its expression's apex displacement;
    ``extra`` sets ``sheet_apex`` / ``listed``.
    """
    from me_resnet.data.demo_motion import expression_intensity

    expression, onset = draws.expression, draws.onset
    intensity = expression_intensity(expression, draws.num_frames)
    file = save_clip_arrays(Path(out) / TRUTH_DIR, dataset, subject, clip, field, intensity)
    events = [[event.kind, onset + event.start, onset + event.end] for event in draws.events]
    row = {
        "dataset": dataset,
        "subject": subject,
        "clip": clip,
        "folder": Path(folder).relative_to(out).as_posix(),
        "label": int(label),
        "onset": onset,
        "apex": onset + expression.apex,
        "offset": onset + draws.num_frames - 1,
        "sheet_apex": "",
        "action_units": expression.coding(),
        "sides": "{:.2f}/{:.2f}".format(*expression.sides),
        "amplitude_px": round(expression.amplitude, 4),
        "peak_px": round(float(np.hypot(field[..., 0], field[..., 1]).max()), 4),
        "ambiguous": expression.ambiguous,
        "events": json.dumps(events),
        "listed": True,
        "file": file,
    }
    return row | extra


def truth_table(demo_root: str | Path) -> pd.DataFrame:
    """Every clip's row of ``ground_truth/clips.csv`` (subjects and clips as text)."""
    path = Path(demo_root).expanduser() / TRUTH_DIR / TABLE
    if not path.is_file():
        raise FileNotFoundError(f"no demo ground truth at {path}; generate the demo data (me_resnet.data.demo)")
    return pd.read_csv(path, dtype={"subject": str, "clip": str, "sheet_apex": str}, keep_default_na=False)


def load_ground_truth(demo_root: str | Path, dataset: str, subject: str, clip: str) -> ClipTruth:
    """The ground truth of one clip; ``subject``/``clip`` as on disk (``ClipRecord.subject``/``.clip``)."""
    table = truth_table(demo_root)
    rows = table[(table["dataset"] == dataset) & (table["subject"] == str(subject)) & (table["clip"] == str(clip))]
    if len(rows) != 1:
        known = table[table["dataset"] == dataset][["subject", "clip"]].head(5).values.tolist()
        raise KeyError(f"no demo ground truth for {dataset}/{subject}/{clip} (e.g. {known})")
    row = rows.iloc[0]
    with np.load(Path(demo_root).expanduser() / TRUTH_DIR / row.file) as arrays:
        moving, displacement, intensity = arrays["moving"], arrays["displacement"], arrays["intensity"]
    return ClipTruth(
        dataset=dataset,
        subject=str(subject),
        clip=str(clip),
        label=int(row.label),
        onset=int(row.onset),
        apex=int(row.apex),
        offset=int(row.offset),
        moving=moving,
        displacement=displacement,
        intensity=intensity,
        events=tuple(TruthEvent(kind, int(first), int(last)) for kind, first, last in json.loads(row.events)),
        action_units=str(row.action_units),
        ambiguous=bool(row.ambiguous),
    )


def truth_for_record(demo_root: str | Path, record) -> ClipTruth:
    """The ground truth of a demo ``ClipRecord``."""
    return load_ground_truth(demo_root, record.dataset, record.subject, record.clip)
