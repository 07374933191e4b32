"""The numbers printed in Jiang & Zhu (2024), stored as data (SPEC §2).

Everything here is the PAPER's, never the kit's. Values that the paper only
draws (bars and curve points of Fig. 9, 10, 11 other than those listed) are
``NOT_PRINTED`` — never estimated from the plots.
"""

from __future__ import annotations

NOT_PRINTED = None
"""Marker for values the paper only draws; tables show them as 'not printed'."""

SOURCE = (
    'Jiang S., Zhu J. "Face Micro-expression Recognition Method Based on ME-ResNet", Computer Science 51(11A), 2024'
)

# Table 1: samples per dataset and class (positive / negative / surprise).
TABLE1 = {
    "samm": {"total": 133, "positive": 26, "negative": 92, "surprise": 15},
    "smic": {"total": 164, "positive": 51, "negative": 70, "surprise": 43},
    "casme2": {"total": 146, "positive": 32, "negative": 86, "surprise": 28},
}

# Table 2: samples after 4x augmentation.
TABLE2_AUGMENTED = {"casme2": 584, "smic": 656, "samm": 532}

# Table 5: UF1 / UAR, 3 classes, LOSO. The first five rows are other papers'
# numbers as the ME-ResNet paper quotes them (their own protocols).
TABLE5 = {
    "OFF-ApexNet": {"casme2": (0.8764, 0.8681), "smic": (0.6817, 0.6695), "samm": (0.5409, 0.5392)},
    "STSTNet": {"casme2": (0.8382, 0.8686), "smic": (0.6801, 0.7013), "samm": (0.6588, 0.6810)},
    "RCN-W": {"casme2": (0.8131, 0.8522), "smic": (0.6600, 0.6584), "samm": (0.6164, 0.7164)},
    "AT-Net": {"casme2": (0.7980, 0.7750), "smic": (0.5530, 0.5430), "samm": (0.4960, 0.4820)},
    "H-SVM": {"casme2": (0.7166, 0.7525), "smic": (0.5465, 0.6398), "samm": (0.4180, 0.4141)},
    "ME-ResNet": {"casme2": (0.8302, 0.8419), "smic": (0.7002, 0.7225), "samm": (0.6831, 0.7023)},
}

# Abstract: ME-ResNet accuracy (fraction).
ACCURACY = {"casme2": 0.8442, "smic": 0.7256, "samm": 0.7041}

# Fig. 11 (ablation on CASME II): only method 4's values are printed.
FIG11 = {
    "resnet50_image": {"uf1": NOT_PRINTED, "uar": NOT_PRINTED, "accuracy": NOT_PRINTED},
    "resnet50_flow": {"uf1": NOT_PRINTED, "uar": NOT_PRINTED, "accuracy": NOT_PRINTED},
    "resnet3d_flow": {"uf1": NOT_PRINTED, "uar": NOT_PRINTED, "accuracy": NOT_PRINTED},
    "me_resnet": {"uf1": 0.8302, "uar": 0.8419, "accuracy": 0.8442},
}

# Fig. 9 (accuracy vs number of key frames N): printed facts only.
FIG9 = {
    "frame_counts": (3, 5, 7, 9, 11, 13, 15),
    "best_num_frames": 11,
    # accuracy gain of N = 11 over N = 3, in percentage points
    "gain_11_over_3_points": {"casme2": 2.78, "smic": 2.54, "samm": 2.63},
    "accuracy_at_11": ACCURACY,  # the paper's main results use N = 11
    "other_points": NOT_PRINTED,
}

# Fig. 10 (accuracy vs scale factor a): printed facts only.
FIG10 = {
    "scale_factors": (0.2, 0.4, 0.6, 0.8, 1.0, 1.2, 1.4),
    "best_scale_factor": 0.8,
    "accuracy_at_0.8": ACCURACY,  # the paper's main results use a = 0.8
    "other_points": NOT_PRINTED,
}

DATASET_TITLES = {"casme2": "CASME II", "smic": "SMIC", "samm": "SAMM", "composite": "Composite"}


def paper_table5_row(method: str = "ME-ResNet") -> dict[str, dict[str, float]]:
    """``{dataset: {"uf1": ..., "uar": ...}}`` for one row of the paper's Table 5."""
    if method not in TABLE5:
        raise ValueError(f"Table 5 has no row {method!r}; rows: {sorted(TABLE5)}")
    return {dataset: {"uf1": uf1, "uar": uar} for dataset, (uf1, uar) in TABLE5[method].items()}
