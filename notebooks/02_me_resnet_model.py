# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 02 — The ME-ResNet model
#
# ME-ResNet (paper §2.2, Fig. 4-6; docs/method.md) is a ResNet50 layout built from `Conv3D`: a stem
# `Conv3D(64, (3,7,7), strides (1,2,2))` + BN + ReLU + `MaxPool3D((1,3,3))`, then 4 stages of
# [3, 4, 6, 3] Bottleneck3D blocks (1x1x1 → 3x3x3 → 1x1x1 convs with BN) with **CBAM** attention on the
# third conv's output before the residual add, global average pooling and a 3-class softmax. Input: the
# $N-1$ flow fields of a clip, each (u, v, strain): $(N-1, H, W, 3)$.
#
# > The clips used below are **synthetic demo data** (see notebook 01); the short fit in section 4 only gives
# > the attention something to attend to and is not an evaluation (LOSO results: `reproduce/table5.py`).

# %%
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow loads: no C++ start-up log lines

import dataclasses

from me_resnet.utils.quiet import tensorflow_environment

os.environ.update(tensorflow_environment())  # the kit's TensorFlow settings (oneDNN on), before TensorFlow loads

# isort: split
import keras
import numpy as np
import pandas as pd
from IPython.display import display

from me_resnet.config import DEMO, PAPER
from me_resnet.data import demo
from me_resnet.data.loading import load_casme2
from me_resnet.models.cbam import CBAM
from me_resnet.models.flops import count_flops
from me_resnet.models.inflation import inflate_weights
from me_resnet.models.registry import build_model
from me_resnet.models.resnet import build_resnet50_2d
from me_resnet.preprocessing import features
from me_resnet.reporting.notebook_setup import configure_notebook
from me_resnet.reporting.pipeline_figures import attention_figure, cbam_attention

configure_notebook()
keras.utils.set_random_seed(DEMO.seed)

# %% [markdown]
# ## 1. The demo profile's model
#
# `build_model("me_resnet", input_shape, num_classes, config)` builds the network from the config's
# `blocks`, `width` and `cbam_*` fields. The `DEMO` profile keeps the layout but shrinks it (fewer blocks per
# stage, narrower, fewer and smaller frames) so the whole pipeline runs in minutes on a CPU. Layer names
# follow `keras.applications.ResNet50` plus `convS_blockB_cbam`.

# %%
print(f"DEMO: blocks {DEMO.blocks}, width {DEMO.width}, N = {DEMO.num_frames}, {DEMO.image_size}x{DEMO.image_size}")
demo_shape = (DEMO.num_frames - 1, DEMO.image_size, DEMO.image_size, 3)
model = build_model("me_resnet", demo_shape, 3, DEMO)
model.summary(line_length=110, print_fn=print)  # plain text: small and readable in the committed file

# %% [markdown]
# ## 2. The paper's profile: parameters and FLOPs
#
# At the paper's settings (N = 11 → 10 flow fields of 112x112x3, 3 classes) the model is built once here (a few
# seconds). FLOPs per sample are counted from the layer shapes by `me_resnet.models.flops.count_flops`
# (2 × multiply-adds of convs, dense layers and CBAM; BatchNorm, activations and pooling not counted).

# %%
paper_shape = (PAPER.num_frames - 1, PAPER.image_size, PAPER.image_size, 3)
paper_model = build_model("me_resnet", paper_shape, 3, PAPER)
cbam_layers = [layer for layer in paper_model.layers if isinstance(layer, CBAM)]
print(
    f"ME-ResNet, paper profile, input {paper_shape}: {paper_model.count_params():,} parameters, "
    f"{sum(layer.count_params() for layer in cbam_layers):,} of them in its {len(cbam_layers)} CBAM layers"
)
stages = {
    stage: sum(layer.count_params() for layer in paper_model.layers if layer.name.startswith(stage))
    for stage in ("conv1", "conv2", "conv3", "conv4", "conv5", "predictions")
}
display(pd.DataFrame({"parameters": stages}).T)
sizes = [
    {
        "profile": name,
        "input (T, H, W, C)": shape,
        "parameters": m.count_params(),
        "forward GFLOPs / sample": round(count_flops(m) / 1e9, 3),
    }
    for name, shape, m in (("DEMO", demo_shape, model), ("PAPER", paper_shape, paper_model))
]
display(pd.DataFrame(sizes).set_index("profile"))

