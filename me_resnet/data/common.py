"""Records from annotations, the part every micro-expression loader shares (docs/datasets.md).

Files on disk are ``me_resnet.data.files``, coding sheets ``me_resnet.data.sheets``.

- ``LoadResult``: what ``load_casme2`` / ``load_samm`` / ``load_smic`` return.
- ``assemble_annotated``: coding-sheet rows + clip folders -> records, with the
  protocol's clip selection (``select_clips``) and every problem listed.
- ``make_record``: one annotated clip -> ``ClipRecord``, with the bad-apex
  switch (docs/datasets.md: '/' or apex outside [onset, offset] -> repair or drop) and
  the missing-frames rule (a clip missing any frame of onset..offset is dropped
  and listed; its range cannot be fed to the key-frame sampler).
"""

from __future__ import annotations

import collections
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from me_resnet.config import field_choices
from me_resnet.data import protocols
from me_resnet.data.files import folder_alias_problems, list_frames, natural_key, unnumbered_note
from me_resnet.data.records import CLASS_NAMES, ClipRecord
from me_resnet.data.sheets import AnnotationRow, deduplicate_rows, megc2019_list_duplicates


@dataclass
class LoadResult:
    """Records of one dataset plus every problem met while loading them."""

    dataset: str  # "casme2" | "samm" | "smic"
    records: list[ClipRecord]  # sorted by (subject, clip), natural order
    problems: list[str] = field(default_factory=list)
    # clips the protocol selects that did not load, "dataset/subject/clip" -> why (also in ``problems``)
    dropped: dict[str, str] = field(default_factory=dict)
    # megc2019 protocol: the clips the list names for this dataset, and those of them the tree holds nothing
    # of (no coding-sheet row; SMIC: no folder), "subject/clip" -> why (also in ``problems``)
    listed: int = 0
    listed_absent: dict[str, str] = field(default_factory=dict)

    def as_subset(self) -> LoadResult:
        """This result for a tree that holds part of the megc2019 list by design (the demo data): the list's
        clips it has nothing of leave ``problems`` (``listed_absent`` keeps them)."""
        absent = set(self.listed_absent.values())
        return dataclasses.replace(self, problems=[problem for problem in self.problems if problem not in absent])

    def repaired(self) -> dict[str, str]:
        """``{clip key: what the loader repaired}`` of the loaded clips it repaired (e.g. a bad apex)."""
        return {record.key: "; ".join(record.problems) for record in self.records if record.problems}

    def class_counts(self) -> dict[str, int]:
        counts = collections.Counter(record.label for record in self.records)
        return {name: counts.get(index, 0) for index, name in enumerate(CLASS_NAMES)}

    def subject_counts(self) -> dict[str, int]:
        counts = collections.Counter(record.subject for record in self.records)
        return {subject: counts[subject] for subject in sorted(counts, key=natural_key)}


def sort_records(records: list[ClipRecord]) -> list[ClipRecord]:
    return sorted(records, key=lambda r: (natural_key(r.subject), natural_key(r.clip)))


def check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"unknown {name} {value!r}; choose one of {list(choices)}")


def check_options(protocol: str, bad_apex: str) -> None:
    """Validate the two data switches before any I/O (``Config.protocol`` / ``Config.bad_apex``)."""
    protocols.check_protocol(protocol)
    check_choice("bad_apex", bad_apex, field_choices("bad_apex"))


def middle_frame(onset: int, offset: int) -> int:
    """docs/datasets.md: the repaired / SMIC default apex, ``onset + (offset - onset) // 2``."""
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
    (``"drop"``), docs/datasets.md. Any frame of onset..offset missing -> dropped.
    Image files without a frame number in the folder are left out and named in
    the notes, not in the record's ``problems`` (they repair nothing).
    """
    check_choice("bad_apex", bad_apex, field_choices("bad_apex"))
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
    frames, problems, unnumbered = list_frames(spec.folder)
    left_out = unnumbered_note(spec.folder, unnumbered)  # reported, not a repair of the clip (record.problems)
    if problems:
        return None, notes + left_out + [f"{p}; clip dropped" for p in problems]
    numbers = tuple(range(onset, offset + 1))
    missing = [n for n in numbers if n not in frames]
    if missing:
        return None, notes + left_out + [
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
    return record, notes + left_out


def absent_from_list(listed, present, lacking: str) -> dict[str, str]:
    """``{"subject/clip": why}`` for the megc2019 list's clips (``listed`` keys) not in ``present``."""
    return {
        f"{s}/{c}": f"{s}/{c}: in the megc2019 list but {lacking}; skipped" for s, c in listed if (s, c) not in present
    }


def select_clips(dataset: str, rows: list[AnnotationRow], protocol: str, megc_list=None):
    """``[(row, label)]`` the protocol keeps, problems, and the listed clips without a row (docs/datasets.md).

    megc2019: the list's clips of ``dataset`` with the list's label; a listed
    clip without a sheet row is a problem (also returned, ``absent_from_list``); rows not listed are counted.
    paper_literal / paper_extended: rows whose emotion maps to a class; the others are counted by emotion.
    """
    protocols.check_protocol(protocol)
    problems = []
    if protocol == "megc2019":
        problems += megc2019_list_duplicates(dataset, megc_list)
        listed = protocols.read_megc2019_list(megc_list)[dataset]
        by_key = {row.key: row for row in rows}
        selected = [(by_key[key], label) for key, label in listed.items() if key in by_key]
        absent = absent_from_list(listed, by_key, "no row in the coding sheet")
        problems += absent.values()
        unlisted = sum(row.key not in listed for row in rows)
        if unlisted:
            problems.append(f"{unlisted} coding-sheet rows not in the megc2019 list skipped")
        return selected, problems, absent
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
    return selected, problems, {}


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
    check_choice("bad_apex", bad_apex, field_choices("bad_apex"))
    rows, problems = deduplicate_rows(rows)
    problems += folder_alias_problems(dataset, clip_dirs)
    selected, selection_problems, absent = select_clips(dataset, rows, protocol, megc_list)
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
    records, dropped = [], {}
    for row, label in selected:
        folder = clip_dirs.get(row.key)
        if folder is None:
            problems.append(f"{row.subject}/{row.clip}: row without folder ({row.source}); skipped")
            dropped[f"{dataset}/{row.subject}/{row.clip}"] = problems[-1]
            continue
        spec = ClipSpec(
            dataset, folder.parent.name, folder, row.onset, row.apex, row.offset, row.emotion, label, row.source
        )
        record, notes = make_record(spec, bad_apex)
        problems += notes
        if record is not None:
            records.append(record)
        else:
            dropped[f"{dataset}/{spec.subject}/{folder.name}"] = "; ".join(notes)
    listed = len(selected) + len(absent) if protocol == "megc2019" else 0
    return LoadResult(dataset, sort_records(records), problems, dropped, listed, absent)


def require_records(result: LoadResult, root: Path) -> LoadResult:
    """``result`` if it holds clips, else ``ValueError``: an empty dataset is never a silent 0-clip run."""
    if not result.records:
        shown = "; ".join(result.problems[:5]) or "none"
        raise ValueError(
            f"no {result.dataset} clip loaded from {str(root)!r} (check the layout and the protocol); "
            f"{len(result.problems)} problem(s), first: {shown}"
        )
    return result
