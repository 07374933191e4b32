"""The numbers of Jiang & Zhu (2024) and of the baselines' own papers, stored as data.

Everything here is published by someone else, never computed by the kit. Three
kinds of value are kept apart:

- **printed**: a number that appears in the paper's text or tables
  (``TABLE1``, ``TABLE2_AUGMENTED``, ``TABLE5``, ``ACCURACY``, ``FIG11``'s
  method 4, ``FIG9_PRINTED``, ``FIG10_PRINTED``);
- **not printed**: values the paper only draws (the other bars and curve
  points of Fig. 9, 10, 11) are ``NOT_PRINTED`` -- never estimated from the plots;
- **inferred**: values the kit needs but the paper does not state, each an
  ``Inferred(value, reason)`` in ``INFERRED``. ``FIG9`` and ``FIG10`` combine
  printed and inferred entries for the scripts and name the inferred keys in
  ``"inferred"``; ``inferred_notes`` gives the text tables print beside them.

``PUBLISHED_RESULTS`` holds the baselines' numbers as their own authors
published them, each with its source. ``INCONSISTENCIES`` lists where the paper
contradicts itself (docs/interpretations.md explains each).
"""

from __future__ import annotations

from dataclasses import dataclass

NOT_PRINTED = None
"""Marker for values the paper only draws; tables show them as 'not printed'."""

SOURCE = (
    'Jiang S., Zhu J. "Face Micro-expression Recognition Method Based on ME-ResNet", Computer Science 51(11A), 2024'
)

DATASET_TITLES = {"casme2": "CASME II", "smic": "SMIC", "samm": "SAMM", "composite": "Composite"}


@dataclass(frozen=True)
class Inferred:
    """A value the paper does not print, and why the kit uses it."""

    value: object
    reason: str


# ---------------------------------------------------------------- printed ----

# Table 1: samples per dataset and class (positive / negative / surprise).
TABLE1 = {
    "samm": {"total": 133, "positive": 26, "negative": 92, "surprise": 15},
    "smic": {"total": 164, "positive": 51, "negative": 70, "surprise": 43},
    "casme2": {"total": 146, "positive": 32, "negative": 86, "surprise": 28},
}

# Table 2: samples after 4x augmentation (whole datasets; docs/interpretations.md, augmentation).
TABLE2_AUGMENTED = {"casme2": 584, "smic": 656, "samm": 532}

# Table 5: UF1 / UAR, 3 classes, LOSO. The first five rows are other papers'
# numbers as the ME-ResNet paper quotes them (their own protocols). The paper
# heads the SAMM columns "SMM".
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

# Fig. 11 (ablation on CASME II): only method 4's values are printed (in the text below the figure).
FIG11 = {
    "resnet50_image": {"uf1": NOT_PRINTED, "uar": NOT_PRINTED, "accuracy": NOT_PRINTED},
    "resnet50_flow": {"uf1": NOT_PRINTED, "uar": NOT_PRINTED, "accuracy": NOT_PRINTED},
    "resnet3d_flow": {"uf1": NOT_PRINTED, "uar": NOT_PRINTED, "accuracy": NOT_PRINTED},
    "me_resnet": {"uf1": 0.8302, "uar": 0.8419, "accuracy": 0.8442},
}

# Fig. 9 text (§3.2.3): best N = 11; N = 11 beats N = 3 by these points "on the 3 datasets",
# in the order printed, without naming the datasets.
FIG9_PRINTED = {"best_num_frames": 11, "gains_11_over_3_points_in_printed_order": (2.78, 2.54, 2.63)}

# Fig. 10 text (§3.2.4): best scale factor a = 0.8.
FIG10_PRINTED = {"best_scale_factor": 0.8}

# --------------------------------------------------------------- inferred ----

INFERRED: dict[str, Inferred] = {
    "fig9_frame_counts": Inferred(
        (3, 5, 7, 9, 11, 13, 15),
        "Fig. 9's x axis is drawn, not printed; the text names N = 3 and N = 11 and says accuracy falls above 11. "
        "Odd N from 3 to 15 is the grid read off the figure's axis.",
    ),
    "fig9_gain_dataset_order": Inferred(
        ("casme2", "smic", "samm"),
        "The text gives the gains +2.78 / +2.54 / +2.63 'on the 3 datasets' without naming them; the kit assigns "
        "them in the order of the abstract and Table 5 (CASME II, SMIC, SAMM). Table 1 lists SAMM first.",
    ),
    "fig9_accuracy_at_11": Inferred(
        "ACCURACY",
        "Fig. 9's points are only drawn; the abstract's accuracies are taken as its N = 11 points because the "
        "conclusion says the method samples 11 frames.",
    ),
    "fig10_scale_factors": Inferred(
        (0.2, 0.4, 0.6, 0.8, 1.0, 1.2, 1.4),
        "Fig. 10's x axis is drawn, not printed; only a = 0.8 appears in the text. The grid is a reading of the "
        "figure's axis.",
    ),
    "fig10_accuracy_at_0.8": Inferred(
        "ACCURACY",
        "Fig. 10's points are only drawn; the abstract's accuracies are taken as its a = 0.8 points because the "
        "text calls a = 0.8 the best setting.",
    ),
}

