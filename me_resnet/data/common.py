"""Helpers every micro-expression loader shares (SPEC §3).

- ``LoadResult``: what ``load_casme2`` / ``load_samm`` / ``load_smic`` return.
- ``list_frames``: a clip folder's images keyed by the integer frame number
  parsed from the end of the file name (``img46.jpg``, ``006_05562.jpg``,
  ``reg_image000123.bmp``), so order never depends on zero padding.
- ``read_sheet``: an xlsx coding sheet with its header row found by content,
  required columns checked and named in the error.
- ``make_record``: one annotated clip -> ``ClipRecord``, with the bad-apex
  switch (SPEC §3: '/' or apex outside [onset, offset] -> repair or drop) and
  the missing-frames rule (a clip missing any frame of onset..offset is dropped
  and listed; its range cannot be fed to the key-frame sampler).
"""

from __future__ import annotations

import collections
import math
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from me_resnet.data import protocols
from me_resnet.data.records import CLASS_NAMES, ClipRecord

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")
BAD_APEX_MODES = ("repair", "drop")
_TRAILING_INT = re.compile(r"(\d+)$")


@dataclass
class LoadResult:
    """Records of one dataset plus every problem met while loading them."""

    dataset: str  # "casme2" | "samm" | "smic"
    records: list[ClipRecord]  # sorted by (subject, clip), natural order
    problems: list[str] = field(default_factory=list)

    def class_counts(self) -> dict[str, int]:
        counts = collections.Counter(record.label for record in self.records)
        return {name: counts.get(index, 0) for index, name in enumerate(CLASS_NAMES)}

    def subject_counts(self) -> dict[str, int]:
        counts = collections.Counter(record.subject for record in self.records)
        return {subject: counts[subject] for subject in sorted(counts, key=natural_key)}


def natural_key(text: str) -> tuple:
    """Sort key comparing digit runs as numbers: ``s2`` < ``s10``, ``EP2`` < ``EP10``."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", str(text)))


def sort_records(records: list[ClipRecord]) -> list[ClipRecord]:
    return sorted(records, key=lambda r: (natural_key(r.subject), natural_key(r.clip)))


def check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"unknown {name} {value!r}; choose one of {list(choices)}")


def check_options(protocol: str, bad_apex: str) -> None:
    """Validate the two data switches before any I/O (``Config.protocol`` / ``Config.bad_apex``)."""
    protocols.check_protocol(protocol)
    check_choice("bad_apex", bad_apex, BAD_APEX_MODES)


def require_dir(path, what: str) -> Path:
    path = Path(path).expanduser()
    if not path.is_dir():
        raise FileNotFoundError(f"{what} root {str(path)!r} does not exist or is not a directory")
    return path


def sub_dirs(folder: Path) -> list[Path]:
    return sorted((p for p in folder.iterdir() if p.is_dir()), key=lambda p: natural_key(p.name))


def list_frames(folder: Path) -> tuple[dict[int, Path], list[str]]:
    """Image files of ``folder`` keyed by the trailing integer of the file stem.

    Returns ``(frames, problems)``; files without a trailing number are ignored,
    two files with the same number are a problem (the clip cannot be ordered).
    """
    frames: dict[int, Path] = {}
    problems = []
    for path in folder.iterdir():
        if path.suffix.lower() not in IMAGE_SUFFIXES or not path.is_file():
            continue
        match = _TRAILING_INT.search(path.stem)
        if match is None:
            continue
        number = int(match.group(1))
        if number in frames:
            problems.append(f"{folder}: two images for frame {number}: {frames[number].name}, {path.name}")
        frames[number] = path
    return frames, problems


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
            f"looked for {list(names)}; pass annotations=<xlsx> (CLI: --{dataset}-annotations)"
        )
    return found


def read_sheet(path: Path, required: tuple[str, ...], sheet=0, header_search_rows: int = 40) -> pd.DataFrame:
    """Read an xlsx coding sheet whose header row is the first row holding a cell ``required[0]``.

    CASME II's header is row 1; SAMM's ``MICRO_ONLY`` sheet has a 13-row preamble
    (header row 14, SPEC §3). Column names are stripped; a ``line`` column keeps
    the spreadsheet row number for messages.
    """
    try:
        raw = pd.read_excel(path, sheet_name=sheet, header=None, dtype=object)
    except ValueError as error:  # e.g. "Worksheet named 'MICRO_ONLY' not found"
        raise ValueError(f"cannot read sheet {sheet!r} of {path}: {error}") from None
    except (zipfile.BadZipFile, KeyError, OSError, EOFError) as error:  # truncated or not an xlsx at all
        raise ValueError(
            f"cannot read {path}: not a readable .xlsx file, truncated or damaged ({type(error).__name__}: {error})"
        ) from None
    top = raw.iloc[:header_search_rows].map(lambda value: str(value).strip())
    hits = list(top.index[(top == required[0]).any(axis=1)])
    if not hits:
        raise ValueError(f"{path}: no header row holding {required[0]!r} in the first {header_search_rows} rows")
    header_row = hits[0]
    columns = [str(value).strip() for value in raw.iloc[header_row]]
    missing = [name for name in required if name not in columns]
    if missing:
        raise ValueError(f"{path}: missing required column(s) {missing}; found {columns}")
    table = raw.iloc[header_row + 1 :].copy()
    table.columns = columns
    table = table.loc[:, ~pd.Index(columns).duplicated()]
    table["line"] = table.index + 1  # spreadsheet row numbers are 1-based
    return table[table[required[0]].notna()].reset_index(drop=True)


def cell_int(value) -> int | None:
    """An integer cell (int, 12.0, ' 12 '), or ``None`` for '/', blanks and text."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value) if float(value).is_integer() else None
    text = str(value).strip()
    try:
        number = float(text)
    except ValueError:
        return None
    return int(number) if number.is_integer() else None


