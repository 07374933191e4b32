"""SMIC-HS loader (docs/datasets.md).

Layout: ``<root>/HS/s<N>/micro/{negative,positive,surprise}/s<N>_{ne,po,sur}_<NN>/
reg_image<frame:06d>.bmp`` (raw release ``image<frame:06d>.bmp``); ``root`` may
be the HS folder, ``SMIC_all_cropped`` or its parent. There is no annotation
file: onset = first frame, offset = last frame, apex = middle frame
``onset + (offset - onset) // 2`` (``smic_apex="middle"``) or the frame of
maximum mean absolute grey difference from the onset frame (``"spot"``).
The label is the class folder (paper protocol) or the megc2019 list's label.
"""

from __future__ import annotations

import re

import cv2
import numpy as np
from tqdm import tqdm

from me_resnet.config import field_choices
from me_resnet.data import protocols
from me_resnet.data.common import (
    ClipSpec,
    LoadResult,
    absent_from_list,
    check_choice,
    check_options,
    make_record,
    middle_frame,
    require_records,
    sort_records,
)
from me_resnet.data.files import (
    add_clip_folder,
    find_frames_root,
    folder_alias_problems,
    list_frames,
    require_dir,
    sub_dirs,
)
from me_resnet.data.sheets import megc2019_list_duplicates
from me_resnet.utils.images import read_image

CLASS_FOLDERS = ("negative", "positive", "surprise")
SUBJECT_PATTERN = r"s\d+"


def read_grey(path) -> np.ndarray:
    """One frame as a grey uint8 array; damaged or unreadable files raise ``ValueError`` naming the file."""
    return read_image(path, cv2.IMREAD_GRAYSCALE)


def spot_apex(frame_paths: dict[int, object]) -> int:
    """Frame number with the largest mean |frame - onset frame| (first one on ties)."""
    numbers = sorted(frame_paths)
    onset = read_grey(frame_paths[numbers[0]]).astype(np.float32)
    scores = [float(np.mean(np.abs(read_grey(frame_paths[n]).astype(np.float32) - onset))) for n in numbers]
    return numbers[int(np.argmax(scores))]


def smic_clip_folders(hs_root) -> tuple[dict[tuple[str, str], tuple], list[str]]:
    """``{(subject, clip): (folder, class_folder)}`` under ``s<N>/micro/<class>/``, and problems."""
    folders, problems = {}, []
    subject_dirs = [folder for folder in sub_dirs(hs_root) if re.fullmatch(SUBJECT_PATTERN, folder.name)]
    for subject_dir in subject_dirs:
        micro = subject_dir / "micro"
        if not micro.is_dir():
            classes = [folder.name for folder in sub_dirs(subject_dir) if folder.name.lower() in CLASS_FOLDERS]
            if classes:
                raise ValueError(
                    f"{subject_dir}: class folders {classes} sit directly in the subject folder; SMIC-HS clips "
                    f"must be in {subject_dir / 'micro'}/<class>/<clip>/ (the micro/ level is missing)"
                )
            problems.append(f"{subject_dir}: no micro/ folder; subject skipped")
            continue
        for class_dir in sub_dirs(micro):
            if class_dir.name.lower() not in CLASS_FOLDERS:
                problems.append(f"{class_dir}: unknown class folder (expected {list(CLASS_FOLDERS)}); skipped")
                continue
            for clip_dir in sub_dirs(class_dir):
                add_clip_folder(folders, "smic", subject_dir.name, clip_dir.name, (clip_dir, class_dir.name.lower()))
    if subject_dirs and not any((folder / "micro").is_dir() for folder in subject_dirs):
        raise ValueError(
            f"no subject folder of {hs_root} has a micro/ folder: SMIC-HS clips must be in "
            f"{hs_root}/s<N>/micro/<class>/<clip>/"
        )
    return folders, problems + folder_alias_problems("smic", folders)


def _labels(folders: dict, protocol: str, megc_list) -> tuple[dict[tuple[str, str], int], list[str], dict]:
    """Label per selected clip key under ``protocol``, problems, and the listed clips without a folder."""
    if protocol in protocols.PAPER_PROTOCOLS:  # SMIC's class folders read the same under both
        return {key: protocols.paper_label("smic", class_name) for key, (_, class_name) in folders.items()}, [], {}
    listed = protocols.read_megc2019_list(megc_list)["smic"]
    absent = absent_from_list(listed, folders, "no clip folder")
    problems = megc2019_list_duplicates("smic", megc_list) + list(absent.values())
    unlisted = sum(key not in listed for key in folders)
    if unlisted:
        problems.append(f"{unlisted} clip folders not in the megc2019 list skipped")
    for key, label in listed.items():
        if key in folders and protocols.paper_label("smic", folders[key][1]) != label:
            problems.append(
                f"{key[0]}/{key[1]}: folder class {folders[key][1]!r} differs from megc2019 label {label}; "
                "list label used"
            )
    return {key: label for key, label in listed.items() if key in folders}, problems, absent


def load_smic(root, *, protocol="megc2019", smic_apex="middle", megc_list=None) -> LoadResult:
    """SMIC-HS clips as ``ClipRecord`` (all frames of the clip folder) under ``protocol``."""
    check_options(protocol, "repair")
    check_choice("smic_apex", smic_apex, field_choices("smic_apex"))
    hs_root = find_frames_root(require_dir(root, "SMIC"), SUBJECT_PATTERN, ("HS",), "SMIC-HS")
    folders, problems = smic_clip_folders(hs_root)
    labels, label_problems, absent = _labels(folders, protocol, megc_list)
    problems += label_problems
    records, dropped = [], {}
    keys = sorted(labels)
    for key in tqdm(keys, desc="SMIC apex spotting", unit="clip", disable=smic_apex != "spot" or None):
        folder, class_name = folders[key]
        frames, _, _ = list_frames(folder)  # make_record reports what list_frames found
        if not frames:
            problems.append(f"{folder}: no frames; clip dropped")
            dropped[f"smic/{folder.parents[2].name}/{folder.name}"] = problems[-1]
            continue
        onset, offset = min(frames), max(frames)
        apex = spot_apex(frames) if smic_apex == "spot" else middle_frame(onset, offset)
        spec = ClipSpec(
            "smic",
            folder.parents[2].name,
            folder,
            onset,
            apex,
            offset,
            class_name,
            labels[key],
            f"{folder.name} ({smic_apex} apex)",
        )
        record, notes = make_record(spec, "repair")
        problems += notes
        if record is not None:
            records.append(record)
        else:
            dropped[f"smic/{spec.subject}/{folder.name}"] = "; ".join(notes)
    listed = len(labels) + len(absent) if protocol == "megc2019" else 0
    result = LoadResult("smic", sort_records(records), problems, dropped, listed, absent)
    return require_records(result, hs_root)
