"""Deterministic synthetic demo datasets in the official layouts (SPEC §8, §3).

``generate_demo(out, seed)`` writes four small datasets that the real loaders in
``me_resnet.data.loading`` read unchanged:

- ``casme2/CASME2_RAW_selected/subXX/<clip>/img<N>.jpg`` + ``casme2/CASME2-coding-20190701.xlsx``;
- ``samm/SAMM/<subject>/<clip>/<subject>_<frame>.jpg`` (grey) + ``samm/SAMM_Micro_FACS_Codes_v2.xlsx``;
- ``smic/SMIC_all_cropped/HS/s<N>/micro/<class>/s<N>_<cls>_<NN>/reg_image<frame:06d>.bmp``;
- ``fer2013/fer2013.csv``.

Clip ids, subjects and 3-class labels are REAL rows of the MEGC 2019 composite
list shipped with the kit (so the default ``megc2019`` protocol works), at most
``CLIPS_PER_CLASS`` clips per class from each of the ``DEMO_SUBJECTS``; the
xlsx emotions agree with those labels (so the ``paper`` protocol gives the same
clips). The official quirks are reproduced: CASME II Subject as text '02', one
ApexFrame '/', one clip folder without a row (sub09/EP02_02f); SAMM 13-row
preamble, Subject written as int 6 for folder 006, 4- and 5-digit frame numbers,
one apex after the offset (028_4_1, as in the real sheet); SMIC 's01' in the
list vs folder 's1'. Clips with a bad apex carry their motion apex at the middle
frame, i.e. where the loaders' repair (SPEC §3) puts it.

Same seed -> byte-identical files (fixed xlsx timestamps, fixed zip dates).
"""

from __future__ import annotations

import io
import json
import shutil
import zipfile
import zlib
from datetime import datetime
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from tqdm import tqdm

from me_resnet.data import demo_faces
from me_resnet.data.records import CLASS_NAMES
from me_resnet.utils import paths

GENERATOR_VERSION = 1
MARKER = ".demo_complete.json"
DATASET_MARKER = ".me_resnet_demo_data"  # inside each dataset folder the generator writes: it may delete those only
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
FRAME_SIZE = 128
FRAMES_PER_CLIP = (20, 24)  # inclusive range of onset..offset lengths
AMPLITUDE = (0.06, 0.10)  # apex displacement, in interocular distances (~2-5 px)
FRAMING = {"casme2": 4.0, "samm": 3.6, "smic": 2.6}  # crop side / interocular: raw vs cropped video
PHOTO_CYCLE = ("astronaut", "grace_hopper", "lfw", "astronaut", "grace_hopper")
CASME_BAD_APEX = ("sub02", "EP01_11f")  # ApexFrame written '/'
SAMM_BAD_APEX = ("28", "028_4_1")  # apex written after the offset, as in the real sheet
CASME_UNLISTED_FOLDER = ("sub09", "EP02_02f")  # on disk, no xlsx row (real quirk)
SAMM_FIVE_DIGIT_SUBJECTS = ("6", "7")  # e.g. 006_05562.jpg; the others use 4 digits
FER_ROWS_PER_CLASS = {"Training": 32, "PublicTest": 4, "PrivateTest": 4}
FER_TRAIN_FACES = range(0, 80)  # lfw identities of the Training rows; test rows use 80-99
XLSX_DATE = datetime(2019, 7, 1)

CASME_EMOTIONS = {0: ("disgust", "repression"), 1: ("happiness",), 2: ("surprise",)}
SAMM_EMOTIONS = {0: ("Anger", "Contempt", "Disgust"), 1: ("Happiness",), 2: ("Surprise",)}
ACTION_UNITS = {0: "4", 1: "6+12", 2: "1+2"}  # what demo_faces.MICRO_EXPRESSIONS moves
OBJECTIVE_CLASSES = {0: 3, 1: 1, 2: 2}  # Davison et al. 2018: III (AU4), I (AU6/12), II (AU1+2)


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


def _clip_timing(rng: np.random.Generator, first: int, last: int, middle_apex: bool) -> tuple[int, int, int]:
    """(onset, apex, offset) frame numbers; onset drawn from [first, last]."""
    length = int(rng.integers(FRAMES_PER_CLIP[0], FRAMES_PER_CLIP[1] + 1))
    onset = int(rng.integers(first, last + 1))
    apex_index = (length - 1) // 2 if middle_apex else int(round((length - 1) * rng.uniform(0.3, 0.6)))
    return onset, onset + apex_index, onset + length - 1


def _subject_portraits(dataset: str, seed: int) -> dict[str, tuple[np.ndarray, demo_faces.Landmarks]]:
    portraits = {}
    for number, subject in enumerate(DEMO_SUBJECTS[dataset]):
        rng = _rng(seed, dataset, subject, "look")
        look = demo_faces.random_look(rng, PHOTO_CYCLE[number % len(PHOTO_CYCLE)], FRAMING[dataset])
        portraits[subject] = demo_faces.make_portrait(look, FRAME_SIZE)
    return portraits


