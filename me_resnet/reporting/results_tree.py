"""Read what the ``reproduce/`` scripts and ``benchmarks/`` wrote under ``results/``, for the notebooks.

Only reads files. A missing file comes back as ``None`` with a ``MISSING: ...`` line that names the file and
the command that writes it; nothing is ever filled in.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

DEMO_ARTIFACTS = {  # artifact -> the command that writes results/demo/<artifact>/
    "table1_datasets": "python reproduce/table1_datasets.py --demo",
    "fig3_flow": "python reproduce/fig3_flow.py --demo",
    "pretrain_fer2013": "python reproduce/pretrain_fer2013.py --demo",
    "table5": "python reproduce/table5.py --demo",
    "fig9_frames": "python reproduce/fig9_frames.py --demo",
    "fig10_scale": "python reproduce/fig10_scale.py --demo",
    "fig11_ablation": "python reproduce/fig11_ablation.py --demo",
}
NOT_ARTIFACTS = ("demo", "bench")  # folders of results/ that hold no real-data artifact


def files_in(folder: Path) -> list[str]:
    """Names of the plain files in ``folder`` (sorted, hidden ones such as a result's file list left out)."""
    if not folder.is_dir():
        return []
    return sorted(path.name for path in folder.glob("*") if path.is_file() and not path.name.startswith("."))


def real_data_artifacts(results_dir: Path) -> list[str]:
    """Artifact folders of ``results/`` made from the real datasets (everything but ``demo/`` and ``bench/``)."""
    return sorted(p.name for p in results_dir.glob("*") if p.is_dir() and p.name not in NOT_ARTIFACTS)


@dataclass(frozen=True)
class ResultsTree:
    """One folder of artifacts (e.g. ``results/demo``), named ``label`` in every message.

    ``commands`` maps each expected artifact to the command that writes it.
    """

    root: Path
    label: str = "results/demo"
    commands: dict[str, str] = field(default_factory=lambda: dict(DEMO_ARTIFACTS))

    def status(self) -> pd.DataFrame:
        """One row per expected artifact: the files present (or ``MISSING``) and the command that writes them."""
        rows = [
            {
                "artifact": artifact,
                f"files in {self.label}/<artifact>/": ", ".join(files_in(self.root / artifact)) or "MISSING",
                "written by": command,
            }
            for artifact, command in self.commands.items()
        ]
        return pd.DataFrame(rows).set_index("artifact")

    def missing(self) -> list[str]:
        return [artifact for artifact in self.commands if not files_in(self.root / artifact)]

    def metrics(self, artifact: str) -> tuple[pd.DataFrame | None, str]:
        """``(metrics.csv, a line naming its data and git commit)``, or ``(None, "MISSING: ...")``."""
        folder = self.root / artifact
        if not (folder / "metrics.csv").is_file():
            run = f"; run `{self.commands[artifact]}`" if artifact in self.commands else ""
            return None, f"MISSING: {self.label}/{artifact}/metrics.csv — not produced yet{run}."
        metrics = pd.read_csv(folder / "metrics.csv")
        if not (folder / "metrics.json").is_file():
            return metrics, f"{self.label}/{artifact}: no metrics.json beside metrics.csv (data and commit unknown)"
        document = json.loads((folder / "metrics.json").read_text())
        commit = document.get("provenance", {}).get("git_commit")
        return metrics, f"{self.label}/{artifact}: data = {document.get('data')!r}; git commit {commit}"

    def markdown(self, artifact: str, name: str | None = None) -> str:
        """The text of ``<artifact>/<name or artifact>.md``, or a ``MISSING: ...`` line."""
        path = self.root / artifact / f"{name or artifact}.md"
        if not path.is_file():
            return f"MISSING: {self.label}/{artifact}/{path.name}"
        return path.read_text()

    def fig3_lines(self) -> list[str]:
        """One line per clip stored by ``reproduce/fig3_flow.py``: the flow energy the mask removes, the pixels
        it keeps and the settings; a ``MISSING: ...`` line when there is none."""
        lines = []
        for path in sorted((self.root / "fig3_flow").glob("*.json")):
            document = json.loads(path.read_text())
            config = document["config"]
            lines.append(
                f"fig3_flow {document['clip']}: mask removes {document['energy_removed']:.1%} of the flow energy, "
                f"keeps {document['pixels_kept']:.1%} of the pixels (N = {config['num_frames']}, "
                f"a = {config['scale_factor']}, {config['image_size']} px)"
            )
        return lines or [f"MISSING: {self.label}/fig3_flow/*.json"]

    def pretrain_line(self) -> str:
        """The accuracies stored by ``reproduce/pretrain_fer2013.py``, or a ``MISSING: ...`` line."""
        path = self.root / "pretrain_fer2013" / "summary.json"
        if not path.is_file():
            return f"MISSING: {self.label}/pretrain_fer2013/summary.json"
        document = json.loads(path.read_text())
        accuracy = {split: round(value, 3) for split, value in document["accuracy"].items()}
        return f"pretrain_fer2013 accuracy: {accuracy} — {document.get('accuracy_note', '')}"


BENCHMARKS = ("model_throughput", "op_profile", "preprocess")  # results/bench/<name>.json, benchmarks/<name>.py


def bench_summary(bench_dir: Path, name: str) -> tuple[str, pd.DataFrame | None]:
    """``(a summary line, a table)`` of ``results/bench/<name>.json``, or ``("MISSING: ...", None)``."""
    if name not in BENCHMARKS:
        raise ValueError(f"unknown benchmark {name!r}; choose one of {BENCHMARKS}")
    path = bench_dir / f"{name}.json"
    if not path.is_file():
        return f"MISSING: results/bench/{name}.json — run `python benchmarks/{name}.py`", None
    document = json.loads(path.read_text())
    return {"model_throughput": _throughput, "op_profile": _op_profile, "preprocess": _preprocess}[name](document)


def _throughput(document: dict) -> tuple[str, pd.DataFrame]:
    line = (
        f"{document['model']} ({document['profile']} profile, input {tuple(document['input_shape'])}): "
        f"{document['parameters']:,} parameters, {document['forward_gflops_per_sample']} forward GFLOPs/sample; "
        f"matmul peak {document['matmul_peak_gflops']} GFLOP/s; machine {document['provenance']['machine']}"
    )
    rows = []
    for framework in ("keras", "torch"):
        for run in document.get(framework, []):
            row = {
                "framework": framework,
                "precision": run["precision"],
                "XLA": run.get("jit_compile", ""),
                "batch size": run["batch_size"],
            }
            for phase in ("inference", "training"):
                row[f"{phase} samples/s"] = run[phase]["samples_per_second"]
            for phase in ("inference", "training"):
                row[f"{phase} fraction of matmul peak"] = run[phase]["fraction_of_matmul_peak"]
            rows.append(row)
    return line, pd.DataFrame(rows)


def _op_profile(document: dict) -> tuple[str, pd.DataFrame]:
    line = (
        f"one {document['precision']} training step, batch {document['batch_size']}: "
        f"{document['step_wall_seconds']} s wall, {document['op_seconds_per_step']} s of op time"
    )
    return line, pd.DataFrame(document["groups"]).set_index("group").fillna("")


def _preprocess(document: dict) -> tuple[str, pd.DataFrame]:
    line = (
        f"{document['clips']} clips, settings {document['settings']}, workers {document['workers']}; "
        f"targets met: {document['targets_met']}"
    )
    table = {
        phase: {
            "clips/s": document[phase]["clips_per_s"],
            "seconds": document[phase]["seconds"],
            "cache hits": document[phase]["cache_hits"],
            "detector init s": document[phase]["detector_init_seconds"],
        }
        for phase in ("cold", "warm")
    }
    return line, pd.DataFrame(table).T
