"""Builders of tiny dataset trees in the official layouts (docs/datasets.md), shared by the dataset tests."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import openpyxl

CASME2_HEADER = [
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
SAMM_HEADER = [
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
SAMM_PREAMBLE = [
    ["SAMM Dataset - Master FACS Codes", None, None, None, "(Note to the users: please cite Davison et al. 2016)"],
    [],
    ["9/9/17 - New updates with Emotional and Objective Classes."],
    [None, None, None, None, "(Note to the users: cite Davison et al. 2017)"],
    [],
    ["Symbol Key:"],
    ['"/" = or'],
    ['"?" = some AU\'s continue for a while and have unclear offset'],
    [],
    ["AU Help:"],
    ['"L2 or R2" = Unilateral AU 2'],
    ['"A2" = Asymmetric AU 2'],
    [],
]


def write_image(path: Path, value: int = 0, size: int = 8) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), np.full((size, size), value, np.uint8)), path
    return path


def write_frames(folder: Path, pattern: str, numbers, values=None) -> None:
    """``pattern.format(n)`` for each frame number, 8x8 grey images (value per frame optional)."""
    for i, number in enumerate(numbers):
        write_image(folder / pattern.format(number), 0 if values is None else values[i])


def write_casme2_sheet(path: Path, rows) -> Path:
    """rows: (subject cell, filename, onset, apex, offset, emotion); header in row 1 like the official sheet."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Sheet1"
    sheet.append(CASME2_HEADER)
    for subject, clip, onset, apex, offset, emotion in rows:
        sheet.append([subject, clip, None, onset, apex, offset, None, "4+7", emotion, 3])
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)
    return path


def write_samm_sheet(path: Path, rows, sheet_name: str = "MICRO_ONLY", header=SAMM_HEADER) -> Path:
    """rows: (subject cell, filename, onset, apex, offset, emotion); 13-row preamble, header in row 14."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = sheet_name
    for line in SAMM_PREAMBLE:
        sheet.append(line or [None])
    sheet.append(header)
    for subject, clip, onset, apex, offset, emotion in rows:
        sheet.append([subject, clip, 1, onset, apex, offset, offset - onset + 1, "Micro - 1/2", "4", emotion, 3, None])
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)
    return path


def casme2_frame_name(variant: str) -> str:
    return {"raw": "img{}.jpg", "cropped": "reg_img{}.jpg"}[variant]


def make_casme2(root: Path, rows, variant: str = "raw", skip=(), extra=(), sheet_name="CASME2-coding-20190701.xlsx"):
    """CASME II tree for ``rows`` (folders onset..offset) + coding sheet; ``skip`` = clips without folder,
    ``extra`` = (subject folder, clip, first, last) folders without a row."""
    frames = root / {"raw": "CASME2_RAW_selected", "cropped": "Cropped"}[variant]
    for subject, clip, onset, apex, offset, emotion in rows:
        if clip not in skip:
            write_frames(frames / f"sub{int(subject):02d}" / clip, casme2_frame_name(variant), range(onset, offset + 1))
    for subject_dir, clip, first, last in extra:
        write_frames(frames / subject_dir / clip, casme2_frame_name(variant), range(first, last + 1))
    write_casme2_sheet(root / sheet_name, rows)
    return root


def make_samm(root: Path, rows, nested: bool = True, skip=()):
    """SAMM tree ``root/SAMM/<subject>/<clip>/<subject>_<frame:05d or 04d>.jpg`` + sheet in ``root``."""
    frames = root / "SAMM" if nested else root
    for subject, clip, onset, apex, offset, emotion in rows:
        if clip in skip:
            continue
        subject_dir = f"{int(subject):03d}"
        width = 5 if offset >= 10000 else 4
        write_frames(frames / subject_dir / clip, subject_dir + "_{:0%dd}.jpg" % width, range(onset, offset + 1))
    write_samm_sheet(root / "SAMM_Micro_FACS_Codes_v2.xlsx", rows)
    return root


SMIC_SHORT = {"negative": "ne", "positive": "po", "surprise": "sur"}


def make_smic(root: Path, clips, prefix: str = "reg_image", values=None):
    """SMIC-HS tree ``root/SMIC_all_cropped/HS/s<N>/micro/<class>/s<N>_<cls>_<NN>/``.

    clips: (subject number, class folder, clip number, first frame, frame count).
    """
    hs = root / "SMIC_all_cropped" / "HS"
    for subject, class_name, number, first, count in clips:
        folder = hs / f"s{subject}" / "micro" / class_name / f"s{subject}_{SMIC_SHORT[class_name]}_{number:02d}"
        write_frames(folder, prefix + "{:06d}.bmp", range(first, first + count), values)
    return hs


def write_megc_list(path: Path, lines) -> Path:
    path.write_bytes("".join(f"{d},{s},{c},{label}\r\n" for d, s, c, label in lines).encode())
    return path


def by_clip(result):
    """A loader result's records by clip name."""
    return {record.clip: record for record in result.records}