def middle_frame(onset: int, offset: int) -> int:
    """SPEC §3: the repaired / SMIC default apex, ``onset + (offset - onset) // 2``."""
    return onset + (offset - onset) // 2


@dataclass(frozen=True)
class ClipSpec:
    """One clip to load: where it is, its annotated frame numbers and labels."""

    dataset: str
    subject: str  # as on disk
    folder: Path
    onset: int | None
    apex: int | None
    offset: int | None
    emotion: str
    label: int
    source: str  # where the numbers come from, for messages ("CASME2-coding.xlsx row 31")


def make_record(spec: ClipSpec, bad_apex: str) -> tuple[ClipRecord | None, list[str]]:
    """``ClipRecord`` for frames onset..offset of ``spec.folder``, or ``None`` and why.

    Unusable onset/offset -> dropped. Unusable apex ('/', < onset, > offset; apex ==
    onset is valid) -> apex = middle frame (``bad_apex="repair"``) or dropped
    (``"drop"``), SPEC §3. Any frame of onset..offset missing -> dropped.
    """
    name = f"{spec.subject}/{spec.folder.name}"
    onset, apex, offset = spec.onset, spec.apex, spec.offset
    if onset is None or offset is None or offset < onset:
        return None, [f"{name}: unusable onset/offset ({onset}, {offset}) in {spec.source}; clip dropped"]
    notes = []
    if apex is None or not onset <= apex <= offset:
        why = (
            "apex is not a frame number (e.g. '/')"
            if apex is None
            else f"apex {apex} outside onset..offset {onset}..{offset}"
        )
        if bad_apex == "drop":
            return None, [f"{name}: {why} ({spec.source}); clip dropped"]
        repaired = middle_frame(onset, offset)
        notes.append(f"{name}: {why} ({spec.source}); repaired to middle frame {repaired}")
        apex = repaired
    frames, problems = list_frames(spec.folder)
    if problems:
        return None, [f"{p}; clip dropped" for p in problems]
    numbers = tuple(range(onset, offset + 1))
    missing = [n for n in numbers if n not in frames]
    if missing:
        return None, [
            f"{name}: {len(missing)} of {len(numbers)} frames {onset}..{offset} missing in {spec.folder} "
            f"(first: {missing[0]}); clip dropped"
        ]
    record = ClipRecord(
        dataset=spec.dataset,
        subject=spec.subject,
        clip=spec.folder.name,
        frame_paths=tuple(str(frames[n]) for n in numbers),
        frame_numbers=numbers,
        onset=onset,
        apex=apex,
        offset=offset,
        emotion=spec.emotion,
        label=spec.label,
        problems=tuple(notes),
    )
    return record, notes


