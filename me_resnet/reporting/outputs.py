"""Result files: predictions and metrics (CSV + JSON with config, coverage and provenance), written atomically.

A result folder is written as one unit (``me_resnet.reporting.result_folder``): a
command stages every file of its result (these and its table and plot) and
moves them in together, so ``out`` never holds one run's CSVs beside another's
``metrics.json``.

A result says what it covers (``Coverage``: datasets, folds, seeds, methods).
A result that covers less than the protocol (some folds or some datasets) is
*partial*: its tables say so and show no "kit − paper" differences, and it never
silently replaces a complete result (``check_replace``).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd

from me_resnet.config import Config
from me_resnet.reporting.result_folder import final_paths, is_staging, recover, result_folder
from me_resnet.utils.io import temporary_file, write_atomic
from me_resnet.utils.provenance import provenance


class ResultExistsError(RuntimeError):
    """Writing would replace a complete result by one that covers less of it (``reason`` says which and how)."""

    def __init__(self, reason: str):
        super().__init__(f"{reason}. Write elsewhere, or replace it with force=True.")
        self.reason = reason


@dataclass(frozen=True)
class Coverage:
    """What part of the protocol a result covers.

    ``folds``: the ``--folds`` entries (None: every fold) and, per LOSO scope, the
    groups that ran; ``datasets``: those run, out of ``required`` (the artifact's).
    """

    datasets: tuple[str, ...]
    required: tuple[str, ...]
    seeds: tuple[int, ...] = ()
    methods: tuple[str, ...] = ()
    folds: tuple | None = None
    fold_groups: dict = field(default_factory=dict)  # {method: {scope: [groups]}} when folds were selected

    @property
    def complete(self) -> bool:
        return self.folds is None and set(self.required) <= set(self.datasets)

    def describe(self) -> str:
        """One line, e.g. 'folds 0 of datasets casme2, smic, samm; seeds 0; methods me_resnet'."""
        parts = []
        if self.folds is not None:
            parts.append(f"only folds {' '.join(map(str, self.folds))}")
        missing = [name for name in self.required if name not in self.datasets]
        parts.append(f"datasets {', '.join(self.datasets)}" + (f" (not {', '.join(missing)})" if missing else ""))
        if self.seeds:
            parts.append(f"seeds {' '.join(map(str, self.seeds))}")
        if self.methods:
            parts.append(f"methods {' '.join(self.methods)}")
        return "; ".join(parts)

    def slug(self) -> str:
        """A folder name for a partial result, e.g. 'partial-datasets-casme2-folds-0-casme2_sub01'."""
        parts = []
        if not set(self.required) <= set(self.datasets):
            parts.append("datasets-" + "-".join(self.datasets))
        if self.folds is not None:
            parts.append("folds-" + "-".join(str(fold) for fold in self.folds))
        name = "partial-" + "-".join(parts)
        return re.sub(r"[^A-Za-z0-9._-]+", "_", name)[:120]

    def to_dict(self) -> dict:
        return asdict(self) | {"complete": self.complete, "description": self.describe()}


def output_dir(base: Path, coverage: Coverage) -> Path:
    """``base`` for a complete result, ``base/partial-<what>`` for a partial one."""
    return base if coverage.complete else base / coverage.slug()


def _covered(document: dict) -> tuple[bool, set, set]:
    """(complete, seeds, methods) of an existing ``metrics.json``; one without coverage counts as complete."""
    coverage = document.get("coverage")
    if coverage is not None:
        return bool(coverage.get("complete")), set(coverage.get("seeds") or ()), set(coverage.get("methods") or ())
    rows = document.get("metrics") or []
    seeds = {int(seed) for row in rows for seed in str(row.get("seeds", "")).split()}
    return True, seeds, {row["method"] for row in rows if "method" in row}


def check_replace(out: Path, coverage: Coverage, force: bool = False) -> None:
    """Raise ``ResultExistsError`` if ``out`` holds a complete result that ``coverage`` does not cover.

    A new result may replace a complete one only if it is complete too and has
    at least its seeds and methods; ``force`` allows anything.
    """
    recover(out)  # a result whose move into ``out`` was interrupted is finished first
    existing = Path(out) / "metrics.json"
    if force or not existing.is_file():
        return
    try:
        complete, seeds, methods = _covered(json.loads(existing.read_text()))
    except (ValueError, TypeError, KeyError):
        return  # unreadable: nothing trustworthy to protect
    if not complete:
        return
    new_seeds, new_methods = set(coverage.seeds), set(coverage.methods)
    if coverage.complete and seeds <= new_seeds and methods <= new_methods:
        return
    raise ResultExistsError(
        f"{out} holds a complete result (seeds {sorted(seeds)}, methods {sorted(methods)}) and this run covers "
        f"{coverage.describe()}: it would replace it by less"
    )


def write_text(path: Path, text: str) -> Path:
    write_atomic(path, lambda stream: stream.write(text))
    return Path(path)


def write_csv(path: Path, table: pd.DataFrame, **to_csv) -> Path:
    write_atomic(path, lambda stream: table.to_csv(stream, index=False, **to_csv))
    return Path(path)


def write_json(path: Path, document: dict, sort_keys: bool = False) -> Path:
    return write_text(path, json.dumps(document, indent=2, sort_keys=sort_keys, default=str) + "\n")


def write_figure(figure, path: Path, **savefig) -> Path:
    """``figure.savefig`` through a temp file in the same folder, fsynced, then ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = temporary_file(path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.close(handle)
    try:
        figure.savefig(temp, **savefig)
        with open(temp, "rb+") as stream:  # on the disk before the rename, like write_atomic's files
            os.fsync(stream.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return path


def write_results(
    out: Path,
    artifact: str,
    predictions: pd.DataFrame,
    metrics: pd.DataFrame,
    *,
    config: Config,
    data: str,
    dataset_roots: dict,
    coverage: Coverage,
    extra: dict | None = None,
) -> dict[str, Path]:
    """Write ``predictions.csv``, ``metrics.csv`` and ``metrics.json`` (config, provenance, coverage) into ``out``.

    Both CSVs get a ``data`` column holding ``data`` (e.g. "synthetic demo data ..."), so a
    CSV read on its own still says whether it comes from real datasets. ``out`` is either a
    staging folder of ``result_folder`` (the caller adds its table and plot, then commits) or
    a result folder, which then gets these three files as one unit.
    """
    out = Path(out)
    if not is_staging(out):
        options = {"config": config, "data": data, "dataset_roots": dataset_roots, "coverage": coverage, "extra": extra}
        with result_folder(out) as stage:
            paths = write_results(stage, artifact, predictions, metrics, **options)
        return final_paths(paths, out)
    paths = {
        "predictions": out / "predictions.csv",
        "metrics_csv": out / "metrics.csv",
        "metrics_json": out / "metrics.json",
    }
    predictions, metrics = predictions.assign(data=data), metrics.assign(data=data)  # each file says what data it is
    write_csv(paths["predictions"], predictions)
    write_csv(paths["metrics_csv"], metrics, float_format="%.4f")
    document = {
        "artifact": artifact,
        "data": data,
        "dataset_roots": {name: str(root) for name, root in dataset_roots.items()},
        "config": config.to_dict(),
        "provenance": provenance(),
        "metrics": json.loads(metrics.to_json(orient="records")),
        "coverage": coverage.to_dict(),
        **(extra or {}),
    }
    write_json(paths["metrics_json"], document)
    return paths
