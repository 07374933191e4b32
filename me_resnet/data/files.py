"""Files of a dataset on disk (docs/datasets.md): folders in natural order, frames by number, the coding sheet's place.

- ``list_frames``: a clip folder's images keyed by the integer frame number
  parsed from the end of the file name (``img46.jpg``, ``006_05562.jpg``,
  ``reg_image000123.bmp``), so order never depends on zero padding.
- ``clip_folders``: ``{(subject, clip): folder}`` under canonical names; two
  spellings of one clip are an error naming both folders.
"""

from __future__ import annotations

import re
from pathlib import Path

from me_resnet.data import protocols

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")
_TRAILING_INT = re.compile(r"(\d+)$")


def natural_key(text: str) -> tuple:
    """Sort key comparing digit runs as numbers: ``s2`` < ``s10``, ``EP2`` < ``EP10``."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", str(text)))


def require_dir(path, what: str) -> Path:
    path = Path(path).expanduser()
    if not path.is_dir():
        raise FileNotFoundError(f"{what} root {str(path)!r} does not exist or is not a directory")
    return path


def sub_dirs(folder: Path) -> list[Path]:
    return sorted((p for p in folder.iterdir() if p.is_dir()), key=lambda p: natural_key(p.name))


def list_frames(folder: Path) -> tuple[dict[int, Path], list[str], list[str]]:
    """Image files of ``folder`` keyed by the trailing integer of the file stem.

    Returns ``(frames, problems, unnumbered)``: two files with the same number
    are a problem (the clip cannot be ordered); image files without a trailing
    number (``cover.jpg``, ``img12a.jpg``) are left out and named, sorted, in
    ``unnumbered`` for the caller to report. Files that are not images are
    not frames and are not reported.
    """
    frames: dict[int, Path] = {}
    problems, unnumbered = [], []
    for path in folder.iterdir():
        if path.suffix.lower() not in IMAGE_SUFFIXES or not path.is_file():
            continue
        match = _TRAILING_INT.search(path.stem)
        if match is None:
            unnumbered.append(path.name)
            continue
        number = int(match.group(1))
        if number in frames:
            problems.append(f"{folder}: two images for frame {number}: {frames[number].name}, {path.name}")
        frames[number] = path
    return frames, problems, sorted(unnumbered, key=natural_key)


def unnumbered_note(folder: Path, unnumbered: list[str], shown: int = 3) -> list[str]:
    """The note for ``list_frames``'s ``unnumbered`` images of ``folder`` (none when there are none)."""
    if not unnumbered:
        return []
    names = ", ".join(unnumbered[:shown]) + (", ..." if len(unnumbered) > shown else "")
    return [
        f"{folder}: {len(unnumbered)} image file(s) without a frame number at the end of the name left out: {names}"
    ]


def find_file(root: Path, names: tuple[str, ...], depth: int = 2) -> Path | None:
    """First file named one of ``names`` (in preference order) within ``depth`` levels of ``root``."""
    levels = [[root]]
    for _ in range(depth):
        levels.append([child for folder in levels[-1] for child in sub_dirs(folder)])
    for name in names:
        for level in levels:
            for folder in level:
                if (folder / name).is_file():
                    return folder / name
    return None


def locate_annotation(root: Path, given, names: tuple[str, ...], dataset: str) -> Path:
    """The coding sheet: ``given`` if set, else an official name inside ``root`` (or its parent)."""
    if given is not None:
        path = Path(given).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"{dataset} annotation file {str(path)!r} does not exist")
        return path
    found = find_file(root, names) or find_file(root.parent, names, depth=0)
    if found is None:
        raise FileNotFoundError(
            f"no {dataset} annotation file found in {str(root)!r} (2 levels deep) or its parent; "
            f"looked for {list(names)}; pass annotations=<xlsx>"
        )
    return found


def find_frames_root(root: Path, subject_pattern: str, folder_names: tuple[str, ...], dataset: str) -> Path:
    """The folder holding the subject folders: ``root`` itself or ``root/<name>`` (also one level deeper)."""

    def has_subjects(folder: Path) -> bool:
        return folder.is_dir() and any(re.fullmatch(subject_pattern, p.name) for p in sub_dirs(folder))

    candidates = [root]
    for name in folder_names:
        candidates += [root / name] + [child / name for child in sub_dirs(root)]
    for folder in candidates:
        if has_subjects(folder):
            return folder
    raise FileNotFoundError(
        f"no {dataset} subject folders (matching {subject_pattern!r}) in {str(root)!r} "
        f"or its sub-folders {list(folder_names)}"
    )


def clip_folders(dataset: str, frames_root: Path, subject_pattern: str) -> dict[tuple[str, str], Path]:
    """``{(subject, clip): folder}`` for ``frames_root/<subject>/<clip>/``, canonical keys.

    Two folders that are spellings of one clip (``sub1/`` and ``sub01/``) raise
    ``ValueError`` naming both (``add_clip_folder``).
    """
    folders = {}
    for subject_dir in sub_dirs(frames_root):
        if re.fullmatch(subject_pattern, subject_dir.name):
            for clip_dir in sub_dirs(subject_dir):
                add_clip_folder(folders, dataset, subject_dir.name, clip_dir.name, clip_dir)
    return folders


def add_clip_folder(folders: dict, dataset: str, subject: str, clip: str, value) -> None:
    """Add ``value`` under the canonical key of ``subject``/``clip``; a second spelling of a key is an error."""
    key = (protocols.canonical_subject(dataset, subject), protocols.canonical_clip(dataset, clip))
    if key in folders:
        other = folders[key][0] if isinstance(folders[key], tuple) else folders[key]
        here = value[0] if isinstance(value, tuple) else value
        raise ValueError(
            f"{other} and {here} are two folders of the same {dataset} clip {key[0]}/{key[1]} "
            f"(spellings of one subject or clip name); keep one of them"
        )
    folders[key] = value


def folder_alias_problems(dataset: str, folders) -> list[str]:
    """One problem counting the subject/clip folders whose on-disk name is not the canonical spelling."""
    renamed = {}
    for (subject, clip), value in folders.items():
        folder = value[0] if isinstance(value, tuple) else value
        subject_dir = folder.parents[2] if dataset == "smic" else folder.parent
        if subject_dir.name != subject:
            renamed[subject_dir.name] = subject
        if folder.name != clip:
            renamed[folder.name] = clip
    if not renamed:
        return []
    pairs = ", ".join(f"{name} -> {canonical}" for name, canonical in sorted(renamed.items())[:10])
    return [f"{len(renamed)} folder name(s) read under the canonical spelling: {pairs}"]
