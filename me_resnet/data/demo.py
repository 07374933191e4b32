"""Deterministic synthetic demo datasets in the official layouts, with their ground truth.

``generate_demo(out, seed)`` writes four small datasets that the real loaders in
``me_resnet.data.loading`` read unchanged:

- ``casme2/CASME2_RAW_selected/subXX/<clip>/img<N>.jpg`` + ``casme2/CASME2-coding-20190701.xlsx``;
- ``samm/SAMM/<subject>/<clip>/<subject>_<frame>.jpg`` (grey) + ``samm/SAMM_Micro_FACS_Codes_v2.xlsx``;
- ``smic/SMIC_all_cropped/HS/s<N>/micro/<class>/s<N>_<cls>_<NN>/reg_image<frame:06d>.bmp``;
- ``fer2013/fer2013.csv``;

and ``ground_truth/`` (``me_resnet.data.demo_truth``): per clip, the pixels the
expression moved, its apex displacement field, the true onset/apex/offset and
the distractor events.

Clip ids, subjects and 3-class labels are REAL rows of the MEGC 2019 composite
list shipped with the kit (so the default ``megc2019`` protocol works), at most
``CLIPS_PER_CLASS`` clips per class from each of the ``DEMO_SUBJECTS``; the
xlsx emotions agree with those labels (so the ``paper`` protocol gives the same
clips). The official quirks are reproduced: CASME II Subject as text '02', one
ApexFrame '/', one clip folder without a row (sub09/EP02_02f); SAMM 13-row
preamble, Subject written as int 6 for folder 006, 4- and 5-digit frame numbers,
one apex after the offset (028_4_1, as in the real sheet); SMIC 's01' in the
list vs folder 's1', no apex label. Clips with a bad apex carry their motion
apex at the middle frame, i.e. where the loaders' repair puts it
(docs/datasets.md); SMIC clips peak where the draw puts them, so the loaders'
middle frame is an estimate, as on the real SMIC.

What moves and how (``demo_motion``, ``demo_sampling``): per-clip action units
of the class, one-sided or asymmetric in some clips, with subject-specific
amplitude and tempo; clip lengths and apex positions drawn from the real CASME II
and SAMM coding sheets' distributions; slow head drift, jitter, blinks and
head moves; illumination flicker, sensor noise and JPEG compression. The noise
and motion levels are calibrated so that the kit's pre-processing measures on
demo CASME II what it measures on real CASME II clips (docs/demo_data.md,
``benchmarks/realism.py``).

Same seed -> byte-identical files (fixed xlsx timestamps, fixed zip dates).
"""

from __future__ import annotations

import concurrent.futures
import functools
import json
import multiprocessing
import os
import shutil
import zlib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from tqdm import tqdm

from me_resnet.data import demo_faces, demo_layouts, demo_motion, demo_sampling, demo_truth
from me_resnet.data.demo_layouts import CASME_BAD_APEX, SAMM_BAD_APEX, ClipJob
from me_resnet.data.records import CLASS_NAMES
from me_resnet.utils import paths

GENERATOR_VERSION = 3
MARKER = ".demo_complete.json"
DATASET_MARKER = ".me_resnet_demo_data"  # inside each folder the generator writes: it may delete those only
DATASETS = ("casme2", "samm", "smic", "fer2013")
MEGC_LIST = paths.PACKAGE_DATA / "megc2019_combined_3class_gt.csv"

# Five real subjects per dataset, chosen so that <= 3 clips per class each gives
# every class >= 25 % of the dataset's clips (CASME II 12/10/12, SAMM 9/7/9, SMIC 15/13/13).
DEMO_SUBJECTS = {
    "casme2": ("sub02", "sub05", "sub09", "sub12", "sub19"),
    "samm": ("6", "7", "14", "16", "28"),
    "smic": ("s01", "s03", "s04", "s14", "s20"),
}
CLIPS_PER_CLASS = 3
FRAME_SIZE = {"casme2": 224, "samm": 192, "smic": 128}
FRAMING = {"casme2": 4.0, "samm": 3.6, "smic": 2.6}  # crop side / interocular: raw vs cropped video
PHOTO_CYCLE = ("astronaut", "grace_hopper", "lfw", "astronaut", "grace_hopper")
FIRST_ONSET = {"casme2": (20, 300), "samm": (1000, 9000), "smic": (100, 20000)}  # onset frame number range
FER_ROWS_PER_CLASS = {"Training": 32, "PublicTest": 4, "PrivateTest": 4}
FER_TRAIN_FACES = range(0, 80)  # lfw identities of the Training rows; test rows use 80-99


