"""Class probabilities for one user clip, with the kit's own pre-processing.

``predict_clip(source, model, card, onset, apex, window)``:

1. onset and apex: given, or spotted (``spot_clip``: face box and eye landmarks
   from the first frame of the window, ``me_resnet.inference.spotting``, which also gives the
   offset and a confidence; a spotting where no episode stands out is a warning);
2. key frames onset -> apex (``frames.key_frame_indices``, N from the card's
   config; fewer distinct frames than N repeat the nearest ones, as in
   training, and the prediction records it);
3. the same pre-processing as training: ``features.compute_entry`` (face box on
   the onset frame, crop, Farneback) and ``features.features_from_entry``
   (continuity mask, channels, per-clip normalisation) on a ``ClipRecord`` of
   the clip (a video's key frames are first written as lossless PNG files);
4. standardised with the card's training statistics, then ``model.predict``;
   the prediction carries the card's notice on the data the model learnt
   (``model_card.data_notice``: synthetic demo data, for one).
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from me_resnet.data.records import CLASS_NAMES, ClipRecord
from me_resnet.inference.spotting import DEFAULT_FPS, SPOT_SIZE, Spotting, spot
from me_resnet.inference.video import FrameSource
from me_resnet.preprocessing import frames as frame_io
from me_resnet.preprocessing.face import CropEyes, FaceCropper, crop
from me_resnet.preprocessing.features import compute_entry, features_from_entry
from me_resnet.training.batches import standardise
from me_resnet.training.model_card import card_config, data_notice

log = logging.getLogger(__name__)

DISPLAY_SIZE = 128  # side of the apex face kept for the figure


@dataclass
class SpottedClip:
    """``spot_clip``'s result: the spotting on the window's frames, with their frame numbers."""

    spotting: Spotting
    numbers: tuple[int, ...]
    box: tuple[int, int, int, int]
    face_found: bool

    @property
    def onset(self) -> int:
        return self.numbers[self.spotting.onset]

    @property
    def apex(self) -> int:
        return self.numbers[self.spotting.apex]

    @property
    def offset(self) -> int:
        return self.numbers[self.spotting.offset]

    def to_dict(self) -> dict:
        return {
            "onset": self.onset,
            "apex": self.apex,
            "offset": self.offset,
            "frames": list(self.numbers),
            "face_box": list(self.box),
            "face_found": self.face_found,
            **{k: v for k, v in self.spotting.to_dict().items() if not k.endswith("_index")},
        }


@dataclass
class Prediction:
    """Probabilities for one clip and everything needed to explain them."""

    source: str
    probabilities: np.ndarray
    onset: int
    apex: int
    spotted: bool
    key_frames: tuple[int, ...]
    face_box: tuple[int, int, int, int]
    face_found: bool
    model_input: np.ndarray  # standardised, as the model saw it (no batch axis)
    entry: dict  # the cached-entry arrays: flows, grey_diffs, box (or image)
    apex_face: np.ndarray  # grey apex face crop, DISPLAY_SIZE square
    spotting: SpottedClip | None = None
    warnings: list[str] = field(default_factory=list)
    offset: int | None = None  # spotted offset; None when onset and apex were given
    notice: str | None = None  # what the model learnt, when a user must know it (model_card.data_notice)
    model_data: str = "unknown"  # the card's data kind

    @property
    def label(self) -> str:
        return CLASS_NAMES[int(np.argmax(self.probabilities))]

    def to_dict(self) -> dict:
        return {
            "input": self.source,
            "label": self.label,
            "probabilities": {name: float(p) for name, p in zip(CLASS_NAMES, self.probabilities)},
            "onset": self.onset,
            "apex": self.apex,
            "offset": self.offset,
            "onset_apex_source": "spotted" if self.spotted else "given",
            "model_data": self.model_data,
            "notice": self.notice,
            "key_frames": list(self.key_frames),
            "face_box": [int(v) for v in self.face_box],
            "face_found": self.face_found,
            "spotting": self.spotting.to_dict() if self.spotting is not None else None,
            "warnings": list(self.warnings),
        }


def _grey(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)


def crop_with_first_box(frames: Iterable[tuple[int, np.ndarray]], config, name: str | None = None) -> tuple:
    """``(numbers, crops, box, face_found, eyes)`` of ``(number, RGB frame)`` pairs: each frame grey, cropped to
    ``SPOT_SIZE`` with the face box of the first (``FaceCropper.box_with_eyes``; ``name`` names it in the
    no-face message), ``eyes`` its eye landmarks in crop fractions (None without landmarks)."""
    cropper = FaceCropper(config.face_detector, config.face_margin, SPOT_SIZE, config.face_align)
    numbers, crops, box, found, eyes = [], [], None, True, None
    for number, rgb in frames:
        if box is None:
            box, found, eyes = cropper.box_with_eyes(rgb, name="" if name is None else f"{name} frame {number}")
        numbers.append(number)
        crops.append(cropper.crop(_grey(rgb), box))
    return numbers, crops, box, found, eyes


def face_crops(
    source: FrameSource, config, first: int, last: int, progress: bool = True
) -> tuple[tuple[int, ...], np.ndarray, tuple[int, int, int, int], bool, CropEyes | None]:
    """``(numbers, crops, box, face_found, eyes)``: frames ``first..last`` cropped with the box of the first one.

    Crops are grey, ``SPOT_SIZE`` square; the box comes from the kit's ``FaceCropper``
    (``config.face_detector``; no face found -> the centre square, ``face_found`` False);
    ``eyes``: its eye landmarks in crop fractions (None without landmarks), for ``spot``.
    """
    if first > last:
        raise ValueError(f"window start {first} is after its end {last}")
    frames = source.frames(first, last, progress=progress)
    numbers, crops, box, found, eyes = crop_with_first_box(frames, config, name=str(source.path))
    if len(numbers) < 2:
        raise ValueError(
            f"{source.path}: spotting needs at least 2 frames in the window {first}..{last}, found {len(numbers)}"
        )
    return tuple(numbers), np.stack(crops), tuple(int(v) for v in box[:4]), bool(found), eyes


def spot_clip(
    source: FrameSource, config, window: tuple[int, int] | None = None, progress: bool = True, **spot_options
) -> SpottedClip:
    """Spot onset and apex in ``source`` (frames ``window[0]..window[1]`` if given); see ``spotting``.

    Without a face on the window's first frame the motion is measured on the centre square and the
    result's ``face_found`` is False (``predict_clip`` lists it in its warnings).
    """
    first, last = window if window is not None else (source.numbers[0], source.numbers[-1])
    numbers, crops, box, found, eyes = face_crops(source, config, first, last, progress)
    spot_options.setdefault("fps", source.fps or DEFAULT_FPS)  # frame folders: the datasets' rate
    spot_options.setdefault("eyes", eyes)
    return SpottedClip(spot(crops, **spot_options), numbers, box, found)


def _check_frames(source: FrameSource, onset: int, apex: int, num_key_frames: int) -> list[str]:
    """The warnings of a clip whose onset..apex holds fewer than ``num_key_frames`` frames (errors raise)."""
    known = set(source.numbers)
    for name, number in (("onset", onset), ("apex", apex)):
        if number not in known:
            raise ValueError(
                f"{name} frame {number} is not in {source.path} (frames {source.numbers[0]}..{source.numbers[-1]})"
            )
    if apex <= onset:
        raise ValueError(f"apex frame {apex} must come after onset frame {onset} in {source.path}")
    distinct = sum(1 for n in source.numbers if onset <= n <= apex)
    if distinct < num_key_frames:
        return [
            f"only {distinct} frames between onset {onset} and apex {apex} for {num_key_frames} key frames: "
            f"nearest frames repeated (as for such clips in training)"
        ]
    return []


def _record(source: FrameSource, onset: int, apex: int, numbers: np.ndarray, folder: Path) -> ClipRecord:
    """A ``ClipRecord`` of the clip, as the dataset loaders make them (a video's key frames written as PNG)."""
    if source.kind == "folder":
        frame_numbers, frame_paths = source.numbers, source.frame_paths
    else:
        frame_numbers = tuple(sorted(set(int(n) for n in numbers)))
        frame_paths = []
        for number, rgb in sorted(source.read(frame_numbers).items()):
            path = folder / f"frame{number:08d}.png"
            if not cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)):
                raise OSError(f"cannot write temporary frame {path}")
            frame_paths.append(str(path))
        frame_paths = tuple(frame_paths)
    return ClipRecord(
        dataset="input",
        subject="input",
        clip=source.name,
        frame_paths=frame_paths,
        frame_numbers=frame_numbers,
        onset=onset,
        apex=apex,
        offset=frame_numbers[-1],
        emotion="unknown",
        label=0,
    )


