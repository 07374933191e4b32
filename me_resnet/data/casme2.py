"""CASME II loader (docs/datasets.md).

Layout: ``<root>/CASME2_RAW_selected/subXX/<clip>/img<N>.jpg`` or the cropped
release ``<root>/Cropped/subXX/<clip>/reg_img<N>.jpg`` (``root`` may also be the
folder holding ``subXX/`` itself; if both releases are present the raw one is
used, the kit crops faces itself). Annotation: ``CASME2-coding-20190701.xlsx``
(preferred) or ``CASME2-coding-20140508.xlsx``, found inside ``root`` (2 levels)
or its parent, or given. Quirks handled: ``Subject`` read as int 1 -> ``sub01``;
``ApexFrame`` '/' (sub04/EP12_01f) -> bad apex; apex == onset is valid;
irregular clip names are matched verbatim; folders without a row and rows
without a folder are listed in ``LoadResult.problems``.
"""

from __future__ import annotations

from me_resnet.data.common import LoadResult, assemble_annotated, check_options, require_records
from me_resnet.data.files import clip_folders, find_frames_root, locate_annotation, require_dir
from me_resnet.data.sheets import sheet_rows

ANNOTATION_NAMES = ("CASME2-coding-20190701.xlsx", "CASME2-coding-20140508.xlsx")
FRAME_FOLDERS = ("CASME2_RAW_selected", "Cropped")
SUBJECT_PATTERN = r"sub\d+"
COLUMNS = {
    "subject": "Subject",
    "clip": "Filename",
    "onset": "OnsetFrame",
    "apex": "ApexFrame",
    "offset": "OffsetFrame",
    "emotion": "Estimated Emotion",
}


def load_casme2(root, *, protocol="megc2019", bad_apex="repair", annotations=None, megc_list=None) -> LoadResult:
    """CASME II clips as ``ClipRecord`` (frames onset..offset) under ``protocol``.

    ``bad_apex``: "repair" (apex = middle frame, listed) | "drop". ``annotations``
    overrides the coding sheet, ``megc_list`` the shipped MEGC 2019 list.
    """
    check_options(protocol, bad_apex)
    root = require_dir(root, "CASME II")
    frames_root = find_frames_root(root, SUBJECT_PATTERN, FRAME_FOLDERS, "CASME II")
    sheet = locate_annotation(root, annotations, ANNOTATION_NAMES, "casme2")
    rows = sheet_rows("casme2", sheet, COLUMNS)
    folders = clip_folders("casme2", frames_root, SUBJECT_PATTERN)
    result = assemble_annotated("casme2", rows, folders, protocol=protocol, bad_apex=bad_apex, megc_list=megc_list)
    return require_records(result, root)
