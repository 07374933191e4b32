"""ME-ResNet reproduction kit (Jiang & Zhu, Computer Science 51(11A), 2024)."""

import os

# TensorFlow turns its oneDNN kernels on by default only on CPUs with AVX-512-class features; elsewhere
# (AVX2-only CPUs such as AMD EPYC) its fallback Conv3D filter gradient makes 3D training many times slower
# (results/bench/demo_model_step.json compares the settings). On by default in every process the kit starts;
# export TF_ENABLE_ONEDNN_OPTS=0 to turn it off. It must be set before TensorFlow loads: hence the package root.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

__version__ = "0.1.0"
