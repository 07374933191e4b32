"""benchmarks/: op_profile's op classification and traced tiny ME-ResNet step; other benchmarks' helpers."""

import pytest

keras = pytest.importorskip("keras")
if keras.backend.backend() != "tensorflow":
    pytest.skip("op_profile reads TensorFlow profiler traces", allow_module_level=True)

from benchmarks.op_profile import classify, profile_training_step  # noqa: E402
from me_resnet.models.flops import count_flops, count_layer_flops  # noqa: E402


def test_classify_names_the_conv_direction_the_layer_and_the_optimizer():
    groups = {"conv2_block1_1_conv": "conv", "conv2_block1_1_bn": "batch norm", "conv2_block1_cbam": "CBAM"}
    assert classify(
        "gradient_tape/me_resnet_1/conv2_block1_1_conv_1/convolution/Conv3DBackpropFilterV2",
        "_MklNativeConv3DBackpropFilterV2",
        groups,
    ) == ("conv weight gradient", "conv2_block1_1_conv")
    assert classify("me_resnet_1/conv2_block1_1_conv_1/BiasAdd", "_MklNativeFusedConv3D", groups) == (
        "conv forward",
        "conv2_block1_1_conv",
    )
    assert classify("me_resnet_1/conv2_block1_1_bn_1/moments/mean", "Mean", groups) == (
        "batch norm",
        "conv2_block1_1_bn",
    )
    # CBAM's own spatial conv counts as CBAM, not as a ResNet conv
    assert (
        classify("me_resnet_1/conv2_block1_cbam_1/spatial_conv_1/convolution", "_MklNativeConv3D", groups)[0] == "CBAM"
    )
    assert classify("adam/Mul_26", "Mul", groups) == ("optimizer (Adam)", None)
    # a later optimizer in the same process is scoped adam_2/...
    assert classify("adam_2/Mul_26", "Mul", groups, optimizer="adam_2") == ("optimizer (Adam)", None)
    assert classify("adam/Mul_26", "Mul", groups, optimizer="adam_2")[0] != "optimizer (Adam)"


@pytest.mark.slow
def test_profile_of_a_tiny_training_step_accounts_for_the_conv_flops():
    keras.optimizers.Adam()  # not the process's first optimizer (as in a full test run): scoped adam_<n>/
    document = profile_training_step(quick=True, batch_size=2, steps=1)
    groups = {row["group"]: row for row in document["groups"]}
    assert {
        "conv forward",
        "conv weight gradient",
        "conv input gradient",
        "batch norm",
        "CBAM",
        "optimizer (Adam)",
    } <= set(groups)
    assert sum(row["share_of_op_time"] for row in document["groups"]) == pytest.approx(1.0, abs=1e-3)
    assert all(isinstance(document[name], float) for name in ("op_seconds_per_step", "step_wall_seconds"))
    # every ResNet conv ran forward and weight-gradient; all but the stem (whose input is data) input-gradient
    from benchmarks.op_profile import _build

    model, _ = _build(True, "float32")
    cbam_and_dense = sum(f for name, f in count_layer_flops(model).items() if "cbam" in name or "predictions" in name)
    conv_gflop = 2 * (count_flops(model) - cbam_and_dense) / 1e9
    stem_gflop = 2 * count_layer_flops(model)["conv1_conv"] / 1e9
    assert groups["conv forward"]["gflop_per_step"] == pytest.approx(conv_gflop, rel=0.02)
    assert groups["conv weight gradient"]["gflop_per_step"] == pytest.approx(conv_gflop, rel=0.02)
    assert groups["conv input gradient"]["gflop_per_step"] == pytest.approx(conv_gflop - stem_gflop, rel=0.02)


@pytest.mark.slow
def test_demo_model_step_measures_a_tiny_model():
    import dataclasses

    from benchmarks.demo_model_step import measure
    from me_resnet.config import DEMO

    tiny = dataclasses.replace(DEMO, num_frames=3, image_size=16, width=4, cbam_reduction=4)
    result = measure(tiny, steps=2)
    assert result["input_shape"] == [2, 16, 16, 3] and result["timed_steps"] == 2
    # what it measured, not how fast: times belong to the benchmark's results, not to an assert
    assert all(isinstance(result[name], float) for name in ("first_step_seconds", "traced_step_seconds"))
    assert set(result["targets_met"]) == set(result["targets"])
    with pytest.raises(ValueError, match="steps must be >= 1, got 0"):
        measure(tiny, steps=0)