def _render(portrait, marks, label: int, timing: tuple[int, int, int], rng) -> list[np.ndarray]:
    onset, apex, offset = timing
    amplitude = float(rng.uniform(*AMPLITUDE)) * marks.interocular
    return demo_faces.render_clip(portrait, marks, label, offset - onset + 1, apex - onset, rng, amplitude)


def _write_frames(folder: Path, frames: list[np.ndarray], names: list[str], grey: bool = False) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for frame, name in zip(frames, names):
        image = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY) if grey else cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)
        if not cv2.imwrite(str(folder / name), image):
            raise OSError(f"could not write demo frame {folder / name}")


def save_workbook_deterministic(workbook, path: Path) -> None:
    """Save an openpyxl workbook with fixed document and zip-member timestamps."""
    from openpyxl.writer.excel import ExcelWriter

    workbook.properties.created = workbook.properties.modified = XLSX_DATE
    workbook.properties.creator = "me_resnet.demo"
    raw = io.BytesIO()
    ExcelWriter(workbook, zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED)).save()  # save() closes the zip
    fixed = io.BytesIO()
    with zipfile.ZipFile(raw) as source, zipfile.ZipFile(fixed, "w", zipfile.ZIP_DEFLATED) as target:
        for member in source.infolist():
            info = zipfile.ZipInfo(member.filename, date_time=XLSX_DATE.timetuple()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(info, source.read(member.filename))
    path.write_bytes(fixed.getvalue())


def _casme2(root: Path, clips: pd.DataFrame, seed: int, progress) -> None:
    from openpyxl import Workbook

    portraits = _subject_portraits("casme2", seed)
    rows = []
    folders = [(r.subject, r.clip, int(r.label), True) for r in clips.itertuples()]
    folders.append((*CASME_UNLISTED_FOLDER, 0, False))
    for subject, clip, label, listed in folders:
        rng = _rng(seed, "casme2", subject, clip)
        bad_apex = (subject, clip) == CASME_BAD_APEX
        timing = _clip_timing(rng, 20, 300, middle_apex=bad_apex)
        frames = _render(*portraits[subject], label, timing, rng)
        names = [f"img{number}.jpg" for number in range(timing[0], timing[2] + 1)]
        _write_frames(root / "CASME2_RAW_selected" / subject / clip, frames, names)
        if listed:
            emotions = CASME_EMOTIONS[label]
            emotion = emotions[len(rows) % len(emotions)]
            apex = "/" if bad_apex else timing[1]
            rows.append(
                [
                    subject[3:],
                    clip,
                    None,
                    timing[0],
                    apex,
                    timing[2],
                    None,
                    ACTION_UNITS[label],
                    emotion,
                    OBJECTIVE_CLASSES[label],
                ]
            )
        progress.update()
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Sheet1"
    sheet.append(
        [
            "Subject",
            "Filename",
            None,
            "OnsetFrame",
            "ApexFrame",
            "OffsetFrame",
            None,
            "Action Units",
            "Estimated Emotion",
            "Objective Classes",
        ]
    )
    for row in sorted(rows, key=lambda r: (r[0], r[1])):
        sheet.append(row)
    workbook.create_sheet("Sheet2")
    workbook.create_sheet("Sheet3")
    save_workbook_deterministic(workbook, root / "CASME2-coding-20190701.xlsx")


SAMM_PREAMBLE = (
    "SAMM Dataset - Master FACS Codes (synthetic demo data written by me_resnet.demo; not SAMM)",
    None,
    "9/9/17 - New updates with Emotional and Objective Classes. For details please refer to: ",
    "(Note to the users: if you use the real SAMM, cite Davison et al., IEEE TAFFC 2016.)",
    None,
    "Symbol Key:",
    '"/" = or',
    '"?" = some AU\'s continue for a while and have unclear offset',
    None,
    "AU Help:",
    '"L2 or R2" = Unilateral AU 2 on left side of face / right side of face',
    '"A2" = Asymmetric AU 2. Occurs on both sides of face but stronger on one side',
    None,
)


def _samm(root: Path, clips: pd.DataFrame, seed: int, progress) -> None:
    from openpyxl import Workbook

    portraits = _subject_portraits("samm", seed)
    rows = []
    for record in clips.itertuples():
        subject, clip, label = record.subject, record.clip, int(record.label)
        folder = f"{int(subject):03d}"
        rng = _rng(seed, "samm", subject, clip)
        bad_apex = (subject, clip) == SAMM_BAD_APEX
        timing = _clip_timing(rng, 1000, 9000, middle_apex=bad_apex)
        width = 5 if subject in SAMM_FIVE_DIGIT_SUBJECTS else 4
        frames = _render(*portraits[subject], label, timing, rng)
        names = [f"{folder}_{number:0{width}d}.jpg" for number in range(timing[0], timing[2] + 1)]
        _write_frames(root / "SAMM" / folder / clip, frames, names, grey=True)
        emotions = SAMM_EMOTIONS[label]
        apex = timing[2] + 7 if bad_apex else timing[1]
        rows.append(
            [
                int(subject),
                clip,
                int(clip.split("_")[1]),
                timing[0],
                apex,
                timing[2],
                timing[2] - timing[0] + 1,
                "Micro - 1/2",
                ACTION_UNITS[label],
                emotions[len(rows) % len(emotions)],
                OBJECTIVE_CLASSES[label],
                None,
            ]
        )
        progress.update()
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "MICRO_ONLY"
    for line in SAMM_PREAMBLE:
        sheet.append([line])
    sheet.append(
        [
            "Subject",
            "Filename",
            "Inducement Code",
            "Onset Frame",
            "Apex Frame",
            "Offset Frame",
            "Duration",
            "Micro",
            "Action Units",
            "Estimated Emotion",
            "Objective Classes",
            "Notes",
        ]
    )
    for row in rows:
        sheet.append(row)
    save_workbook_deterministic(workbook, root / "SAMM_Micro_FACS_Codes_v2.xlsx")


def _smic(root: Path, clips: pd.DataFrame, seed: int, progress) -> None:
    portraits = _subject_portraits("smic", seed)
    for record in clips.itertuples():
        subject, label = record.subject, int(record.label)
        folder = f"s{int(subject[1:])}"  # list 's01' -> folder 's1'
        clip = folder + record.clip[len(subject) :]  # 's01_ne_01' -> 's1_ne_01'
        rng = _rng(seed, "smic", subject, record.clip)
        timing = _clip_timing(rng, 100, 20000, middle_apex=True)  # SMIC has no apex label (SPEC §3)
        frames = _render(*portraits[subject], label, timing, rng)
        names = [f"reg_image{number:06d}.bmp" for number in range(timing[0], timing[2] + 1)]
        _write_frames(root / "SMIC_all_cropped" / "HS" / folder / "micro" / CLASS_NAMES[label] / clip, frames, names)
        progress.update()


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


def generate_demo(out: str | Path, seed: int = 0) -> dict[str, Path]:
    """Write the four demo datasets under ``out`` (replacing earlier demo data); return their roots.

    An existing ``out/<dataset>`` folder is deleted only if the generator marked it as demo data
    (``DATASET_MARKER``); any other non-empty folder there raises ``FileExistsError``, so a real
    dataset is never deleted.
    """
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"demo seed must be a non-negative int, got {seed!r}")
    out = Path(out).expanduser()
    roots = {name: out / name for name in DATASETS}
    foreign = [root for root in roots.values() if root.is_dir() and any(root.iterdir()) and not is_demo_folder(root)]
    if foreign or any(root.exists() and not root.is_dir() for root in roots.values()):
        raise FileExistsError(
            f"refusing to write demo data into {out}: {[str(p) for p in foreign] or 'a dataset name'} exists and "
            f"was not written by the demo generator (no {DATASET_MARKER} file); choose another --out"
        )
    (out / MARKER).unlink(missing_ok=True)
    for root in roots.values():
        root.mkdir(parents=True, exist_ok=True)
        (root / DATASET_MARKER).write_text("written by me_resnet.data.demo; deleted when the demo is regenerated\n")
        for child in root.iterdir():  # other seeds write other frame numbers: never mix; the marker stays
            if child.is_dir():
                shutil.rmtree(child)
            elif child.name != DATASET_MARKER:
                child.unlink()
    clips = select_demo_clips()
    writers = {"casme2": _casme2, "samm": _samm, "smic": _smic}
    total = len(clips) + 1  # + the unlisted CASME II folder
    with tqdm(total=total, desc="demo clips", unit="clip", leave=False) as progress:
        for name, writer in writers.items():
            writer(roots[name], clips[clips.dataset == name], int(seed), progress)
    _fer2013(roots["fer2013"], int(seed))
    marker = {"seed": int(seed), "generator_version": GENERATOR_VERSION}
    (out / MARKER).write_text(json.dumps(marker, sort_keys=True) + "\n")  # written last: completion
    return roots


def ensure_demo_data(out: str | Path | None = None, seed: int = 0) -> Path:
    """The demo data dir (``paths.demo_data_dir()`` unless ``out``), generated if not complete."""
    out = Path(out).expanduser() if out is not None else paths.demo_data_dir()
    marker = out / MARKER
    try:
        current = json.loads(marker.read_text())
    except (OSError, ValueError):
        current = None
    if current != {"seed": int(seed), "generator_version": GENERATOR_VERSION}:
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
    fer = pd.read_csv(out / "fer2013" / "fer2013.csv", usecols=["emotion", "Usage"])
    usage = ", ".join(f"{name} {count}" for name, count in fer.Usage.value_counts(sort=False).items())
    lines.append(f"fer2013: {len(fer)} rows ({usage}), {fer.emotion.nunique()} classes -> {out / 'fer2013'}")
    return lines
