"""Regenerate the README's result blocks from the files the scripts wrote into results/.

    python reproduce/update_readme.py

Rewrites the text between ``<!-- BEGIN name -->`` and ``<!-- END name -->`` markers;
every number comes from results/, none is typed by hand.
"""

import json
import re
from pathlib import Path

import pandas as pd

from me_resnet.models.registry import method_title
from me_resnet.reporting import paper
from me_resnet.reporting.markdown import markdown_table
from me_resnet.utils.paths import REPO_ROOT, RESULTS_DIR


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


def _bench_document(name: str) -> dict | str:
    """``results/bench/<name>.json`` loaded, or the README's "not produced yet" line naming its benchmark."""
    path = RESULTS_DIR / "bench" / f"{name}.json"
    if not path.exists():
        return f"*{path.relative_to(REPO_ROOT)} not produced yet: run `python benchmarks/{name}.py`.*"
    return json.loads(path.read_text())


def _host(document: dict) -> str:
    """The machine a benchmark ran on, from its provenance: timings hold for that host only."""
    machine = document["provenance"].get("machine", {})
    host = f"{machine.get('cores', '?')}-core {machine.get('cpu', 'CPU')}"
    if "avx512" in machine:
        host += " with AVX-512" if machine["avx512"] else " without AVX-512"
    return host


