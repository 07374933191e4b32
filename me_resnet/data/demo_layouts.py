"""Where each demo clip goes in its dataset's official layout, and the coding-sheet rows the demo writes.

``generate_demo`` (``me_resnet.data.demo``) renders the ``ClipJob``s that ``casme2_jobs``, ``samm_jobs``
and ``smic_jobs`` list (folders, frame names, which apex quirk a clip carries) and hands what each clip drew
to ``casme2_sheet`` / ``samm_sheet``, which write the coding sheets in the list's order. The quirks of the
real datasets reproduced here are listed in ``me_resnet.data.demo``'s docstring.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from me_resnet.data import demo_sheets
from me_resnet.data.records import CLASS_NAMES

CASME_BAD_APEX = ("sub02", "EP01_11f")  # ApexFrame written '/'
SAMM_BAD_APEX = ("28", "028_4_1")  # apex written after the offset, as in the real sheet
CASME_UNLISTED_FOLDER = ("sub09", "EP02_02f")  # on disk, no xlsx row (real quirk)
SAMM_FIVE_DIGIT_SUBJECTS = ("6", "7")  # e.g. 006_05562.jpg; the others use 4 digits

CASME_EMOTIONS = {0: ("disgust", "repression"), 1: ("happiness",), 2: ("surprise",)}
SAMM_EMOTIONS = {0: ("Anger", "Contempt", "Disgust"), 1: ("Happiness",), 2: ("Surprise",)}
OBJECTIVE_CLASSES = {0: 3, 1: 1, 2: 2}  # Davison et al. 2018: III (AU4), I (AU6/12), II (AU1+2)


@dataclass(frozen=True)
class ClipJob:
    """One clip to render and write: ``key`` (dataset, list subject, list clip) seeds its draws; where it goes.

    ``frame_name`` formats a frame number; ``sheet_apex``: how the coding sheet writes the apex
    (``"apex"``; ``"slash"``, CASME II's '/'; ``"after_offset"``, SAMM's apex past the offset; None: the
    dataset has no apex label, SMIC). ``listed``: None unless the truth table says it (CASME II).
    """

    key: tuple[str, str, str]
    label: int
    middle_apex: bool
    out: Path  # the demo tree: ground truth goes to out/ground_truth
    folder: Path
    frame_name: str
    on_disk: tuple[str, str]  # subject and clip as the folders spell them
    grey: bool = False
    sheet_apex: str | None = "apex"
    listed: bool | None = None


def casme2_jobs(root: Path, clips: pd.DataFrame) -> list[ClipJob]:
    folders = [(r.subject, r.clip, int(r.label), True) for r in clips.itertuples()]
    folders.append((*CASME_UNLISTED_FOLDER, 0, False))
    jobs = []
    for subject, name, label, listed in folders:
        bad_apex = (subject, name) == CASME_BAD_APEX
        folder = root / "CASME2_RAW_selected" / subject / name
        jobs.append(
            ClipJob(
                ("casme2", subject, name),
                label,
                bad_apex,
                root.parent,
                folder,
                "img{}.jpg",
                (subject, name),
                sheet_apex="slash" if bad_apex else "apex",
                listed=listed,
            )
        )
    return jobs


def casme2_sheet(root: Path, jobs: list[ClipJob], sheets: list[dict]) -> None:
    rows = []
    for job, sheet in zip(jobs, sheets):
        if job.listed:
            (_, subject, name), label = job.key, job.label
            emotions = CASME_EMOTIONS[label]
            emotion = emotions[len(rows) % len(emotions)]
            timing = [sheet["onset"], sheet["apex"], sheet["offset"]]
            rows.append([subject[3:], name, None, *timing, None, sheet["coding"], emotion, OBJECTIVE_CLASSES[label]])
    demo_sheets.write_casme2_sheet(root / "CASME2-coding-20190701.xlsx", rows)


def samm_jobs(root: Path, clips: pd.DataFrame) -> list[ClipJob]:
    jobs = []
    for record in clips.itertuples():
        subject, name, label = record.subject, record.clip, int(record.label)
        folder_name = f"{int(subject):03d}"
        bad_apex = (subject, name) == SAMM_BAD_APEX
        width = 5 if subject in SAMM_FIVE_DIGIT_SUBJECTS else 4
        jobs.append(
            ClipJob(
                ("samm", subject, name),
                label,
                bad_apex,
                root.parent,
                root / "SAMM" / folder_name / name,
                f"{folder_name}_{{:0{width}d}}.jpg",
                (folder_name, name),
                grey=True,
                sheet_apex="after_offset" if bad_apex else "apex",
            )
        )
    return jobs


def samm_sheet(root: Path, jobs: list[ClipJob], sheets: list[dict]) -> None:
    rows = []
    for job, sheet in zip(jobs, sheets):
        (_, subject, name), label = job.key, job.label
        emotion = SAMM_EMOTIONS[label][len(rows) % len(SAMM_EMOTIONS[label])]
        notes = "While blinking" if sheet["blink"] else None
        ids = [int(subject), name, int(name.split("_")[1])]  # Subject, Filename, Inducement Code
        onset, offset = sheet["onset"], sheet["offset"]
        timing = [onset, sheet["apex"], offset, offset - onset + 1]  # onset, apex, offset, duration
        coding = [sheet["coding"], emotion, OBJECTIVE_CLASSES[label], notes]
        rows.append([*ids, *timing, "Micro - 1/2", *coding])
    demo_sheets.write_samm_sheet(root / "SAMM_Micro_FACS_Codes_v2.xlsx", rows)


def smic_jobs(root: Path, clips: pd.DataFrame) -> list[ClipJob]:
    jobs = []
    for record in clips.itertuples():
        subject, label = record.subject, int(record.label)
        folder_name = f"s{int(subject[1:])}"  # list 's01' -> folder 's1'
        name = folder_name + record.clip[len(subject) :]  # 's01_ne_01' -> 's1_ne_01'
        folder = root / "SMIC_all_cropped" / "HS" / folder_name / "micro" / CLASS_NAMES[label] / name
        jobs.append(
            ClipJob(
                ("smic", subject, record.clip),
                label,
                False,
                root.parent,
                folder,
                "reg_image{:06d}.bmp",
                (folder_name, name),
                sheet_apex=None,
            )
        )
    return jobs
