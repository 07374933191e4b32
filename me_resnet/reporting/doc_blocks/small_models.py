"""docs/performance.md block on the fold-parallel engine's benchmark (``benchmarks/small_model_loso.py``)."""

from __future__ import annotations

import json

from me_resnet.reporting.doc_blocks.common import BENCH, host, minutes

SMALL_MODEL_FILES = ("small_model_loso.json", "small_model_loso_projected.json", "small_model_loso_quick.json")


SMALL_MODEL_NAMES = {"ststnet": "STSTNet", "off_apexnet": "OFF-ApexNet"}


SMALL_MODEL_ROWS = (  # (row title, key of _small_model_cell)
    ("engine, all 68 folds", "engine"),
    ("per-fold Keras loop, scaled to 68 folds", "keras"),
    ("plain PyTorch per-fold loop (like the STSTNet authors' `main.py`), scaled", "torch"),
    ("engine speed-up over the Keras / PyTorch loops", "speedup"),
    ("engine's training epochs over their FLOP limit", "flop"),
    ("engine peak memory", "memory"),
)


TARGETS = {
    "ststnet_engine_seconds_max": 300,
    "ststnet_speedup_over_torch_min": 10,
    "off_apexnet_within_flop_limit_factor": 2,
    "peak_memory_gb_max": 4,
}


def targets_met(methods: dict) -> dict:
    """The issue's targets against this run's figures (projected ones where the run was shorter)."""
    met = {}
    if "ststnet" in methods:
        ststnet = methods["ststnet"]
        met["ststnet_engine_seconds"] = ststnet["compared_at"]["engine_seconds"]
        met["ststnet_engine_seconds_max_met"] = (
            ststnet["compared_at"]["engine_seconds"] <= TARGETS["ststnet_engine_seconds_max"]
        )
        met["ststnet_speedup_over_torch_min_met"] = (
            ststnet["speedup_over_torch_per_fold"] >= TARGETS["ststnet_speedup_over_torch_min"]
        )
        # at the matmul peak measured in the run, the FLOPs of the full run alone take this long
        engine = ststnet["engine"]
        met["ststnet_flop_limit_seconds_full_run"] = round(
            engine["flop_limit_seconds"] * ststnet["compared_at"]["fold_epochs"] / engine["fold_epochs_trained"], 1
        )
    if "engine_epochs_over_flop_limit" in methods.get("off_apexnet", {}):
        ratio = methods["off_apexnet"]["engine_epochs_over_flop_limit"]
        met["off_apexnet_epochs_over_flop_limit"] = ratio
        met["off_apexnet_within_flop_limit_factor_met"] = ratio <= TARGETS["off_apexnet_within_flop_limit_factor"]
    peak = max(r["engine"]["peak_rss_mb"] for r in methods.values()) / 1024
    met["engine_peak_memory_gb"] = round(peak, 2)
    met["peak_memory_gb_max_met"] = peak <= TARGETS["peak_memory_gb_max"]
    return met


def small_model_results() -> dict[str, tuple[str, dict]]:
    """Per method: (file name, benchmark document) of the fullest benchmark file that has the method."""
    chosen = {}
    for name in reversed(SMALL_MODEL_FILES):  # fuller files last, so they win
        path = BENCH / name
        if path.exists():
            document = json.loads(path.read_text())
            chosen |= {method: (name, document) for method in document["methods"]}
    return {method: chosen[method] for method in SMALL_MODEL_NAMES if method in chosen}


def _by_file(chosen: dict[str, tuple[str, dict]]) -> dict[str, tuple[dict, list[str]]]:
    """File name -> (its document, the methods shown from it)."""
    files: dict[str, tuple[dict, list[str]]] = {}
    for method, (name, document) in chosen.items():
        files.setdefault(name, (document, []))[1].append(method)
    return files


