"""Coding sheets (docs/datasets.md): an xlsx read with its header row found by content, one row per clip.

- ``read_sheet``: required columns checked and named in the error; damaged files
  are a ``ValueError`` naming the file.
- ``sheet_rows``: ``AnnotationRow`` per row, canonical subject/clip names;
  ``deduplicate_rows`` / ``megc2019_list_duplicates``: repeats counted once,
  contradicting repeats refused.
"""

from __future__ import annotations

import math
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from me_resnet.data import protocols


def read_sheet(path: Path, required: tuple[str, ...], sheet=0, header_search_rows: int = 40) -> pd.DataFrame:
    """Read an xlsx coding sheet whose header row is the first row holding a cell ``required[0]``.

    CASME II's header is row 1; SAMM's ``MICRO_ONLY`` sheet has a 13-row preamble
    (header row 14, docs/datasets.md). Column names are stripped; a ``line`` column keeps
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
    check_onsets_before_offsets(rows, path, columns)
    return rows


def check_onsets_before_offsets(rows: list[AnnotationRow], path: Path, columns: dict[str, str]) -> None:
    """``ValueError`` when every row with both frame numbers has onset > offset: the two columns are swapped.

    One such row is a bad row (dropped and listed); all of them are a sheet read the wrong way round, which
    would otherwise end in "no clip loaded" with every clip's problem quoted but not the cause.
    """
    timed = [row for row in rows if row.onset is not None and row.offset is not None]
    if not timed or any(row.onset <= row.offset for row in timed):
        return
    first = timed[0]
    raise ValueError(
        f"{path}: {columns['onset']} > {columns['offset']} in every one of its {len(timed)} rows "
        f"(e.g. {first.source}: {first.onset} > {first.offset}); are the {columns['onset']!r} and "
        f"{columns['offset']!r} headers swapped?"
    )


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