def make_demo() -> str:
    """How long the demo main job took, and what each executor costs its LOSO (``benchmarks/demo_loso.py``)."""
    document = _bench_document("demo_loso")
    if isinstance(document, str):
        return document
    lines = []
    whole = document.get("make_demo")
    full = document["provenance"]["git_commit"]
    commit = full[:7] + ("+dirty" if full.endswith("+dirty") else "")
    if whole:
        status = "met" if whole["wall_seconds"] <= 180 else "**not met**"
        lines.append(
            f"`python reproduce/table5.py --demo` from an empty cache (demo data, features, the 15 LOSO folds, "
            f"metrics, plots; what `make demo` runs once its venv exists) took **{_min_sec(whole['wall_seconds'])}** "
            f"on a {_host(document)} (commit {commit}, {document['provenance']['time'][:10]}; issue-15 target 3 min: "
            f"{status})."
        )
    rows = [
        {
            "LOSO of the 15 demo folds on": variant["executor"],
            "wall": _min_sec(variant["wall_seconds"]),
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
    return "\n".join(lines[:-1]) + "\n\n" + lines[-1] + "\n\n" + markdown_table(pd.DataFrame(rows))


def demo_quality() -> str:
    """The demo ME-ResNet's LOSO UF1 over seeds per executor variant (``benchmarks/demo_quality.py``)."""
    document = _bench_document("demo_quality")
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
        row["wall (15 folds)"] = _min_sec(summary["mean_wall_seconds"])
        rows.append(row)
    seeds = ", ".join(document["per_seed"])
    load = document["load_average_before_after"]
    return (
        f"Demo quality over seeds {seeds} (`results/bench/demo_quality.json`, `benchmarks/demo_quality.py`; "
        f"mean ± standard deviation of the demo LOSO UF1 over seeds; {_host(document)}, "
        f"{document['provenance']['time'][:10]}; load average before/after {load}):"
        "\n\n" + markdown_table(pd.DataFrame(rows))
    )


def compute() -> str:
    bench = RESULTS_DIR / "bench"
    parts = targets(bench)
    cost = bench / "loso_cost.json"
    if cost.exists():
        document = json.loads(cost.read_text())
        me = document["me_resnet"]
        parts.append(
            f"One LOSO fold at the paper profile (CASME II size, {me['steps_per_epoch_full']} steps of batch "
            f"{document['batch_size']} per epoch, {document['precision']}) costs about {me['epoch_seconds_full']:.0f} "
            f"s per epoch for ME-ResNet and {document['resnet50_2d']['epoch_seconds_full']:.0f} s for the 2D ResNet50 "
            "on this 2-core CPU (measured on part of an epoch and scaled; load average "
            f"{document['load_average_before_after']}), so the full reproduction in CPU hours here is "
            f"(`results/bench/loso_cost.json`, `benchmarks/loso_cost.py`; {document['assumptions']}):\n\n"
            + markdown_table(pd.DataFrame(document["cpu_hours"]))
            + f"\nPeak memory of that ME-ResNet fold: {document['memory']['peak_rss_mb_after_me_resnet_fold']:,} MB "
            f"RSS (CASME II float16 features {document['memory']['casme2_float16_features_mb']} MB, their 4x "
            f"augmented training copy {document['memory']['augmented_float16_training_clips_mb']} MB; the rest is "
            f"TensorFlow, the model, Adam state and the activations of a batch of {document['batch_size']}). The "
            "paper profile needs a GPU (or many machines: the Ray executor) in practice."
        )
    throughput = bench / "model_throughput.json"
    if throughput.exists():
        document = json.loads(throughput.read_text())
        rows = []
        for framework, results in (("Keras", document.get("keras", [])), ("PyTorch", document.get("torch", []))):
            for result in results:
                rows.append(
                    {
                        "framework": framework,
                        "precision": result["precision"],
                        "XLA": result.get("jit_compile", ""),
                        "batch": result["batch_size"],
                        "training samples/s": result["training"]["samples_per_second"],
                        "training fraction of matmul peak": result["training"]["fraction_of_matmul_peak"],
                        "inference samples/s": result["inference"]["samples_per_second"],
                    }
                )
        parts.append(
            f"Paper-profile ME-ResNet ({document['parameters']:,} parameters, {document['forward_gflops_per_sample']} "
            f"GFLOP forward per sample; measured matmul peak {document['matmul_peak_gflops']} GFLOP/s) from "
            "`results/bench/model_throughput.json` (`benchmarks/model_throughput.py`, load average "
            f"{document['load_average_before_after']}):\n\n"
            + markdown_table(pd.DataFrame(rows))
            + f"\nRatios: {json.dumps(document['comparisons'])}. Targets: {json.dumps(document['targets'])}."
        )
    parts.extend(op_profile(bench))
    memory = bench / "fold_memory.json"
    if memory.exists():
        document = json.loads(memory.read_text())
        children = [mb for mb in document["process_per_fold"]["child_peak_rss_mb"] if mb is not None]
        parts.append(
            f"Memory over LOSO folds (`benchmarks/fold_memory.py`, {document['setup']}): in one process RSS grows "
            f"{document['in_process']['growth_mb_per_fold']} MB per fold (plain `keras.applications.ResNet50` with "
            f"`clear_session()`: {document['keras_resnet50']['growth_mb_per_repeat']} MB per training call); with a "
            f"process per fold the parent grows {document['process_per_fold']['parent_growth_mb_per_fold']} MB per "
            f"fold and the children peak at {min(children):.0f}-{max(children):.0f} MB."
        )
    pre = bench / "preprocess.json"
    if pre.exists():
        document = json.loads(pre.read_text())
        parts.append(
            f"Pre-processing (`benchmarks/preprocess.py`, {document['clips']} demo clips at N = 11, 112×112): "
            f"{document['cold']['clips_per_s']} clips/s cold (incl. {document['cold']['detector_init_seconds']} s "
            f"TensorFlow/MTCNN start-up; {document['cold']['clips_per_s_without_detector_init']} clips/s without it), "
            f"{document['warm']['clips_per_s']} clips/s from the cache; mask + strain + normalisation cost "
            f"{document['post_over_farneback']:.0%} of the Farneback time."
        )
    return "\n\n".join(parts) if parts else "*No benchmark results yet: run the scripts in benchmarks/.*"


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


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min"


def _min_sec(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s"


def small_model_results() -> dict[str, tuple[str, dict]]:
    """Per method: (file name, benchmark document) of the fullest benchmark file that has the method."""
    chosen = {}
    for name in reversed(SMALL_MODEL_FILES):  # fuller files last, so they win
        path = RESULTS_DIR / "bench" / name
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
        return _minutes(result["compared_at"]["engine_seconds"]) + (
            " (projected)" if result["compared_at"]["projected"] else ""
        )
    if key in ("keras", "torch"):
        return _minutes(result[f"{key}_per_fold"]["scaled_seconds"])
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
        f"peak {peaks} GFLOP/s measured in the same run; {_host(document)}, {document['provenance']['time'][:10]}; "
        f"load average {load[0]} before, {load[1]} after)"
    )


def small_models() -> str:
    """The fold-parallel engine's benchmark against the issue's targets (every number from results/bench)."""
    import sys

    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))  # benchmarks/ is not installed
    from benchmarks.small_model_loso import TARGETS, targets_met

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
    lines += ["", "Targets of the issue on this machine: " + "; ".join(shown) + "."]
    if "ststnet_flop_limit_seconds_full_run" in met:
        limit, target = met["ststnet_flop_limit_seconds_full_run"], TARGETS["ststnet_engine_seconds_max"]
        verdict = "more than the target" if limit > target else "within the target"
        lines += [
            "",
            f"At the matmul peak measured in the same run, the FLOPs of the full STSTNet LOSO alone (3x forward per "
            f"training clip, `models.flops`) take {_minutes(limit)}, {verdict}. Almost all of STSTNet's FLOPs are "
            f"its first convolutions, whose input gradient nobody needs, so a tighter floor is 2/3 of that, "
            f"{_minutes(limit * 2 / 3)}: the target asks for {limit * 2 / 3 / target:.0%} of the matmul peak over "
            "the whole run, element-wise passes included.",
        ]
    return "\n".join(lines)


