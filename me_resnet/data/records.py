"""The two data types every stage shares.

- ``ClipRecord``: one micro-expression sample, the same for every dataset
  (what the loaders in ``me_resnet.data.loading`` return).
- ``Features``: the arrays a model trains on (what ``me_resnet.preprocessing.features``
  returns and ``me_resnet.evaluation.loso.run_loso`` takes).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

CLASS_NAMES: tuple[str, ...] = ("negative", "positive", "surprise")
"""3-class labels as in the MEGC 2019 list: 0 negative, 1 positive, 2 surprise."""

DATASETS: tuple[str, ...] = ("casme2", "smic", "samm")

FALLBACK_KINDS: tuple[str, ...] = ("face_not_found", "repeated_frames", "loader_repaired")
"""``face_not_found``: MTCNN found no face on the onset frame, the centre square was cropped;
``repeated_frames``: fewer than N distinct frames onset -> apex, nearest frames repeated;
``loader_repaired``: the loader repaired the clip's annotation (a bad apex, ``ClipRecord.problems``)."""


@dataclass(frozen=True)
class ClipRecord:
    """One clip, dataset-blind.

    ``frame_paths[i]`` is the image of frame number ``frame_numbers[i]``; both run
    from onset to offset in order. ``label`` is the 3-class id (``CLASS_NAMES``).
    ``problems`` lists what the loader repaired for this clip (e.g. a bad apex).
    """

    dataset: str
    subject: str  # as on disk: "sub01", "006", "s1"
    clip: str  # as on disk: "EP02_01f", "006_1_2", "s1_ne_01"
    frame_paths: tuple[str, ...]
    frame_numbers: tuple[int, ...]
    onset: int
    apex: int
    offset: int
    emotion: str  # the dataset's own label ("happiness", "Anger", "negative", ...)
    label: int
    problems: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """Unique id across datasets: ``dataset/subject/clip``."""
        return f"{self.dataset}/{self.subject}/{self.clip}"

    @property
    def group(self) -> str:
        """LOSO group: subjects are unique only within a dataset."""
        return f"{self.dataset}/{self.subject}"


@dataclass
class Features:
    """Model inputs for a set of clips, row-aligned.

    ``X`` is (clips, T, H, W, C) for sequence methods or (clips, H, W, C) for
    single-image / single-flow methods; ``channels`` names the last axis
    (e.g. ``("u", "v", "strain")``) so augmentation knows which signs to flip.
    ``fallbacks`` maps a kind of pre-processing fallback (``FALLBACK_KINDS``) to
    the ``dataset/subject/clip`` keys it hit, so results can say how many clips
    were not processed as the paper describes.
    """

    X: np.ndarray
    y: np.ndarray
    subjects: np.ndarray
    datasets: np.ndarray
    clips: np.ndarray
    channels: tuple[str, ...]
    info: dict = field(default_factory=dict)  # e.g. config hash, cache hits, timings
    fallbacks: dict[str, list[str]] = field(default_factory=dict)

    def __post_init__(self):
        n = len(self.X)
        for name in ("y", "subjects", "datasets", "clips"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"Features.{name} has {len(getattr(self, name))} rows, X has {n}")
        if self.X.shape[-1] != len(self.channels):
            raise ValueError(f"Features.X has {self.X.shape[-1]} channels, names given: {self.channels}")

    def __len__(self) -> int:
        return len(self.X)

    @property
    def groups(self) -> np.ndarray:
        """LOSO groups: ``dataset/subject``."""
        return np.array([f"{d}/{s}" for d, s in zip(self.datasets, self.subjects)])

    def subset(self, index) -> "Features":
        index = np.asarray(index)
        part = Features(
            X=self.X[index],
            y=self.y[index],
            subjects=self.subjects[index],
            datasets=self.datasets[index],
            clips=self.clips[index],
            channels=self.channels,
            info=dict(self.info),
        )
        if self.fallbacks:
            kept = set(part.keys.tolist())
            part.fallbacks = {kind: [key for key in keys if key in kept] for kind, keys in self.fallbacks.items()}
        return part

    @property
    def keys(self) -> np.ndarray:
        """``dataset/subject/clip`` per row."""
        return np.array([f"{d}/{s}/{c}" for d, s, c in zip(self.datasets, self.subjects, self.clips)])

    @staticmethod
    def concatenate(parts: "list[Features]") -> "Features":
        if not parts:
            raise ValueError("Features.concatenate needs at least one part")
        channels = parts[0].channels
        for part in parts:
            if part.channels != channels or part.X.shape[1:] != parts[0].X.shape[1:]:
                raise ValueError(
                    f"cannot concatenate features of shape {part.X.shape[1:]} / channels {part.channels} "
                    f"with {parts[0].X.shape[1:]} / {channels}"
                )
        return Features(
            X=np.concatenate([p.X for p in parts]),
            y=np.concatenate([p.y for p in parts]),
            subjects=np.concatenate([p.subjects for p in parts]),
            datasets=np.concatenate([p.datasets for p in parts]),
            clips=np.concatenate([p.clips for p in parts]),
            channels=channels,
            info={"parts": [p.info for p in parts]},
            fallbacks={
                kind: [key for part in parts for key in part.fallbacks.get(kind, [])]
                for kind in dict.fromkeys(kind for part in parts for kind in part.fallbacks)
            },
        )