FIG9 = {
    "frame_counts": INFERRED["fig9_frame_counts"].value,
    "best_num_frames": FIG9_PRINTED["best_num_frames"],
    # percentage points; the dataset of each printed gain is inferred (INFERRED["fig9_gain_dataset_order"])
    "gain_11_over_3_points": dict(
        zip(INFERRED["fig9_gain_dataset_order"].value, FIG9_PRINTED["gains_11_over_3_points_in_printed_order"])
    ),
    "accuracy_at_11": ACCURACY,
    "other_points": NOT_PRINTED,
    "inferred": {
        "frame_counts": "fig9_frame_counts",
        "gain_11_over_3_points": "fig9_gain_dataset_order",
        "accuracy_at_11": "fig9_accuracy_at_11",
    },
}

FIG10 = {
    "scale_factors": INFERRED["fig10_scale_factors"].value,
    "best_scale_factor": FIG10_PRINTED["best_scale_factor"],
    "accuracy_at_0.8": ACCURACY,
    "other_points": NOT_PRINTED,
    "inferred": {"scale_factors": "fig10_scale_factors", "accuracy_at_0.8": "fig10_accuracy_at_0.8"},
}


def is_inferred(figure: dict, key: str) -> bool:
    """Whether ``figure[key]`` (``FIG9`` or ``FIG10``) is inferred rather than printed."""
    return key in figure.get("inferred", {})


def inferred_notes(figure: dict) -> str:
    """Markdown list of the inferred entries of ``FIG9`` / ``FIG10`` and the reason for each."""
    return "".join(
        f"- *inferred, not printed* -- `{key}`: {INFERRED[name].reason}\n" for key, name in figure["inferred"].items()
    )


# ------------------------------------------------- the baselines' own papers ----

# UF1 / UAR as the AUTHORS published them, under the MEGC 2019 composite
# protocol (442 clips, 3 classes, LOSO, predictions pooled per dataset).
PUBLISHED_RESULTS: dict[str, dict] = {
    "ststnet": {
        "source": "Liong et al., FG 2019 (arXiv:1902.03634), MEGC 2019 composite results; the per-dataset "
        "values as the ME-ResNet paper's Table 5 quotes them",
        "composite": {"uf1": 0.7353, "uar": 0.7605},
        **{dataset: {"uf1": uf1, "uar": uar} for dataset, (uf1, uar) in TABLE5["STSTNet"].items()},
    },
    "ststnet_pytorch_port": {
        "source": "the STSTNet authors' own PyTorch port, github.com/christy1206/STSTNet "
        "(main.py, STSTNet_python_logfile.txt 'Final Evaluation')",
        "composite": {"uf1": 0.7209, "uar": 0.725},
    },
    "off_apexnet": {
        "source": "Gan et al., Signal Processing: Image Communication 2019, MEGC 2019 composite "
        "protocol, as quoted in the ME-ResNet paper's Table 5 (no composite value quoted there)",
        **{dataset: {"uf1": uf1, "uar": uar} for dataset, (uf1, uar) in TABLE5["OFF-ApexNet"].items()},
    },
}

# ------------------------------------------------ the paper's own contradictions ----

INCONSISTENCIES: tuple[str, ...] = (
    "Table 5 SAMM UAR: RCN-W 0.7164 > ME-ResNet 0.7023, yet ME-ResNet's value is set in bold and §3.3 reports "
    "a +2.13 point UAR gain on SAMM (true only against STSTNet's 0.6810).",
    "Eq. (12) and (14) write a softmax while the text (and CBAM) use a sigmoid.",
    "Eq. (10) defines only the channel average; the text pools each channel by global max and average "
    "pooling into two vectors and sums their MLP outputs.",
    "Eq. (18) divides TP by TP + FP + TN + FN, which is accuracy-like, not the recall UAR is defined by.",
    "Eq. (5) takes the difference of the target (flow) image I_m, the text the grey-level difference of frames.",
    "Eq. (8) sums S_1..S_10 ('11 frames') while defining M = N - 1 for any N.",
    "Eq. (3)-(4) give one (u, v) for the whole image from image-wide sums, not Farneback's per-pixel "
    "polynomial expansion (ref. [13]) that the text says is used.",
    "Table 1's negative counts exceed the text's negative list (消极, 压抑, 恐惧, 悲伤): adding disgust, anger "
    "and contempt gives SAMM's 92 exactly but CASME II 96, and no mapping of the CASME II sheet gives 32/86/28.",
    "Table 3 is introduced with the augmented counts (§3.2.1) but holds Table 1's counts before augmentation.",
    "α names four things: the learning rate (§3.2.1), the focal-loss class weight (eq. (15)), the channel "
    "attention weights (eq. (12)) and, in §3.2.4's heading and text, the scale factor that eq. (9) calls a.",
    "References: [9] and [10] are the same OFF-ApexNet entry (STSTNet is cited as [10]); [16]/[17], [19]/[20] "
    "and [22]/[24] are duplicated; CBAM is cited as [17] (a gesture paper; Woo et al. is [18]), CASME II as [21] "
    "(an attention paper), SMIC as [20], RCN-W as [23] (CASME II) and H-SVM as [24] (SAMM).",
    "Table 5 and §3.3 call SAMM 'SMM'.",
)


def paper_table5_row(method: str = "ME-ResNet") -> dict[str, dict[str, float]]:
    """``{dataset: {"uf1": ..., "uar": ...}}`` for one row of the paper's Table 5."""
    if method not in TABLE5:
        raise ValueError(f"Table 5 has no row {method!r}; rows: {sorted(TABLE5)}")
    return {dataset: {"uf1": uf1, "uar": uar} for dataset, (uf1, uar) in TABLE5[method].items()}
