"""README blocks about the demo: its Table 5, how long `make demo` takes, its quality over seeds."""

from __future__ import annotations

import pandas as pd

from me_resnet.models.registry import method_title
from me_resnet.reporting import paper
from me_resnet.reporting.doc_blocks.common import bench_document, demo_data, host, min_sec
from me_resnet.reporting.markdown import markdown_table
from me_resnet.utils.paths import REPO_ROOT, RESULTS_DIR

DEMO_TARGET_SECONDS = 180  # `make demo` on a 2-core CPU


def demo_table5() -> str:
    path = RESULTS_DIR / "demo" / "table5" / "metrics.csv"
    if not path.exists():
        return f"*{path.relative_to(REPO_ROOT)} not produced yet: run `python reproduce/table5.py --demo`.*"
    metrics = pd.read_csv(path)
    rows = []
    for _, row in metrics.iterrows():
        title = method_title(row["method"])
        quoted = paper.TABLE5.get(title, {}).get(row["dataset"])
        rows.append(
            {
                "method": title,
                "dataset": paper.DATASET_TITLES.get(row["dataset"], row["dataset"]),
                "clips": row["n"],
                "UF1 (demo)": f"{row['uf1']:.4f}",
                "UAR (demo)": f"{row['uar']:.4f}",
                "accuracy (demo)": f"{row['accuracy']:.4f}",
                "UF1 / UAR as printed in the paper's Table 5": f"{quoted[0]:.4f} / {quoted[1]:.4f}"
                if quoted
                else "not printed",
                "how the kit ran it": row["protocol"],
            }
        )
    return (
        f"Demo Table 5 (synthetic data, demo profile, seed(s) {metrics['seeds'].iloc[0]}), from "
        "`results/demo/table5/metrics.csv`:\n\n" + markdown_table(pd.DataFrame(rows))
    )


def _make_demo_sentence(document: dict) -> str | None:
    """One sentence: how long ``table5.py --demo`` took from an empty cache, on which host (None if not measured)."""
    whole = document.get("make_demo")
    if not whole:
        return None
    full = document["provenance"]["git_commit"]
    commit = full[:7] + ("+dirty" if full.endswith("+dirty") else "")
    status = "met" if whole["wall_seconds"] <= DEMO_TARGET_SECONDS else "**not met**"
    methods = ", ".join(method_title(name) for name in whole.get("methods", ["me_resnet"]))
    return (
        f"`python reproduce/table5.py --demo` from an empty cache (demo data, features, every LOSO fold of "
        f"{methods}, metrics, plots; what `make demo` runs once its venv exists) took "
        f"**{min_sec(whole['wall_seconds'])}** on a {host(document)} (commit {commit}, "
        f"{document['provenance']['time'][:10]}, {demo_data(document)}; target {DEMO_TARGET_SECONDS // 60} min: "
        f"{status})."
    )


def _side_by_side_sentence(document: dict) -> str | None:
    """One sentence: this tree's ``table5.py --demo`` beside an earlier commit's, run by turns (None if not)."""
    compared = document.get("make_demo_side_by_side")
    if not compared:
        return None
    medians, walls = compared["median_seconds"], compared["wall_seconds"]
    loads = compared["load_average_at_start"]
    return (
        f"Beside commit {compared['reference_commit'][:7]} in the same run ({compared['rounds']} runs each, by "
        f"turns, empty caches; seconds {walls['reference']} vs {walls['this_tree']}, load average at each start "
        f"{loads['reference']} vs {loads['this_tree']}): median **{min_sec(medians['this_tree'])}** against "
        f"{min_sec(medians['reference'])}, a ratio of {compared['this_tree_over_reference']}; ME-ResNet's "
        f"predictions the same in every run: {compared['same_me_resnet_predictions']}."
    )


def demo_time() -> str:
    """README: how long the demo main job took (``benchmarks/demo_loso.py``)."""
    document = bench_document("demo_loso")
    if isinstance(document, str):
        return document
    return _make_demo_sentence(document) or "*`benchmarks/demo_loso.py` has not timed the whole demo yet.*"