# %% [markdown]
# ## 3. 2D → 3D: the same names, one more axis
#
# The paper pretrains a 2D ResNet50-CBAM on Fer2013 and turns it into ME-ResNet by **inflation** (I3D,
# Carreira & Zisserman 2017): every 2D kernel $(k_h, k_w, c_{in}, c_{out})$ is repeated $k_t$ times along
# time and divided by $k_t$, so a clip of identical frames gives the 2D response at every temporally interior
# position; BatchNorm and CBAM's MLP have the same shapes in 2D and 3D and are copied.
# `me_resnet.models.inflation.inflate_weights` matches the layers **by name**, which is why both builders use
# the same Keras-style names. The stem and the first block:

# %%
model_2d = build_resnet50_2d((PAPER.image_size, PAPER.image_size, 3), 7, cbam=True, name="resnet50_cbam_fer2013")
report = inflate_weights(model_2d, paper_model)
transfer = {name: "inflated" for name in report.inflated} | {name: "copied" for name in report.copied}
transfer |= report.skipped
rows = []
for layer in model_2d.layers:
    if layer.weights and (layer.name.startswith(("conv1", "conv2_block1")) or layer.name == "predictions"):
        twin = paper_model.get_layer(layer.name)
        rows.append(
            {
                "layer name": layer.name,
                "2D class": type(layer).__name__,
                "2D first weight": tuple(layer.weights[0].shape),
                "3D class": type(twin).__name__,
                "3D first weight": tuple(twin.weights[0].shape),
                "transfer": transfer.get(layer.name, ""),
            }
        )
display(pd.DataFrame(rows).set_index("layer name"))
print("inflate_weights:", report.summary())
del model_2d, paper_model

# %% [markdown]
# ## 4. What CBAM attends to
#
# CBAM (Woo et al., ECCV 2018; paper eq. 10-14) first weighs the channels,
# $a_c = \sigma(\mathrm{MLP}(\mathrm{avgpool}(x)) + \mathrm{MLP}(\mathrm{maxpool}(x)))$, then the positions,
# $b = \sigma(\mathrm{Conv}_{7\times7\times7}([\mathrm{mean}_c(x'); \max_c(x')]))$.
# `CBAM.attention_maps(x)` returns both for the layer's input. Here: the first block's CBAM
# (`conv2_block1_cbam`) on a positive demo clip, at initialisation and after a short fit of the demo model on
# the CASME II demo clips.

# %%
records = load_casme2(demo.ensure_demo_data() / "casme2").records
sequence = features.extract_features(records, DEMO, "sequence", workers=1, progress=False)
apex_faces = dataclasses.replace(DEMO, normalise="none")  # grey levels, to draw the attention on
faces = features.extract_features(records, apex_faces, "apex_image", workers=1, progress=False)
index = int(np.flatnonzero(sequence.y == 1)[0])  # a positive clip: lip corners up and out
before = cbam_attention(model, "conv2_block1_cbam", sequence.X[index])
model.compile(
    optimizer=keras.optimizers.Adam(DEMO.learning_rate), loss="sparse_categorical_crossentropy", metrics=["accuracy"]
)
history = model.fit(sequence.X, sequence.y, epochs=20, batch_size=DEMO.batch_size, verbose=0)
after = cbam_attention(model, "conv2_block1_cbam", sequence.X[index])
print(
    f"fit on all {len(sequence)} CASME II demo clips for 20 epochs: training accuracy "
    f"{history.history['accuracy'][-1]:.2f} (on the training clips themselves, not an evaluation)"
)
print(f"{records[index].key}: channel map {before['channel'].shape}, spatial map {before['spatial'].shape}")

# %%
fig = attention_figure(
    faces.X[index, ..., 0],
    {"initial": before, "after the fit": after},
    "conv2_block1_cbam: spatial attention over the apex face crop (colours scaled per row), "
    "channel attention (synthetic demo clip)",
)
