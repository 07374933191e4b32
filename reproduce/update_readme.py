"""Regenerate the README's result blocks from the files the scripts wrote into results/.

    python reproduce/update_readme.py

Rewrites the text between ``<!-- BEGIN name -->`` and ``<!-- END name -->`` markers;
every number comes from results/, none is typed by hand.
"""
import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pandas as pd

from me_resnet import paper
from me_resnet.experiment import markdown_table
from me_resnet.paths import REPO_ROOT, RESULTS_DIR
from me_resnet.tables import METHOD_TITLES


def demo_table5() -> str:
    path = RESULTS_DIR / "demo" / "table5" / "metrics.csv"
    if not path.exists():
        return f"*{path.relative_to(REPO_ROOT)} not produced yet: run `python reproduce/table5.py --demo`.*"
    metrics = pd.read_csv(path)
    rows = []
    for _, row in metrics.iterrows():
        title = METHOD_TITLES.get(row["method"], row["method"])
        quoted = paper.TABLE5.get(title, {}).get(row["dataset"])
        rows.append({
            "method": title, "dataset": paper.DATASET_TITLES.get(row["dataset"], row["dataset"]), "clips": row["n"],
            "UF1 (demo)": f"{row['uf1']:.4f}", "UAR (demo)": f"{row['uar']:.4f}", "accuracy (demo)": f"{row['accuracy']:.4f}",
            "UF1 / UAR as printed in the paper's Table 5": f"{quoted[0]:.4f} / {quoted[1]:.4f}" if quoted else "not printed",
            "how the kit ran it": row["protocol"],
        })
    return (f"Demo Table 5 (synthetic data, demo profile, seed(s) {metrics['seeds'].iloc[0]}), from "
            "`results/demo/table5/metrics.csv`:\n\n" + markdown_table(pd.DataFrame(rows)))


def compute() -> str:
    bench = RESULTS_DIR / "bench"
    parts = []
    cost = bench / "loso_cost.json"
    if cost.exists():
        document = json.loads(cost.read_text())
        me = document["me_resnet"]
        parts.append(
            f"One LOSO fold at the paper profile (CASME II size, {me['steps_per_epoch_full']} steps of batch {document['batch_size']} "
            f"per epoch, {document['precision']}) costs about {me['epoch_seconds_full']:.0f} s per epoch for ME-ResNet and "
            f"{document['resnet50_2d']['epoch_seconds_full']:.0f} s for the 2D ResNet50 on this 2-core CPU (measured on part of an "
            f"epoch and scaled; load average {document['load_average_before_after']}), so the full reproduction in CPU hours here is "
            f"(`results/bench/loso_cost.json`, `benchmarks/loso_cost.py`; {document['assumptions']}):\n\n"
            + markdown_table(pd.DataFrame(document["cpu_hours"]))
            + "\nThe paper profile needs a GPU (or many machines: the Ray executor) in practice.")
    throughput = bench / "model_throughput.json"
    if throughput.exists():
        document = json.loads(throughput.read_text())
        rows = []
        for framework, results in (("Keras", document.get("keras", [])), ("PyTorch", document.get("torch", []))):
            for result in results:
                rows.append({"framework": framework, "precision": result["precision"], "XLA": result.get("jit_compile", ""),
                             "batch": result["batch_size"],
                             "training samples/s": result["training"]["samples_per_second"],
                             "training fraction of matmul peak": result["training"]["fraction_of_matmul_peak"],
                             "inference samples/s": result["inference"]["samples_per_second"]})
        parts.append(f"Paper-profile ME-ResNet ({document['parameters']:,} parameters, {document['forward_gflops_per_sample']} GFLOP "
                     f"forward per sample; measured matmul peak {document['matmul_peak_gflops']} GFLOP/s) from "
                     f"`results/bench/model_throughput.json` (`benchmarks/model_throughput.py`, load average "
                     f"{document['load_average_before_after']}):\n\n" + markdown_table(pd.DataFrame(rows))
                     + f"\nRatios: {json.dumps(document['comparisons'])}. Targets: {json.dumps(document['targets'])}.")
    parts.extend(op_profile(bench))
    pre = bench / "preprocess.json"
    if pre.exists():
        document = json.loads(pre.read_text())
        parts.append(f"Pre-processing (`benchmarks/preprocess.py`, {document['clips']} demo clips at N = 11, 112×112): "
                     f"{document['cold']['clips_per_s']} clips/s cold (incl. {document['cold']['detector_init_seconds']} s TensorFlow/MTCNN "
                     f"start-up; {document['cold']['clips_per_s_without_detector_init']} clips/s without it), "
                     f"{document['warm']['clips_per_s']} clips/s from the cache; mask + strain + normalisation cost "
                     f"{document['post_over_farneback']:.0%} of the Farneback time.")
    return "\n\n".join(parts) if parts else "*No benchmark results yet: run the scripts in benchmarks/.*"


OP_PROFILES = (  # (file in results/bench, column title)
    ("op_profile.json", "float32"), ("op_profile_interop1.json", "float32, ops one at a time"),
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
        rows.setdefault("step, wall clock", {"group (s per step)": "**step, wall clock**"})[title] = f"**{document['step_wall_seconds']:.3f}**"
    first = next(iter(profiles.values()))
    peaks = ", ".join(sorted({f"{d['matmul_peak_dtype']} {d['matmul_peak_gflops']}" for d in profiles.values()}))
    text = (f"Where a training step's time goes (`benchmarks/op_profile.py`: TensorFlow profiler trace of one paper-profile "
            f"step, batch {first['batch_size']}; executed op time summed per group; conv GFLOP/s from the layer shapes, "
            f"as a fraction of the matmul peak measured in the same run: {peaks} GFLOP/s; \"ops one at a time\" = "
            f"`--inter-op-threads 1`, which gives clean per-op times, while by default two ops may share the 2 cores):\n\n"
            + markdown_table(pd.DataFrame(list(rows.values())).fillna("")))
    for title, document in profiles.items():
        text += (f"\n- {title}: conv GEMMs at {document['conv_gemm_gflops_per_second']['fraction_of_matmul_peak']:.0%} of "
                 f"the matmul peak; non-GEMM ops (batch norm, CBAM, element-wise, Adam) "
                 f"{1 - document['conv_gemm_share_of_op_time']:.0%} of the op time.")
    return [text]


def replace_block(text: str, name: str, body: str) -> str:
    pattern = re.compile(rf"(<!-- BEGIN {name} -->\n).*?(<!-- END {name} -->)", re.S)
    if not pattern.search(text):
        raise ValueError(f"README.md has no <!-- BEGIN {name} --> ... <!-- END {name} --> block")
    return pattern.sub(lambda m: m.group(1) + body.rstrip() + "\n" + m.group(2), text)


def main():
    readme = REPO_ROOT / "README.md"
    text = readme.read_text()
    text = replace_block(text, "demo-table5", demo_table5())
    text = replace_block(text, "compute", compute())
    readme.write_text(text)
    print(f"updated {readme}")


if __name__ == "__main__":
    main()
