"""docs/performance.md blocks on the paper profile's cost: speed targets, LOSO cost, throughput, op profile."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from me_resnet.reporting.doc_blocks.common import BENCH
from me_resnet.reporting.markdown import markdown_table


def compute() -> str:
    bench = BENCH
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


def _status(values, target) -> str:
    return "met" if values and min(values) >= target else "**not met**"


def targets(bench: Path) -> list[str]:
    """The paper profile's speed targets against the measured figures (every number read from results/bench)."""
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
            "target": f"training >= {goal['training_fraction_of_fp32_peak']:.0%} of the fp32 matmul peak",
            "measured": shown(fraction),
            "status": _status(list(fraction.values()), goal["training_fraction_of_fp32_peak"]),
        },
        {
            "target": f"Keras >= {goal['keras_over_torch']}x plain PyTorch (training, fp32)",
            "measured": shown(ratios["keras_over_torch_training_fp32"], "x"),
            "status": _status(list(ratios["keras_over_torch_training_fp32"].values()), goal["keras_over_torch"]),
        },
        {
            "target": f"bf16 >= {goal['bf16_over_fp32_training']}x fp32 training",
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
                "target": "input wait < 5 % of step time",
                "measured": f"{wait:.2%} waited between steps; "
                f"building every batch of an epoch = {build:.2%} of its time",
                "status": _status([0.05 - max(wait, build)], 0.0),
            }
        )
    rows.append(
        {
            "target": "a demo sweep on Ray equals the sequential result",
            "measured": "tests/parallel/test_executors.py (runs in CI)",
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