@dataclass(frozen=True)
class AnnotationRow:
    """One coding-sheet row, with the subject/clip already canonical (``protocols.canonical_*``)."""

    subject: str
    clip: str
    onset: int | None
    apex: int | None
    offset: int | None
    emotion: str
    source: str  # "<file> row <n>"

    @property
    def key(self) -> tuple[str, str]:
        return (self.subject, self.clip)


def select_clips(dataset: str, rows: list[AnnotationRow], protocol: str, megc_list=None):
    """``[(row, label)]`` the protocol keeps, and problems (SPEC §3 label protocols).

    megc2019: the list's clips of ``dataset`` with the list's label; a listed
    clip without a sheet row is a problem; rows not listed are counted.
    paper_literal / paper_extended: rows whose emotion maps to a class; the others are counted by emotion.
    """
    protocols.check_protocol(protocol)
    problems = []
    if protocol == "megc2019":
        problems += megc2019_list_duplicates(dataset, megc_list)
        listed = protocols.read_megc2019_list(megc_list)[dataset]
        by_key = {row.key: row for row in rows}
        selected = [(by_key[key], label) for key, label in listed.items() if key in by_key]
        problems += [
            f"{s}/{c}: in the megc2019 list but no row in the coding sheet; skipped"
            for s, c in listed
            if (s, c) not in by_key
        ]
        unlisted = sum(row.key not in listed for row in rows)
        if unlisted:
            problems.append(f"{unlisted} coding-sheet rows not in the megc2019 list skipped")
        return selected, problems
    selected, excluded = [], collections.Counter()
    for row in rows:
        label = protocols.paper_label(dataset, row.emotion, protocol)
        if label is None:
            excluded[row.emotion] += 1
        else:
            selected.append((row, label))
    if excluded:
        problems.append(
            f"{sum(excluded.values())} rows excluded by the {protocol} protocol: "
            + ", ".join(f"{e} {n}" for e, n in sorted(excluded.items()))
        )
    return selected, problems


def assemble_annotated(
    dataset: str,
    rows: list[AnnotationRow],
    clip_dirs: dict[tuple[str, str], Path],
    *,
    protocol: str,
    bad_apex: str,
    megc_list=None,
) -> LoadResult:
    """Records of the clips ``protocol`` selects from ``rows``, found in ``clip_dirs`` (canonical key -> folder).

    Problems listed: folders without a row, selected rows without a folder,
    repaired/dropped apexes, missing frames, protocol exclusions (counted).
    """
    check_choice("bad_apex", bad_apex, BAD_APEX_MODES)
    rows, problems = deduplicate_rows(rows)
    problems += folder_alias_problems(dataset, clip_dirs)
    selected, selection_problems = select_clips(dataset, rows, protocol, megc_list)
    problems += selection_problems
    row_keys = {row.key for row in rows}
    problems += [
        f"{folder.parent.name}/{folder.name}: folder without a coding-sheet row; skipped"
        for key, folder in clip_dirs.items()
        if key not in row_keys
    ]
    selected_keys = {row.key for row, _ in selected}
    not_selected = sum(key in row_keys and key not in selected_keys for key in clip_dirs)
    if not_selected:
        problems.append(f"{not_selected} clip folders not selected by protocol {protocol!r} skipped")
    records = []
    for row, label in selected:
        folder = clip_dirs.get(row.key)
        if folder is None:
            problems.append(f"{row.subject}/{row.clip}: row without folder ({row.source}); skipped")
            continue
        spec = ClipSpec(
            dataset, folder.parent.name, folder, row.onset, row.apex, row.offset, row.emotion, label, row.source
        )
        record, notes = make_record(spec, bad_apex)
        problems += notes
        if record is not None:
            records.append(record)
    return LoadResult(dataset, sort_records(records), problems)