def _status(values, target) -> str:
    return "met" if values and min(values) >= target else "**not met**"


def targets(bench: Path) -> list[str]:
    """Issue 8's speed targets against the measured figures (every number read from results/bench)."""
    throughput, cost = bench / "model_throughput.json", bench / "loso_cost.json"
    if not throughput.exists():
        return []
    document = json.loads(throughput.read_text())
    goal, batches = document["targets"], sorted(document["comparisons"])
    fraction = {
        f"batch {r['batch_size']}": r["training"]["fraction_of_matmul_peak"]
        for r in document["keras"]
        if r["precision"] == "float32" and not r.get("jit_compile")
    }
    ratios = {
        name: {
            b.replace("_", " "): document["comparisons"][b][name]
            for b in batches
            if document["comparisons"][b][name] is not None
        }
        for name in ("keras_over_torch_training_fp32", "bf16_over_fp32_training")
    }

    def shown(values, unit=""):
        return ", ".join(f"{value:.2f}{unit} ({key})" for key, value in values.items())

    rows = [
        {
            "target (issue 8)": f"training >= {goal['training_fraction_of_fp32_peak']:.0%} of the fp32 matmul peak",
            "measured": shown(fraction),
            "status": _status(list(fraction.values()), goal["training_fraction_of_fp32_peak"]),
        },
        {
            "target (issue 8)": f"Keras >= {goal['keras_over_torch']}x plain PyTorch (training, fp32)",
            "measured": shown(ratios["keras_over_torch_training_fp32"], "x"),
            "status": _status(list(ratios["keras_over_torch_training_fp32"].values()), goal["keras_over_torch"]),
        },
        {
            "target (issue 8)": f"bf16 >= {goal['bf16_over_fp32_training']}x fp32 training",
            "measured": shown(ratios["bf16_over_fp32_training"], "x"),
            "status": _status(list(ratios["bf16_over_fp32_training"].values()), goal["bf16_over_fp32_training"])
            + (" (why: the op profile below)" if (bench / "op_profile_mixed_bfloat16_interop1.json").exists() else ""),
        },
    ]
    if cost.exists():
        fold = json.loads(cost.read_text())
        wait = fold["me_resnet"]["input_pipeline"]["gap_fraction"]
        build = fold["input_pipeline_full_epoch"]["fraction_of_epoch"]  # upper bound: all batches built serially
        rows.append(
            {
                "target (issue 8)": "input wait < 5 % of step time",
                "measured": f"{wait:.2%} waited between steps; "
                f"building every batch of an epoch = {build:.2%} of its time",
                "status": _status([0.05 - max(wait, build)], 0.0),
            }
        )
    rows.append(
        {
            "target (issue 8)": "a demo sweep on Ray equals the sequential result",
            "measured": "tests/test_executors.py (runs in CI)",
            "status": "tested",
        }
    )
    return [
        f"Speed targets (from `results/bench/model_throughput.json` and `loso_cost.json`; load average during the "
        f"throughput run {document['load_average_before_after']}):\n\n" + markdown_table(pd.DataFrame(rows))
    ]


OP_PROFILES = (  # (file in results/bench, column title)
    ("op_profile.json", "float32"),
    ("op_profile_interop1.json", "float32, ops one at a time"),
    ("op_profile_mixed_bfloat16.json", "mixed_bfloat16"),
    ("op_profile_mixed_bfloat16_interop1.json", "mixed_bfloat16, ops one at a time"),
)