def select_demo_clips(list_path: Path = MEGC_LIST) -> pd.DataFrame:
    """Rows of the MEGC 2019 list used by the demo: ``dataset, subject, clip, label`` (list order)."""
    if not Path(list_path).is_file():
        raise FileNotFoundError(f"MEGC 2019 list not found: {list_path}")
    table = pd.read_csv(list_path, header=None, names=["dataset", "subject", "clip", "label"], dtype=str)
    table = table.apply(lambda column: column.str.strip())
    table["label"] = table["label"].astype(int)
    picked = []
    for dataset, subjects in DEMO_SUBJECTS.items():
        rows = table[(table.dataset == dataset) & table.subject.isin(subjects)]
        missing = sorted(set(subjects) - set(rows.subject))
        if missing:
            raise ValueError(f"{list_path}: demo subjects {missing} of {dataset} are not in the list")
        picked.append(rows.groupby(["subject", "label"], sort=False).head(CLIPS_PER_CLASS))
    return pd.concat(picked, ignore_index=True)


def _rng(seed: int, *key: str) -> np.random.Generator:
    """Per-item generator: independent of generation order, stable across runs."""
    return np.random.default_rng([seed, *(zlib.crc32(part.encode()) for part in key)])


@dataclass(frozen=True)
class _Clip:
    """One rendered clip: its draws, frames and the expression's apex displacement."""

    draws: demo_sampling.ClipDraws
    frames: list[np.ndarray]
    field: np.ndarray
    camera: demo_motion.Camera

    onset = property(lambda self: self.draws.onset)
    apex = property(lambda self: self.draws.onset + self.draws.expression.apex)
    offset = property(lambda self: self.draws.onset + self.draws.num_frames - 1)
    expression = property(lambda self: self.draws.expression)
    events = property(lambda self: self.draws.events)


Subject = tuple[np.ndarray, demo_faces.Landmarks, demo_sampling.SubjectStyle]  # portrait, landmarks, style


def _subjects(dataset: str, seed: int) -> dict[str, Subject]:
    """Per subject: portrait, landmarks and the style its clips share."""
    subjects = {}
    for number, subject in enumerate(DEMO_SUBJECTS[dataset]):
        rng = _rng(seed, dataset, subject, "look")
        look = demo_faces.random_look(rng, PHOTO_CYCLE[number % len(PHOTO_CYCLE)], FRAMING[dataset])
        portrait, marks = demo_faces.make_portrait(look, FRAME_SIZE[dataset])
        style = demo_sampling.subject_style(_rng(seed, dataset, subject, "style"), dataset, marks.interocular)
        subjects[subject] = (portrait, marks, style)
    return subjects


def clip_draws(dataset: str, subject: str, clip: str, label: int, seed: int = 0):
    """``(portrait, landmarks, style), ClipDraws`` of one demo clip, as ``generate_demo(seed=seed)`` draws them.

    ``subject`` and ``clip`` as on disk (a ``ClipRecord``'s). For rendering the clip's expression inside a
    longer stretch with ``demo_motion.render_stretch`` (docs/demo_data.md).
    """
    if dataset == "samm":
        subject = str(int(subject))  # folder 006 -> list 6
    elif dataset == "smic":
        listed = f"s{int(subject[1:]):02d}"  # folder s1 -> list s01
        subject, clip = listed, listed + clip[len(subject) :]
    if subject not in DEMO_SUBJECTS.get(dataset, ()):
        raise ValueError(f"{dataset}/{subject} is not a demo subject; demo subjects: {DEMO_SUBJECTS.get(dataset)}")
    drawn = _subjects(dataset, seed)[subject]
    middle_apex = (subject, clip) in (CASME_BAD_APEX, SAMM_BAD_APEX)
    return drawn, _draw(dataset, drawn, label, _rng(seed, dataset, subject, clip), middle_apex)


def _draw(dataset: str, subject: Subject, label: int, rng, middle_apex: bool) -> demo_sampling.ClipDraws:
    return demo_sampling.clip_draws(rng, dataset, subject[2], label, middle_apex, FIRST_ONSET[dataset])


def _render(dataset: str, subject: Subject, label: int, rng: np.random.Generator, middle_apex: bool) -> _Clip:
    """Draw one clip (``demo_sampling.clip_draws``) and render it on the same random stream."""
    portrait, marks, style = subject
    draws = _draw(dataset, subject, label, rng, middle_apex)
    expression, head, events = draws.expression, draws.head, draws.events
    rendering = demo_motion.render_stretch(
        portrait, marks, draws.num_frames, rng, style.camera, head, expression, events
    )
    return _Clip(draws, rendering.frames, rendering.expression_field, style.camera)


