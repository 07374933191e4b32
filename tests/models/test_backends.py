"""Model code is backend-neutral (keras.ops / keras.layers only): run CBAM and a demo
ME-ResNet forward + train step under other Keras backends, in a subprocess each
(the backend is fixed at import time). Skipped when the backend is not installed."""

import importlib.util
import os
import subprocess
import sys

import pytest

from me_resnet.utils.paths import REPO_ROOT

SCRIPT = r"""
import keras, numpy as np
assert keras.backend.backend() == BACKEND, keras.backend.backend()
from me_resnet.config import DEMO
from me_resnet.models.cbam import CBAM
from me_resnet.training.losses import focal_loss
from me_resnet.models.registry import build_model

x = np.random.default_rng(0).normal(size=(2, 5, 8, 8, 16)).astype("float32")
for gate in ("sigmoid", "softmax"):
    layer = CBAM(rank=3, reduction=4, gate=gate)
    assert tuple(layer(x).shape) == x.shape
    spatial = keras.ops.convert_to_numpy(layer.attention_maps(x)["spatial"])
    if gate == "softmax":
        np.testing.assert_allclose(spatial.reshape(2, -1).sum(1), 1.0, rtol=1e-5)

keras.utils.set_random_seed(0)
model = build_model("me_resnet", (5, 32, 32, 3), 3, DEMO)
model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=focal_loss([0.2, 0.3, 0.5]))
inputs = np.random.default_rng(1).normal(size=(4, 5, 32, 32, 3)).astype("float32")
labels = keras.utils.to_categorical([0, 1, 2, 0], 3)
probabilities = model.predict(inputs, verbose=0)
np.testing.assert_allclose(probabilities.sum(1), 1.0, rtol=1e-5)
losses = [float(model.train_on_batch(inputs, labels)) for _ in range(3)]
assert all(np.isfinite(losses)), losses
print("OK", BACKEND, losses)
"""


@pytest.mark.parametrize("backend, module", [("torch", "torch"), ("jax", "jax")])
def test_cbam_and_me_resnet_run_on_backend(backend, module):
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} not installed")
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
    result = subprocess.run(
        [sys.executable, "-c", f"BACKEND = {backend!r}\n" + SCRIPT],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"OK {backend}" in result.stdout
