"""SAMM loader (docs/datasets.md).

Layout: ``<root>/<subject>/<clip>/<subject>_<frame>.jpg`` (grayscale; frame
numbers 4 or 5 digits, so the trailing integer is parsed), optionally under
``<root>/SAMM/``. Annotation ``SAMM_Micro_FACS_Codes_v2.xlsx``, sheet
``MICRO_ONLY``, 13-row preamble, header row 14 (found by content, so a
re-saved sheet with another preamble still loads). ``Subject`` 6 -> ``006``.
Known bad rows 028_4_1 (apex > offset) and 032_3_1 (apex < onset) are repaired
to the middle frame by default (``bad_apex="drop"`` drops them); both are in
the megc2019 list.
"""

from __future__ import annotations

from me_resnet.data.common import LoadResult, assemble_annotated, check_options, require_records
from me_resnet.data.files import clip_folders, find_frames_root, locate_annotation, require_dir
from me_resnet.data.sheets import sheet_rows

ANNOTATION_NAMES = ("SAMM_Micro_FACS_Codes_v2.xlsx",)
SHEET = "MICRO_ONLY"
FRAME_FOLDERS = ("SAMM",)
SUBJECT_PATTERN = r"\d+"
COLUMNS = {
    "subject": "Subject",
    "clip": "Filename",
    "onset": "Onset Frame",
    "apex": "Apex Frame",
    "offset": "Offset Frame",
    "emotion": "Estimated Emotion",
}


def load_samm(root, *, protocol="megc2019", bad_apex="repair", annotations=None, megc_list=None) -> LoadResult:
    """SAMM clips as ``ClipRecord`` (frames onset..offset) under ``protocol``; see ``load_casme2``."""
    check_options(protocol, bad_apex)
    root = require_dir(root, "SAMM")
    frames_root = find_frames_root(root, SUBJECT_PATTERN, FRAME_FOLDERS, "SAMM")
    sheet = locate_annotation(root, annotations, ANNOTATION_NAMES, "samm")
    rows = sheet_rows("samm", sheet, COLUMNS, sheet=SHEET)
    folders = clip_folders("samm", frames_root, SUBJECT_PATTERN)
    result = assemble_annotated("samm", rows, folders, protocol=protocol, bad_apex=bad_apex, megc_list=megc_list)
    return require_records(result, root)