def sheet_rows(dataset: str, path: Path, columns: dict[str, str], sheet=0) -> list[AnnotationRow]:
    """``AnnotationRow`` per sheet row; ``columns`` maps subject/clip/onset/apex/offset/emotion to headers."""
    order = ("subject", "clip", "onset", "apex", "offset", "emotion")
    table = read_sheet(path, tuple(columns[name] for name in order), sheet=sheet)
    rows = []
    for record in table.to_dict("records"):
        emotion = record[columns["emotion"]]
        rows.append(
            AnnotationRow(
                subject=protocols.canonical_subject(dataset, record[columns["subject"]]),
                clip=protocols.canonical_clip(dataset, record[columns["clip"]]),
                onset=cell_int(record[columns["onset"]]),
                apex=cell_int(record[columns["apex"]]),
                offset=cell_int(record[columns["offset"]]),
                emotion="" if pd.isna(emotion) else str(emotion).strip(),
                source=f"{path.name} row {record['line']}",
            )
        )
    return rows


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


def deduplicate_rows(rows: list[AnnotationRow]) -> tuple[list[AnnotationRow], list[str]]:
    """Rows with repeated (subject, clip) keys removed, and problems.

    A repeat with the same onset/apex/offset/emotion is counted and kept once;
    one with other values raises ``ValueError`` naming both rows and the values:
    no silent choice between two labels or timings of one clip.
    """
    first: dict[tuple[str, str], AnnotationRow] = {}
    repeats = []
    for row in rows:
        earlier = first.get(row.key)
        if earlier is None:
            first[row.key] = row
            continue
        fields = ("onset", "apex", "offset", "emotion")
        differing = [name for name in fields if getattr(earlier, name) != getattr(row, name)]
        if differing:
            values = "; ".join(f"{name} {getattr(earlier, name)!r} vs {getattr(row, name)!r}" for name in differing)
            raise ValueError(
                f"{earlier.source} and {row.source} both describe clip {row.subject}/{row.clip} with different "
                f"values ({values}); remove the wrong row"
            )
        repeats.append(f"{row.source} repeats {earlier.source}")
    problems = [f"{len(repeats)} duplicated coding-sheet row(s) counted once: {repeats[:10]}"] if repeats else []
    return list(first.values()), problems


def megc2019_list_duplicates(dataset: str, path=None) -> list[str]:
    """Problems for repeated ``dataset`` lines of the MEGC 2019 list; a repeat with another label raises.

    Lines are compared by canonical key, so ``s01_ne_01`` repeats ``s1_ne_01``.
    """
    path = Path(path).expanduser() if path is not None else protocols.MEGC2019_LIST
    if not path.is_file():
        return []  # read_megc2019_list reports the missing file
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise ValueError(f"cannot read {path}: not a UTF-8 text file, damaged? ({error})") from None
    seen: dict[tuple[str, str], tuple[int, str]] = {}
    repeats = []
    for number, line in enumerate(text.splitlines(), start=1):
        parts = [part.strip() for part in line.split(",")]
        if len(parts) != 4 or parts[0] != dataset:
            continue
        key = (protocols.canonical_subject(dataset, parts[1]), protocols.canonical_clip(dataset, parts[2]))
        if key not in seen:
            seen[key] = (number, parts[3])
            continue
        first_line, label = seen[key]
        if label != parts[3]:
            raise ValueError(
                f"{path} lines {first_line} and {number} give clip {dataset}/{key[0]}/{key[1]} two labels "
                f"({label} and {parts[3]}); remove the wrong line"
            )
        repeats.append(f"line {number} repeats line {first_line} ({key[0]}/{key[1]})")
    if not repeats:
        return []
    return [f"{path.name}: {len(repeats)} duplicated {dataset} line(s) counted once: {repeats[:10]}"]


def require_records(result: LoadResult, root: Path) -> LoadResult:
    """``result`` if it holds clips, else ``ValueError``: an empty dataset is never a silent 0-clip run."""
    if not result.records:
        shown = "; ".join(result.problems[:5]) or "none"
        raise ValueError(
            f"no {result.dataset} clip loaded from {str(root)!r} (check the layout and the protocol); "
            f"{len(result.problems)} problem(s), first: {shown}"
        )
    return result


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
