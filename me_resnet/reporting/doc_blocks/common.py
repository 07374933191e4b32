"""What every generated block shares: reading a benchmark file, naming its host, formatting durations."""

from __future__ import annotations

import json

from me_resnet.utils.paths import REPO_ROOT, RESULTS_DIR

BENCH = RESULTS_DIR / "bench"


def bench_document(name: str) -> dict | str:
    """``results/bench/<name>.json`` loaded, or the "not produced yet" line naming its benchmark."""
    path = BENCH / f"{name}.json"
    if not path.exists():
        return f"*{path.relative_to(REPO_ROOT)} not produced yet: run `python benchmarks/{name}.py`.*"
    return json.loads(path.read_text())


def host(document: dict) -> str:
    """The machine a benchmark ran on, from its provenance: timings hold for that host only."""
    machine = document["provenance"].get("machine", {})
    host = f"{machine.get('cores', '?')}-core {machine.get('cpu', 'CPU')}"
    if "avx512" in machine:
        host += " with AVX-512" if machine["avx512"] else " without AVX-512"
    return host


def demo_data(document: dict) -> str:
    """Which demo data a benchmark measured: what it recorded, or that it predates the realistic demo."""
    return document.get("data") or "demo data from before generator 3 (the easy demo; rerun the benchmark for today's)"


def minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min"


def min_sec(seconds: float) -> str:
    whole, rest = divmod(round(seconds), 60)
    return f"{whole} min {rest:02d} s"
