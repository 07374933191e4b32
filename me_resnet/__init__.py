"""ME-ResNet reproduction kit (Jiang & Zhu, Computer Science 51(11A), 2024)."""

__version__ = "0.1.0"
