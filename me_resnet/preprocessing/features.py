"""Records + config -> model inputs (``Features``), with a per-clip disk cache.

Paper §2.1. Feature kinds (``me_resnet.models.registry``):

- ``"sequence"``: N key frames onset -> apex, N-1 Farneback fields, the
  continuity mask (eq. 5-9) per ``config.flow_mode``, channels (u, v, strain)
  or (u, v, magnitude), per-clip z-score -> (N-1, H, W, 3).
- ``"apex_flow"``: one onset -> apex field (the N = 2 case of the same
  pipeline; with ``flow_mode="improved"`` the mask uses P = |I_apex - I_onset|
  and U = a * mean(P)) -> (H, W, 3).
- ``"apex_image"``: the grey apex face crop stacked to 3 channels, scaled to
  [0, 1] (``normalise="none"``) or per-clip z-scored (``"clip"``) -> (H, W, 3).

Flow is computed on the face crops resized to ``image_size`` (``flow_resolution="model"``)
or on the crops at their own size in the frame, then resized (``"native"``, the
STSTNet / OFF-ApexNet authors' order: flow and strain of the face, then the maps
shrunk to 28x28; docs/baselines.md).

The expensive part (decode, face detection, Farneback) is cached per clip
(``me_resnet.preprocessing.cache``); mask, channels and normalisation are applied at
load time, so sweeping ``scale_factor``/``flow_mode``/``channels``/``normalise``
computes no flow. Cache misses: the onset frames' faces are detected in
batches in this process (one MTCNN), then decoding, cropping and Farneback run
in ``workers`` spawned processes (spawn, because TensorFlow is not fork-safe:
a script calling this with workers > 1 needs the usual
``if __name__ == "__main__":`` guard).
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import logging
import multiprocessing
import os
import time
from collections import Counter
from pathlib import Path
from typing import Sequence

import numpy as np
from tqdm.auto import tqdm

from me_resnet.config import Config
from me_resnet.data.records import ClipRecord, Features
from me_resnet.preprocessing import cache as feature_cache
from me_resnet.preprocessing import flow, frames
from me_resnet.preprocessing.face import FaceCropper, get_detector
from me_resnet.preprocessing.face import crop as crop_face
from me_resnet.utils import paths

log = logging.getLogger(__name__)

KINDS = ("sequence", "apex_flow", "apex_image")
TIMING_PARTS = ("decode", "face", "farneback", "load", "post")
FLOW_RESOLUTIONS = ("model", "native")
DETECTION_CHUNK = 32  # onset frames read and detected at a time (bounds memory for full-size frames)


def _key_frames(record: ClipRecord, config: Config, kind: str) -> frames.KeyFrames:
    return frames.key_frames(record, config.num_frames if kind == "sequence" else 2)


def expected_shapes(config: Config, kind: str) -> dict[str, tuple[int, ...]]:
    """Shapes of the arrays a cache entry of ``kind`` holds."""
    size = config.image_size
    if kind == "apex_image":
        return {"image": (size, size), "box": (4,), "face_found": ()}
    steps = config.num_frames - 1 if kind == "sequence" else 1
    shapes = {"flows": (steps, size, size, 2), "grey_diffs": (steps, size, size), "box": (4,), "face_found": ()}
    if config.flow_resolution == "native":  # strain and magnitude come from the flow before it was resized
        shapes.update(strain=(steps, size, size), magnitude=(steps, size, size))
    return shapes


def compute_entry(record: ClipRecord, config: Config, kind: str, face: tuple | None = None) -> tuple[dict, dict]:
    """Decode, crop and (for flow kinds) run Farneback for one clip: the cached content.

    ``face`` is ``(box, found)`` from the batched detection phase; None means
    detect here (``face_detector="mtcnn"``) or take the centre square ("center").
    With ``flow_resolution="native"`` the flow runs on the crops at the box's
    own size and ``flow.resize_flow`` brings it to ``image_size``; the grey
    differences P_i stay those of the resized crops, where the mask applies.
    """
    timings = Counter()
    key = _key_frames(record, config, kind)
    start = time.perf_counter()
    distinct = {path: frames.read_grey(path) for path in dict.fromkeys(key.paths)}
    timings["decode"] += time.perf_counter() - start
    start = time.perf_counter()
    cropper = FaceCropper.from_config(config)
    if face is None:
        onset = distinct[key.paths[0]]
        onset_rgb = frames.read_rgb(key.paths[0]) if config.face_detector == "mtcnn" else onset[..., None]
        face = cropper.box(onset_rgb, name=f"{record.key} onset frame {key.paths[0]}")
        timings["face_detections"] += config.face_detector == "mtcnn"
    box, found = face
    crops = {path: cropper.crop(grey, box) for path, grey in distinct.items()}
    stack = np.stack([crops[path] for path in key.paths])
    timings["face"] += time.perf_counter() - start

    # the rotation too: mapping a frame-sized map (e.g. the demo's ground truth) onto the crop needs both
    angle = float(box[4]) if len(box) > 4 else 0.0
    entry = {"box": np.asarray(box[:4], dtype=np.int64), "angle": np.asarray(angle), "face_found": np.asarray(found)}
    if kind == "apex_image":
        entry["image"] = stack[-1]
        return entry, dict(timings)
    start = time.perf_counter()
    if config.flow_resolution == "native":
        side = int(box[2] - box[0])
        native = {path: crop_face(grey, box, side) for path, grey in distinct.items()}
        native_flows = flow.sequence_flow(np.stack([native[path] for path in key.paths]), config)
        entry.update(flow.resize_flow(native_flows, config.image_size))
    else:
        entry["flows"] = flow.sequence_flow(stack, config)
    timings["farneback"] += time.perf_counter() - start
    entry["grey_diffs"] = flow.grey_differences(stack)
    return entry, dict(timings)


def _compute_and_store(record: ClipRecord, config: Config, kind: str, path: Path, face: tuple | None):
    """Worker job: compute one entry and write it to the cache atomically."""
    entry, timings = compute_entry(record, config, kind, face)
    feature_cache.save_entry(path, entry)
    return entry, timings


def detect_onset_faces(records: Sequence[ClipRecord], config: Config, kind: str, timings: Counter) -> list:
    """``(box, found)`` per record from one batched MTCNN pass over the onset frames (this process)."""
    if config.face_detector != "mtcnn":
        return [None] * len(records)
    start = time.perf_counter()
    onsets = [_key_frames(record, config, kind).paths[0] for record in records]
    images = [frames.read_rgb(path) for path in onsets]
    timings["decode"] += time.perf_counter() - start
    start = time.perf_counter()
    cropper = FaceCropper.from_config(config)
    faces = cropper.boxes(images, [f"{r.key} onset frame {p}" for r, p in zip(records, onsets)])
    timings["face"] += time.perf_counter() - start
    timings["face_detections"] += len(records)
    return faces


def features_from_entry(entry: dict[str, np.ndarray], config: Config, kind: str) -> np.ndarray:
    """Load-time step: mask + channels + normalisation (flow) or scaling (image)."""
    if kind == "apex_image":
        image = np.repeat(entry["image"][..., None].astype(np.float32) / 255.0, 3, axis=-1)
        return image if config.normalise == "none" else flow.normalise(image, config.normalise)
    features = flow.flow_features(entry["flows"], entry["grey_diffs"], config, third=entry.get(config.channels))
    return features[0] if kind == "apex_flow" else features


def channel_names(config: Config, kind: str) -> tuple[str, ...]:
    return ("grey", "grey", "grey") if kind == "apex_image" else flow.CHANNEL_SETS[config.channels]


def check_settings(config: Config, kind: str) -> None:
    """Reject unknown kinds / switch values before any work starts."""
    choices = {
        "kind": (kind, KINDS),
        "flow_mode": (config.flow_mode, flow.FLOW_MODES),
        "flow_method": (config.flow_method, flow.FLOW_METHODS),
        "mask_reading": (config.mask_reading, flow.MASK_READINGS),
        "channels": (config.channels, tuple(flow.CHANNEL_SETS)),
        "normalise": (config.normalise, flow.NORMALISE_MODES),
        "flow_resolution": (config.flow_resolution, FLOW_RESOLUTIONS),
    }
    for name, (value, allowed) in choices.items():
        if value not in allowed:
            raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
    if config.num_frames < 2:
        raise ValueError(f"num_frames must be >= 2, got {config.num_frames}")
    FaceCropper.from_config(config)  # validates its own fields


def _lower_priority(niceness: int) -> None:
    """Pool-worker start-up: run ``niceness`` steps below the caller (Unix), so a foreground job keeps the CPU."""
    if niceness > 0 and hasattr(os, "nice"):
        os.nice(niceness)


def _compute_missing(jobs, config, kind, workers, bar, timings, niceness=0, stop=None) -> dict[int, dict]:
    """Compute ``jobs`` = [(position, record, path)]: faces in batches here, the rest in processes.

    Detection of the next chunk of onset frames overlaps with Farneback on the
    previous ones in the worker processes, which never load TensorFlow. ``niceness``:
    the workers' priority below this process's; ``stop`` (a ``threading.Event``): once
    set, no more clips start and the ones computed so far are returned (each is cached).
    """
    results: dict[int, dict] = {}
    parallel = workers > 1 and len(jobs) > 1
    context = multiprocessing.get_context("spawn")  # TensorFlow in this process is not fork-safe
    pool = None
    if parallel:
        pool = concurrent.futures.ProcessPoolExecutor(
            min(workers, len(jobs)), mp_context=context, initializer=_lower_priority, initargs=(niceness,)
        )
    stopped = stop.is_set if stop is not None else (lambda: False)
    try:
        if pool is not None:
            pool.submit(int)  # start the workers now: their imports overlap the detector's
        if config.face_detector == "mtcnn" and jobs:
            start = time.perf_counter()
            get_detector()
            timings["detector_init"] += time.perf_counter() - start
        futures = {}
        for begin in range(0, len(jobs), DETECTION_CHUNK):
            if stopped():
                break
            chunk = jobs[begin : begin + DETECTION_CHUNK]
            faces = detect_onset_faces([record for _, record, _ in chunk], config, kind, timings)
            for (position, record, path), face in zip(chunk, faces):
                if pool is None:
                    if stopped():
                        break
                    results[position], clip_timings = _compute_and_store(record, config, kind, path, face)
                    timings.update(clip_timings)
                    bar.update()
                else:
                    futures[pool.submit(_compute_and_store, record, config, kind, path, face)] = position
        for future in concurrent.futures.as_completed(futures):
            if stopped():
                break
            results[futures[future]], clip_timings = future.result()
            timings.update(clip_timings)
            bar.update()
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    return results


def _scan_cache(records: list[ClipRecord], config: Config, kind: str, root: Path, status: Counter):
    """Each record's cache entry where a valid one exists (else None), the records with repeated key frames,
    and the misses as jobs [(position, record, cache path)]; ``status`` counts hit / miss / corrupt."""
    settings = feature_cache.settings_for_kind(config, kind)
    shapes = expected_shapes(config, kind)
    entries: list[dict | None] = [None] * len(records)
    repeated, jobs = [], []
    for position, record in enumerate(records):
        key = _key_frames(record, config, kind)
        if key.repeated:
            repeated.append(record.key)
        signatures = [frames.file_signature(p) for p in dict.fromkeys(key.paths)]
        path = feature_cache.entry_path(root, kind, settings, record.key, signatures)
        # hits are loaded here, sequentially: threads measured slower (the work is small, GIL-bound parsing)
        entries[position], state = feature_cache.load_entry(path, shapes)
        status[state] += 1
        if entries[position] is None:
            jobs.append((position, record, path))
    return entries, repeated, jobs


def missing_entries(
    records: Sequence[ClipRecord], config: Config, kind: str = "sequence", cache_dir: str | os.PathLike | None = None
) -> list:
    """The clips of ``records`` that ``extract_features`` would compute (no valid cache entry), as jobs for
    ``compute_entries``."""
    check_settings(config, kind)
    return _scan_cache(list(records), config, kind, paths.feature_cache_dir(cache_dir), Counter())[2]


def compute_entries(
    jobs: list, config: Config, kind: str, workers: int | None = None, *, niceness: int = 0, stop=None
) -> int:
    """Compute and cache ``jobs`` (from ``missing_entries``) quietly: work done ahead of an ``extract_features``.

    ``niceness``: the worker processes run that many steps below this process, so they take
    the CPU that a foreground job (e.g. a LOSO training meanwhile) leaves idle. ``stop`` (a
    ``threading.Event``) ends it early; every entry computed by then is cached. The MTCNN detector
    is built here on first use: build it (``face.get_detector()``) in the main thread first when this
    runs in another one. Returns how many entries it computed.
    """
    with tqdm(total=len(jobs), disable=True) as bar:
        workers = workers or os.cpu_count() or 1
        return len(_compute_missing(jobs, config, kind, workers, bar, Counter(), niceness=niceness, stop=stop))


def extract_features(
    records: Sequence[ClipRecord],
    config: Config,
    kind: str = "sequence",
    cache_dir: str | os.PathLike | None = None,
    workers: int | None = None,
    progress: bool = True,
) -> Features:
    """Features of ``records`` for ``kind``, cached per clip under ``paths.feature_cache_dir(cache_dir)``.

    ``workers`` processes compute cache misses (default ``os.cpu_count()``;
    1 runs in this process). ``Features.fallbacks`` lists the clips whose face
    was not found (centre crop used) and those with repeated key frames;
    ``Features.info`` holds the settings hash, cache hits / misses / corrupt
    files, the same two lists, and summed timings per stage.
    """
    check_settings(config, kind)
    records = list(records)
    if not records:
        raise ValueError("extract_features needs at least one ClipRecord, got none")
    workers = workers or os.cpu_count() or 1
    root = paths.feature_cache_dir(cache_dir)
    timings = Counter({part: 0.0 for part in TIMING_PARTS})
    status = Counter()
    with tqdm(total=len(records), desc=f"features[{kind}]", disable=not progress, unit="clip") as bar:
        start = time.perf_counter()
        entries, repeated, jobs = _scan_cache(records, config, kind, root, status)
        bar.update(len(records) - len(jobs))
        timings["load"] += time.perf_counter() - start
        for position, entry in _compute_missing(jobs, config, kind, workers, bar, timings).items():
            entries[position] = entry
    start = time.perf_counter()
    X = np.stack([features_from_entry(entry, config, kind) for entry in entries])
    timings["post"] += time.perf_counter() - start
    fallbacks = [r.key for r, e in zip(records, entries) if not bool(e["face_found"])]
    if fallbacks:
        log.warning("face detection fell back to the centre crop for %d clip(s): %s", len(fallbacks), fallbacks)
    if repeated:
        log.warning("%d clip(s) have repeated key frames (fewer than N distinct frames onset->apex)", len(repeated))
    info = {
        "kind": kind,
        "cache_key": feature_cache.settings_hash(config, kind),
        "cache_dir": str(root),
        "cache_hits": status["hit"],
        "cache_misses": status["miss"] + status["corrupt"],
        "cache_corrupt": status["corrupt"],
        "face_fallbacks": fallbacks,
        "repeated_frame_clips": repeated,
        "face_detections": int(timings.pop("face_detections", 0)),
        "detector_init_seconds": float(timings.pop("detector_init", 0.0)),
        "timings": {part: float(timings[part]) for part in TIMING_PARTS},
    }
    return Features(
        X=X,
        y=np.array([r.label for r in records], dtype=np.int64),
        subjects=np.array([r.subject for r in records], dtype=str),
        datasets=np.array([r.dataset for r in records], dtype=str),
        clips=np.array([r.clip for r in records], dtype=str),
        channels=channel_names(config, kind),
        info=info,
        fallbacks={"face_not_found": list(fallbacks), "repeated_frames": list(repeated)},
    )


def flow_maps(record: ClipRecord, config: Config, cache_dir: str | os.PathLike | None = None) -> dict:
    """The panels of the paper's Fig. 2/3 for one clip, summed over the N-1 key-frame fields.

    Returns the apex face crop, the strain and magnitude maps of the vanilla
    and the improved (masked) Farneback flow, unnormalised, and the fraction of
    flow energy sum(u^2 + v^2) the continuity mask removes. Reuses the cache:
    only the first call computes flow.
    """
    raw = dataclasses.replace(config, normalise="none")
    maps = {"apex": extract_features([record], raw, "apex_image", cache_dir, 1, False).X[0, ..., 0]}
    fields = {}
    for mode in ("vanilla", "improved"):
        for channels in ("strain", "magnitude"):
            variant = dataclasses.replace(raw, flow_mode=mode, channels=channels)
            X = extract_features([record], variant, "sequence", cache_dir, 1, False).X[0]
            maps[f"{mode}_{channels}"] = X[..., 2].sum(axis=0)
            fields[mode] = X[..., :2]
    energy = {mode: float(np.sum(fields[mode].astype(np.float64) ** 2)) for mode in fields}
    removed = 1.0 - energy["improved"] / energy["vanilla"] if energy["vanilla"] > 0 else 0.0
    kept = float(np.mean(np.any(fields["improved"] != 0, axis=-1)))
    return {"maps": maps, "energy_removed": removed, "pixels_kept": kept}
