"""The demo's coding sheets, written like the official ones (CASME II ``Sheet1``, SAMM ``MICRO_ONLY``).

Same rows -> byte-identical files: fixed document and zip-member timestamps.
"""

from __future__ import annotations

import io
import zipfile
from datetime import datetime
from pathlib import Path

XLSX_DATE = datetime(2019, 7, 1)
CASME2_HEADER = (
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
)
SAMM_HEADER = (
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
)
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
    Path(path).write_bytes(fixed.getvalue())


def write_casme2_sheet(path: Path, rows: list[list]) -> None:
    """``CASME2-coding-*.xlsx``: header in row 1 of ``Sheet1``, rows sorted by subject and clip, two empty sheets."""
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Sheet1"
    sheet.append(list(CASME2_HEADER))
    for row in sorted(rows, key=lambda r: (r[0], r[1])):
        sheet.append(row)
    workbook.create_sheet("Sheet2")
    workbook.create_sheet("Sheet3")
    save_workbook_deterministic(workbook, path)


def write_samm_sheet(path: Path, rows: list[list]) -> None:
    """``SAMM_Micro_FACS_Codes_v2.xlsx``: sheet ``MICRO_ONLY``, 13-row preamble, header in row 14."""
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "MICRO_ONLY"
    for line in SAMM_PREAMBLE:
        sheet.append([line])
    sheet.append(list(SAMM_HEADER))
    for row in rows:
        sheet.append(row)
    save_workbook_deterministic(workbook, path)
