"""Reduced-precision training (``Config.precision``) where this TensorFlow CPU build computes it wrongly or
cannot run it: refused before the fold trains, or named when its loss turns NaN (tests/training/test_precision.py)."""

from __future__ import annotations

import numpy as np


def check_precision_kernels(model, precision: str) -> None:
    """Refuse reduced-precision runs that this TensorFlow CPU build computes wrongly or cannot run.

    Measured on TF 2.21 (oneDNN, AVX-512 BF16): no float16 ``MaxPool3D`` CPU kernel;
    bfloat16 ``Conv3DBackpropFilter`` of a 3-frame kernel over a <= 2-frame input is
    wrong (relative error ~1 at ME-ResNet's conv5 shape (2, 4, 4, 512), inf/NaN at
    smaller ones) while its forward pass is right, so training would silently diverge.
    """
    import keras

    if precision == "float32" or keras.backend.backend() != "tensorflow" or keras.distribution.list_devices("gpu"):
        return
    if precision == "mixed_float16" and any(isinstance(layer, keras.layers.MaxPooling3D) for layer in model.layers):
        raise ValueError(
            f"precision='mixed_float16' cannot train {model.name} on this CPU: TensorFlow has no float16 MaxPool3D "
            f"CPU kernel; use precision='float32', or a GPU"
        )
    short = [
        layer.name
        for layer in model.layers
        if isinstance(layer, keras.layers.Conv3D)
        and layer.kernel_size[0] > 1
        and layer.input.shape[1] is not None
        and layer.input.shape[1] <= 2
    ]
    if precision == "mixed_bfloat16" and short:
        raise ValueError(
            f"precision='mixed_bfloat16' would train {model.name} with wrong gradients on this CPU: "
            "TensorFlow/oneDNN's "
            f"bfloat16 Conv3D filter gradient is wrong for inputs of <= 2 frames ({short[:3]}); use precision='float32'"
        )


def check_finite_loss(losses, precision: str) -> None:
    """A NaN training loss means broken weights: raise rather than report chance-level predictions."""
    bad = [epoch + 1 for epoch, value in enumerate(losses) if not np.isfinite(value)]
    if not bad:
        return
    hint = ""
    if precision == "mixed_bfloat16":  # measured: TF 2.21 oneDNN Conv3DBackpropFilter bf16 returns inf/NaN for T=2
        hint = (
            " With mixed_bfloat16 on a CPU this is a known TensorFlow/oneDNN defect (bfloat16 Conv3D filter "
            "gradients are non-finite for some shapes, e.g. 2 frames); use precision='float32'."
        )
    raise ValueError(f"training loss is NaN/inf from epoch {bad[0]} (precision={precision!r}).{hint}")