def _write_frames(folder: Path, clip: _Clip, names: list[str], grey: bool = False) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for frame, name in zip(clip.frames, names):
        image = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY) if grey else cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)
        (folder / name).write_bytes(demo_motion.encode_frame(image, Path(name).suffix, clip.camera.jpeg_quality))


@functools.lru_cache(maxsize=None)
def _subjects_cached(dataset: str, seed: int) -> dict[str, Subject]:
    return _subjects(dataset, seed)


def _render_job(job: ClipJob, seed: int) -> tuple[dict, dict]:
    """Render one clip and write its frames and ground truth: (its truth-table row, what its sheet row needs)."""
    dataset, subject, _ = job.key
    clip = _render(dataset, _subjects_cached(dataset, seed)[subject], job.label, _rng(seed, *job.key), job.middle_apex)
    _write_frames(job.folder, clip, [job.frame_name.format(n) for n in range(clip.onset, clip.offset + 1)], job.grey)
    apex = {"apex": clip.apex, "slash": "/", "after_offset": clip.offset + 7, None: None}[job.sheet_apex]
    extra = {} if job.sheet_apex is None else {"sheet_apex": str(apex)}
    if job.listed is not None:
        extra["listed"] = job.listed
    row = demo_truth.write_clip_truth(
        job.out, dataset, *job.on_disk, job.folder, job.label, clip.draws, clip.field, **extra
    )
    sheet = {
        "onset": clip.onset,
        "apex": apex,
        "offset": clip.offset,
        "coding": clip.expression.coding(),
        "blink": any(event.kind == "blink" for event in clip.events),
    }
    return row, sheet


def _render_all(jobs: list[ClipJob], seed: int, workers: int) -> list[tuple[dict, dict]]:
    """``_render_job`` of every job, in ``workers`` processes (1: here); results in ``jobs`` order.

    Each clip draws from its own generator (``_rng``), so the files do not depend on ``workers``.
    """
    results: list = [None] * len(jobs)
    with tqdm(total=len(jobs), desc="demo clips", unit="clip", leave=False) as progress:
        if workers <= 1 or len(jobs) < 2:
            for position, job in enumerate(jobs):
                results[position] = _render_job(job, seed)
                progress.update()
            return results
        context = multiprocessing.get_context("spawn")  # the caller may hold TensorFlow threads
        with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context) as pool:
            futures = {pool.submit(_render_job, job, seed): position for position, job in enumerate(jobs)}
            try:
                for future in concurrent.futures.as_completed(futures):
                    results[futures[future]] = future.result()
                    progress.update()
            except BaseException:
                pool.shutdown(cancel_futures=True)
                raise
    return results


def _fer2013(root: Path, seed: int) -> int:
    """fer2013.csv: all 7 classes, Training then PublicTest then PrivateTest rows."""
    rows = []
    for usage, per_class in FER_ROWS_PER_CLASS.items():
        faces = FER_TRAIN_FACES if usage == "Training" else range(FER_TRAIN_FACES.stop, demo_faces.LFW_FACES)
        rng = _rng(seed, "fer2013", usage)
        labels = rng.permutation(np.repeat(np.arange(len(demo_faces.FER_EXPRESSIONS)), per_class))
        for label in labels:
            pixels = demo_faces.render_fer_face(int(label), rng, faces)
            rows.append(f"{label},{' '.join(map(str, pixels.ravel()))},{usage}")
    root.mkdir(parents=True, exist_ok=True)
    (root / "fer2013.csv").write_text("emotion,pixels,Usage\n" + "\n".join(rows) + "\n")
    return len(rows)


def is_demo_folder(folder: Path) -> bool:
    """Whether ``folder`` was written by this generator (its marker file; or an older run's completion marker)."""
    return (folder / DATASET_MARKER).is_file() or (folder.parent / MARKER).is_file()


def _prepare_folders(out: Path) -> dict[str, Path]:
    """Empty (or create) the generator's folders under ``out``, refusing any it did not mark."""
    folders = {name: out / name for name in (*DATASETS, demo_truth.TRUTH_DIR)}
    foreign = [root for root in folders.values() if root.is_dir() and any(root.iterdir()) and not is_demo_folder(root)]
    if foreign or any(root.exists() and not root.is_dir() for root in folders.values()):
        raise FileExistsError(
            f"refusing to write demo data into {out}: {[str(p) for p in foreign] or 'a dataset name'} exists and "
            f"was not written by the demo generator (no {DATASET_MARKER} file); choose another output folder"
        )
    (out / MARKER).unlink(missing_ok=True)
    for root in folders.values():
        root.mkdir(parents=True, exist_ok=True)
        (root / DATASET_MARKER).write_text("written by me_resnet.data.demo; deleted when the demo is regenerated\n")
        for child in root.iterdir():  # other seeds write other frame numbers: never mix; the marker stays
            if child.is_dir():
                shutil.rmtree(child)
            elif child.name != DATASET_MARKER:
                child.unlink()
    return folders