def _small_model_cell(method: str, result: dict, key: str) -> str:
    engine, settings = result["engine"], result["settings"]
    if key == "head":
        epochs = f"{engine['full_epochs']} epochs"
        if not result["compared_at"]["projected"] and engine["epochs_run"] < engine["full_epochs"]:
            epochs = (  # early stopping on held-out training subjects ended every fold sooner
                f"early stopping: at most {engine['epochs_run']} of {engine['full_epochs']} epochs run, "
                f"{engine['fold_epochs_trained']} fold-epochs"
            )
        return f"{SMALL_MODEL_NAMES[method]} ({epochs}, batch {settings['batch_size']})"
    if key == "engine":
        return minutes(result["compared_at"]["engine_seconds"]) + (
            " (projected)" if result["compared_at"]["projected"] else ""
        )
    if key in ("keras", "torch"):
        return minutes(result[f"{key}_per_fold"]["scaled_seconds"])
    if key == "speedup":
        return f"{result['speedup_over_keras_per_fold']}x / {result['speedup_over_torch_per_fold']}x"
    if key == "flop":
        return f"{result['engine_epochs_over_flop_limit']}x" if "engine_epochs_over_flop_limit" in result else "-"
    return f"{engine['peak_rss_mb'] / 1024:.1f} GB ({engine['folds_per_pass']} folds per pass)"


def _small_model_source(name: str, document: dict, methods: list[str]) -> str:
    epochs = document.get("engine_epochs", "full")
    how = (
        "the full run"
        if epochs == "full"
        else f"{epochs[methods[0]]} engine epochs of every fold, projected to the full run from the per-epoch time, "
        "every fold taken to run every epoch: an upper bound where early stopping stops folds sooner"
    )
    peaks = " / ".join(str(document["methods"][m]["engine"]["matmul_peak_gflops"]) for m in methods)
    load = document["load_average_before"][0], document["load_average_after"][0]
    return (
        f"{' and '.join(SMALL_MODEL_NAMES[m] for m in methods)} from `results/bench/{name}` ({how}; fp32 matmul "
        f"peak {peaks} GFLOP/s measured in the same run; {host(document)}, {document['provenance']['time'][:10]}; "
        f"load average {load[0]} before, {load[1]} after)"
    )


def small_models() -> str:
    """The fold-parallel engine's benchmark against the issue's targets (every number from results/bench)."""
    chosen = small_model_results()
    if not chosen:
        return "*No small-model benchmark yet: run `benchmarks/small_model_loso.py`.*"
    results = {method: document["methods"][method] for method, (_, document) in chosen.items()}
    lines = [
        "`benchmarks/small_model_loso.py` (per-fold loops timed on a few folds and epochs and scaled to 68 folds): "
        + "; ".join(
            _small_model_source(name, document, methods) for name, (document, methods) in _by_file(chosen).items()
        )
        + ".",
        "",
        "| | " + " | ".join(_small_model_cell(m, r, "head") for m, r in results.items()) + " |",
        "|---|" + "---|" * len(results),
    ]
    for title, key in SMALL_MODEL_ROWS:
        lines.append(f"| {title} | " + " | ".join(_small_model_cell(m, r, key) for m, r in results.items()) + " |")
    met = targets_met(results)
    status = {True: "met", False: "**not met**"}
    checks = [
        ("ststnet_engine_seconds_max_met", f"STSTNet full LOSO <= {TARGETS['ststnet_engine_seconds_max'] // 60} min"),
        ("ststnet_speedup_over_torch_min_met", f">= {TARGETS['ststnet_speedup_over_torch_min']}x the PyTorch loop"),
        (
            "off_apexnet_within_flop_limit_factor_met",
            f"OFF-ApexNet within {TARGETS['off_apexnet_within_flop_limit_factor']}x of its FLOP limit",
        ),
        ("peak_memory_gb_max_met", f"memory <= {TARGETS['peak_memory_gb_max']} GB"),
    ]
    shown = [f"{text}: {status[met[key]]}" for key, text in checks if key in met]
    lines += ["", "Targets on this machine: " + "; ".join(shown) + "."]
    if "ststnet_flop_limit_seconds_full_run" in met:
        limit, target = met["ststnet_flop_limit_seconds_full_run"], TARGETS["ststnet_engine_seconds_max"]
        verdict = "more than the target" if limit > target else "within the target"
        lines += [
            "",
            f"At the matmul peak measured in the same run, the FLOPs of the full STSTNet LOSO alone (3x forward per "
            f"training clip, `models.flops`) take {minutes(limit)}, {verdict}. Almost all of STSTNet's FLOPs are "
            f"its first convolutions, whose input gradient nobody needs, so a tighter floor is 2/3 of that, "
            f"{minutes(limit * 2 / 3)}: the target asks for {limit * 2 / 3 / target:.0%} of the matmul peak over "
            "the whole run, element-wise passes included.",
        ]
    return "\n".join(lines)