def op_profile(bench: Path) -> list[str]:
    """The per-op profile of a training step: seconds per group, conv GEMM rates, for each profiled setting."""
    profiles = {title: json.loads((bench / name).read_text()) for name, title in OP_PROFILES if (bench / name).exists()}
    if not profiles:
        return []
    rows = {}
    for title, document in profiles.items():
        for group in document["groups"]:
            cell = f"{group['seconds_per_step']:.3f}"
            if "fraction_of_matmul_peak" in group:
                cell += f" ({group['gflops_per_second']:.0f} GFLOP/s, {group['fraction_of_matmul_peak']:.0%})"
            rows.setdefault(group["group"], {"group (s per step)": group["group"]})[title] = cell
    for title, document in profiles.items():
        rows.setdefault("step, wall clock", {"group (s per step)": "**step, wall clock**"})[title] = (
            f"**{document['step_wall_seconds']:.3f}**"
        )
    first = next(iter(profiles.values()))
    peaks = ", ".join(sorted({f"{d['matmul_peak_dtype']} {d['matmul_peak_gflops']}" for d in profiles.values()}))
    text = (
        "Where a training step's time goes (`benchmarks/op_profile.py`: TensorFlow profiler trace of one "
        f"paper-profile step, batch {first['batch_size']}; executed op time summed per group; conv GFLOP/s from the "
        "layer shapes, "
        f'as a fraction of the matmul peak measured in the same run: {peaks} GFLOP/s; "ops one at a time" = '
        f"`--inter-op-threads 1`, which gives clean per-op times, while by default two ops may share the 2 cores):\n\n"
        + markdown_table(pd.DataFrame(list(rows.values())).fillna(""))
    )
    for title, document in profiles.items():
        text += (
            f"\n- {title}: conv GEMMs at {document['conv_gemm_gflops_per_second']['fraction_of_matmul_peak']:.0%} of "
            f"the matmul peak; non-GEMM ops (batch norm, CBAM, element-wise, Adam) "
            f"{1 - document['conv_gemm_share_of_op_time']:.0%} of the op time."
        )
    fp32, bf16 = (profiles.get(f"{p}, ops one at a time") for p in ("float32", "mixed_bfloat16"))
    if fp32 and bf16:
        gemm, rest = (
            {
                k: d["op_seconds_per_step"]
                * (d["conv_gemm_share_of_op_time"] if gemm else 1 - d["conv_gemm_share_of_op_time"])
                for k, d in (("fp32", fp32), ("bf16", bf16))
            }
            for gemm in (True, False)
        )
        text += (
            f"\n\nWhy bf16 gives {fp32['step_wall_seconds'] / bf16['step_wall_seconds']:.2f}x, not 1.5x (ops one at a "
            f"time): the conv GEMMs get {gemm['fp32'] / gemm['bf16']:.2f}x faster ({gemm['fp32']:.2f} s -> "
            f"{gemm['bf16']:.2f} s) but the rest of the step, memory-bound and largely float32 under the mixed policy "
            f"(Keras upcasts batch norm to float32, CBAM's gates run in float32, Adam updates float32 weights; "
            f"plus the casts), takes {rest['fp32']:.2f} s -> "
            f"{rest['bf16']:.2f} s; even infinitely fast GEMMs would give at most "
            f"{fp32['op_seconds_per_step'] / rest['bf16']:.2f}x."
        )
    return [text]


def replace_block(text: str, name: str, body: str) -> str:
    pattern = re.compile(rf"(<!-- BEGIN {name} -->\n).*?(<!-- END {name} -->)", re.S)
    if not pattern.search(text):
        raise ValueError(f"README.md has no <!-- BEGIN {name} --> ... <!-- END {name} --> block")
    return pattern.sub(lambda m: m.group(1) + body.rstrip() + "\n" + m.group(2), text)


BLOCKS = {
    "make-demo": make_demo,
    "demo-quality": demo_quality,
    "demo-table5": demo_table5,
    "compute": compute,
    "small-models": small_models,
}  # README block -> maker


def regenerate(text: str) -> str:
    """``text`` (the README) with every generated block made anew from results/."""
    for name, make in BLOCKS.items():
        text = replace_block(text, name, make())
    return text


def main():
    readme = REPO_ROOT / "README.md"
    readme.write_text(regenerate(readme.read_text()))
    print(f"updated {readme}")


if __name__ == "__main__":
    main()