def predict_clip(
    source: FrameSource,
    model,
    card: dict,
    onset: int | None = None,
    apex: int | None = None,
    window: tuple[int, int] | None = None,
    progress: bool = True,
    motion_curve: bool = False,
) -> Prediction:
    """Probabilities of ``source`` under ``model`` (with its ``card``); see the module docstring.

    ``motion_curve`` computes the spotting curve even when onset and apex are
    given (for the figure); the given frames are used.
    """
    if (onset is None) != (apex is None):
        raise ValueError(f"give both onset and apex, or neither (spotted); got onset={onset}, apex={apex}")
    import keras

    config = card_config(card)
    kind = card["input"]["kind"]
    num_key_frames = int(card["input"]["num_key_frames"])
    if len(source) < num_key_frames:
        raise ValueError(
            f"{source.path} has {len(source)} frame(s); the model needs {num_key_frames} key frames onset->apex"
        )
    given = onset is not None
    spotted = None
    if not given or motion_curve:
        spotted = spot_clip(source, config, window, progress)
    if not given:
        onset, apex = spotted.onset, spotted.apex
        log.info("%s: spotted onset %d, apex %d", source.path, onset, apex)
    warnings = _check_frames(source, int(onset), int(apex), num_key_frames)
    if not given and not spotted.spotting.stands_out:
        warnings.append(spotted.spotting.message)
    if spotted is not None and not spotted.face_found:
        warnings.append(
            "no face found on the first frame of the spotting window: the motion was measured on the centre square"
        )
    numbers = frame_io.key_frame_indices(int(onset), int(apex), num_key_frames, source.numbers)
    with tempfile.TemporaryDirectory(prefix="me_resnet_predict_") as folder:
        record = _record(source, int(onset), int(apex), numbers, Path(folder))
        entry, _ = compute_entry(record, config, kind)
        apex_grey = frame_io.read_grey(dict(zip(record.frame_numbers, record.frame_paths))[int(numbers[-1])])
    box, found = tuple(int(v) for v in entry["box"]), bool(entry["face_found"])
    if not found:
        warnings.append("no face found on the onset frame: the centre square was cropped")
    features = features_from_entry(entry, config, kind)
    expected = tuple(card["input"]["shape"])
    if features.shape != expected:
        raise ValueError(f"pre-processing gave input {features.shape}, the model expects {expected}")
    mean = np.asarray(card["standardisation"]["mean"], np.float32)
    std = np.asarray(card["standardisation"]["std"], np.float32)
    model_input = standardise(features, mean, std)
    output = model(model_input[None], training=False)  # one clip: a direct call, no predict loop to trace
    probabilities = np.asarray(keras.ops.convert_to_numpy(output)[0], dtype=np.float64)
    return Prediction(
        source=str(source.path),
        probabilities=probabilities,
        onset=int(onset),
        apex=int(apex),
        spotted=not given,
        key_frames=tuple(int(n) for n in numbers),
        face_box=box,
        face_found=found,
        model_input=model_input,
        entry=entry,
        apex_face=crop(apex_grey, box, DISPLAY_SIZE),
        spotting=spotted,
        warnings=warnings,
        offset=None if given else spotted.offset,
        notice=data_notice(card),
        model_data=str(card.get("data", {}).get("kind", "unknown")),
    )