def make_demo() -> str:
    """How long the demo main job took, and what each executor costs its LOSO (``benchmarks/demo_loso.py``)."""
    document = bench_document("demo_loso")
    if isinstance(document, str):
        return document
    lines = [line for line in (_make_demo_sentence(document), _side_by_side_sentence(document)) if line]
    rows = [
        {
            "ME-ResNet's demo LOSO folds on": variant["executor"],
            "wall": min_sec(variant["wall_seconds"]),
            "vs the local loop": f"{variant['speedup_over_local']}x" if "speedup_over_local" in variant else "",
            "composite UF1": variant["uf1"].get("composite", ""),
        }
        for variant in document["variants"].values()
    ]
    load = document["load_average_before_after"]
    lines.append(
        f"The folds alone, side by side in one run from cached features (`results/bench/demo_loso.json`, load "
        f"average before/after {load}); a fold's last bits depend on its thread count, so the local loop's "
        f"predictions differ from the 1-thread ones"
        + (
            f" (1 worker and 2 workers equal: {document['pool1_equals_pool2']})"
            if "pool1_equals_pool2" in document
            else ""
        )
        + ":"
    )
    return "\n\n".join(lines) + "\n\n" + markdown_table(pd.DataFrame(rows))


def demo_quality() -> str:
    """The demo ME-ResNet's LOSO UF1 over seeds per executor variant (``benchmarks/demo_quality.py``)."""
    document = bench_document("demo_quality")
    if isinstance(document, str):
        return document
    rows = []
    for name, summary in document["summary"].items():
        row = {"variant": document["variants"][name], "seeds": summary["seeds"]}
        for dataset in ("casme2", "smic", "samm", "composite"):
            if dataset in summary:
                cell = summary[dataset]
                spread = f" ± {cell['sd']:.3f}" if cell["sd"] is not None else ""
                row[f"{dataset} UF1"] = f"{cell['mean']:.3f}{spread}"
        row["wall (all folds)"] = min_sec(summary["mean_wall_seconds"])
        rows.append(row)
    seeds = ", ".join(document["per_seed"])
    load = document["load_average_before_after"]
    return (
        f"Demo quality over seeds {seeds} (`results/bench/demo_quality.json`, `benchmarks/demo_quality.py`; "
        f"mean ± standard deviation of the demo LOSO UF1 over seeds; {demo_data(document)}; {host(document)}, "
        f"{document['provenance']['time'][:10]}; load average before/after {load}):"
        "\n\n" + markdown_table(pd.DataFrame(rows))
    )


def realism() -> str:
    """README: the demo CASME II beside real CASME II, as the kit's pre-processing sees both (benchmarks/realism.py)."""
    document = bench_document("realism")
    if isinstance(document, str):
        return document
    reference, targets = document["reference"], document["targets"]
    rows = []
    for name, real in reference["statistics"].items():
        target = targets[name]
        rows.append(
            {
                "statistic": name,
                f"real CASME II, median (p10-p90), {reference['clips']} clips": (
                    f"{real['median']:.3f} ({real['p10']:.3f}-{real['p90']:.3f})"
                ),
                "demo CASME II, median": f"{target['demo_median']:.3f}",
                "target met": "yes" if target["met"] else "**no**",
            }
        )
    probe = targets["probe_uf1"]
    rows.append(
        {
            "statistic": "linear probe, LOSO UF1",
            f"real CASME II, median (p10-p90), {reference['clips']} clips": f"{reference['probe_uf1']:.2f}",
            "demo CASME II, median": f"{probe['demo']:.2f}",
            "target met": ("yes" if probe["met"] else "**no**") + f" (band {probe['band'][0]}-{probe['band'][1]})",
        }
    )
    return (
        "How the demo CASME II looks to the kit's own pre-processing, beside real CASME II "
        f"(`results/bench/realism.json`, `benchmarks/realism.py`, generator seed {targets['seed']}; the real figures "
        f"were {reference['source']}; definitions in [`docs/demo_data.md`](docs/demo_data.md)):\n\n"
        + markdown_table(pd.DataFrame(rows))
    )