def generate_demo(out: str | Path, seed: int = 0, workers: int | None = None) -> dict[str, Path]:
    """Write the four demo datasets and their ground truth under ``out`` (replacing earlier demo data).

    ``workers``: processes rendering the clips (default: up to 2; the files are the same for any number).

    Returns the datasets' roots. An existing ``out/<dataset>`` (or ``out/ground_truth``) folder is
    deleted only if the generator marked it as demo data (``DATASET_MARKER``); any other non-empty
    folder there raises ``FileExistsError``, so a real dataset is never deleted.
    """
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"demo seed must be a non-negative int, got {seed!r}")
    out = Path(out).expanduser()
    folders = _prepare_folders(out)
    clips = select_demo_clips()
    writers = {
        "casme2": (demo_layouts.casme2_jobs, demo_layouts.casme2_sheet),
        "samm": (demo_layouts.samm_jobs, demo_layouts.samm_sheet),
        "smic": (demo_layouts.smic_jobs, None),
    }
    jobs = {name: make(folders[name], clips[clips.dataset == name]) for name, (make, _) in writers.items()}
    every = [job for part in jobs.values() for job in part]
    rendered = dict(zip(every, _render_all(every, int(seed), workers or min(2, os.cpu_count() or 1))))
    truth = [rendered[job][0] for job in every]
    for name, (_, write_sheet) in writers.items():
        if write_sheet is not None:
            write_sheet(folders[name], jobs[name], [rendered[job][1] for job in jobs[name]])
    _fer2013(folders["fer2013"], int(seed))
    table = pd.DataFrame(truth, columns=None if truth else ["dataset", "subject", "clip"])
    table.to_csv(folders[demo_truth.TRUTH_DIR] / demo_truth.TABLE, index=False, lineterminator="\n")
    marker = {"seed": int(seed), "generator_version": GENERATOR_VERSION}
    (out / MARKER).write_text(json.dumps(marker, sort_keys=True) + "\n")  # written last: completion
    return {name: folders[name] for name in DATASETS}


def demo_data_ready(out: str | Path | None = None, seed: int = 0) -> bool:
    """Whether the demo data dir (``paths.demo_data_dir()`` unless ``out``) holds this generator's complete data
    of ``seed`` (its completion marker)."""
    out = Path(out).expanduser() if out is not None else paths.demo_data_dir()
    try:
        current = json.loads((out / MARKER).read_text())
    except (OSError, ValueError):
        current = None
    return current == {"seed": int(seed), "generator_version": GENERATOR_VERSION}


def ensure_demo_data(out: str | Path | None = None, seed: int = 0) -> Path:
    """The demo data dir (``paths.demo_data_dir()`` unless ``out``), generated if not complete."""
    out = Path(out).expanduser() if out is not None else paths.demo_data_dir()
    if not demo_data_ready(out, seed):
        generate_demo(out, seed)
    return out


def summarise(out: Path) -> list[str]:
    """One line per dataset: clips per class, subjects, frames (read back from disk and the list)."""
    clips = select_demo_clips()
    lines = []
    for dataset in DEMO_SUBJECTS:
        part = clips[clips.dataset == dataset]
        counts = " / ".join(f"{CLASS_NAMES[k][:3]} {int((part.label == k).sum())}" for k in range(3))
        frames = sum(1 for p in (out / dataset).rglob("*") if p.suffix in (".jpg", ".bmp"))
        lines.append(
            f"{dataset}: {len(part)} clips ({counts}), {part.subject.nunique()} subjects, "
            f"{frames} frames -> {out / dataset}"
        )
    truth = demo_truth.truth_table(out)
    lines.append(f"ground truth: {len(truth)} clips -> {out / demo_truth.TRUTH_DIR}")
    fer = pd.read_csv(out / "fer2013" / "fer2013.csv", usecols=["emotion", "Usage"])
    usage = ", ".join(f"{name} {count}" for name, count in fer.Usage.value_counts(sort=False).items())
    lines.append(f"fer2013: {len(fer)} rows ({usage}), {fer.emotion.nunique()} classes -> {out / 'fer2013'}")
    return lines