def test_demo_quality_summary_is_mean_and_sd_over_seeds():
    from benchmarks.demo_quality import summarise

    per_seed = {
        str(seed): {"one_thread": {"uf1": {"casme2": uf1, "composite": 1 - uf1}, "wall_seconds": 10.0 * (seed + 1)}}
        for seed, uf1 in enumerate([0.5, 0.7, 0.9])
    }
    summary = summarise(per_seed)
    assert set(summary) == {"one_thread"} and summary["one_thread"]["seeds"] == 3
    assert summary["one_thread"]["casme2"] == {"mean": 0.7, "sd": 0.2}
    assert summary["one_thread"]["composite"]["mean"] == 0.3 and summary["one_thread"]["mean_wall_seconds"] == 20.0


def test_engine_profile_groups_op_types_by_kind():
    from benchmarks.engine_profile import kind_of

    assert kind_of("_MklNativeConv2DBackpropFilter") == "convolution"
    assert kind_of("_MklNativeMaxPoolGrad") == kind_of("AvgPool") == "pooling"
    assert kind_of("StatelessRandomUniformV2") == "dropout random numbers"
    assert kind_of("_MklBatchMatMulV2") == "matmul"
    assert kind_of("_MklTranspose") == kind_of("Unpack") == "layout (transpose, slice, stack, concat)"
    assert kind_of("Mul") == kind_of("Sum") == kind_of("ReluGrad") == "element-wise and reductions"
    assert kind_of("CpuExecutable::ExecuteAsyncOnStream") == "compiled Adam (XLA)"


def test_small_model_epoch_timing_counts_each_pass_at_its_own_epochs():
    from benchmarks.small_model_loso import epoch_timing

    # pass 1: start 0, first (traced) epoch ends at 5, then 1 s per epoch for 4 more epochs (5 epochs)
    # pass 2 stopped early: start 20, first epoch ends at 24, then 2 s per epoch for 1 more (2 epochs)
    # pass 3: a single epoch, nothing to time: counted as set-up
    per_epoch, training = epoch_timing([[0, 5, 6, 7, 8, 9], [20, 24, 26], [30, 33]])
    assert per_epoch == pytest.approx(1 + 2)
    assert training == pytest.approx(1 * 5 + 2 * 2)  # not per_epoch x the longest pass's 5 epochs (15)


def test_gpu_check_records_a_failing_measurement_and_runs_the_chosen_parts_in_order(tmp_path, monkeypatch):
    import json
    import time

    from benchmarks import gpu_check

    calls = []

    def throughput(config, policy, batch, steps):
        calls.append(("throughput", batch))
        raise RuntimeError("max_pool3d_with_indices_backward_cuda does not have a deterministic implementation")

    def small_model_engine(method, epochs, folds):
        calls.append(("engine", method))
        time.sleep(0.2)
        return {"method": method}

    monkeypatch.setattr(gpu_check, "throughput", throughput)
    monkeypatch.setattr(gpu_check, "small_model_engine", small_model_engine)
    monkeypatch.setattr(gpu_check, "short_loso", lambda *a: pytest.fail("loso is not among --parts"))
    argv = ["--smoke", "--out", str(tmp_path), "--parts", "engine", "throughput", "--batch-sizes", "4", "8"]
    gpu_check.main([*argv, "--budget-seconds", "0.1"])

    # engine first (--parts order); its second method and every throughput row start after the budget
    assert calls == [("engine", "ststnet")]
    engine = json.loads((tmp_path / "engine.json").read_text())
    assert engine["results"] == [{"method": "ststnet"}] and engine["skipped_over_budget"] == [
        "small_model_engine('off_apexnet', 20, 3)"
    ]
    assert not (tmp_path / "loso.json").exists()

    calls.clear()
    gpu_check.main(argv)
    assert calls == [("engine", "ststnet"), ("engine", "off_apexnet"), ("throughput", 4), ("throughput", 8)]
    rows = json.loads((tmp_path / "throughput.json").read_text())["results"]
    assert [row["call"] for row in rows] == ["throughput('float32', 4, 5)", "throughput('float32', 8, 5)"]
    assert all(row["error"].startswith("RuntimeError: max_pool3d_with_indices_backward_cuda") for row in rows)
