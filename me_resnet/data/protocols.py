"""The 3-class label protocols (switch ``Config.protocol``; docs/interpretations.md).

- ``megc2019`` (default): the official MEGC 2019 composite list
  ``combined_3class_gt.csv`` (shipped as ``me_resnet/data/megc2019_combined_3class_gt.csv``;
  no header, CRLF, ``dataset,subject,clip,label``; 0 negative, 1 positive,
  2 surprise) decides which clips are used and their labels: 442 clips =
  CASME II 145 + SMIC 164 + SAMM 133.
- ``paper_literal``: the paper's text (§3.1) word for word: positive =
  积极, 快乐 (positive, happiness); negative = 消极, 压抑, 恐惧, 悲伤 (negative,
  repression, fear, sadness); surprise = 惊讶. Every other emotion is excluded,
  so CASME II's disgust and SAMM's anger, contempt and disgust clips are
  dropped, and the negative counts fall far below Table 1's.
- ``paper_extended``: the literal list plus disgust (CASME II, SAMM), anger and
  contempt (SAMM) as negative: the text's list widened until SAMM gives
  Table 1's 133 = 26/92/15 exactly. It does not give CASME II's.

Clips per protocol (positive / negative / surprise), from the real coding
sheets (CASME II 2019-07-01, SAMM v2) and, for SMIC, whose class folders are
its labels, the MEGC 2019 list; ``tests/data/test_datasets_real.py`` asserts
every number:

==============  ================  ================  ================
protocol        CASME II          SAMM              SMIC
==============  ================  ================  ================
megc2019        145 = 32/88/25    133 = 26/92/15    164 = 51/70/43
paper_literal   93 = 32/33/28     55 = 26/14/15     164 = 51/70/43
paper_extended  156 = 32/96/28    133 = 26/92/15    164 = 51/70/43
Table 1         146 = 32/86/28    133 = 26/92/15    164 = 51/70/43
==============  ================  ================  ================

No assignment of the CASME II sheet's emotions (or of its objective classes)
to the three classes gives Table 1's 32/86/28, whether the row with apex '/'
is kept or dropped: Table 1's CASME II counts come from something the kit
cannot rebuild (another sheet version or a selection the paper does not state).

Emotions outside a mapping ('others', 'Other') are excluded and counted.

The list writes names differently from the folders (SMIC ``s01``/``s01_ne_01``
vs ``s1``/``s1_ne_01``; SAMM subject ``6`` vs ``006``; CASME II sheets give
subject ``1`` for ``sub01``): ``canonical_subject`` / ``canonical_clip`` map
every spelling to one key, and loaders compare keys only.
"""

from __future__ import annotations

import re
from pathlib import Path

from me_resnet.config import field_choices
from me_resnet.data.records import CLASS_NAMES, DATASETS
from me_resnet.utils.paths import PACKAGE_DATA

PROTOCOLS = field_choices("protocol")  # defined in Config; here what each one means
PAPER_PROTOCOLS = ("paper_literal", "paper_extended")  # emotion -> class mappings (the others read a list)
PROTOCOL_DESCRIPTIONS = {
    "megc2019": "the official MEGC 2019 composite 3-class list (the protocol of Table 5's other methods)",
    "paper_literal": "the paper's text: negative = negative, repression, fear, sadness only",
    "paper_extended": "the paper's text plus disgust (CASME II, SAMM), anger, contempt (SAMM) as negative: "
    "gives Table 1's SAMM counts (133 = 26/92/15), not its CASME II counts (156 = 32/96/28, not 146 = 32/86/28)",
}
MEGC2019_LIST = PACKAGE_DATA / "megc2019_combined_3class_gt.csv"

NEGATIVE, POSITIVE, SURPRISE = (CLASS_NAMES.index(name) for name in ("negative", "positive", "surprise"))

# paper_literal: emotion (lower-cased) -> class id, per dataset; only the emotions §3.1 names
PAPER_LITERAL_CLASSES: dict[str, dict[str, int]] = {
    "casme2": {
        "happiness": POSITIVE,
        "repression": NEGATIVE,
        "fear": NEGATIVE,
        "sadness": NEGATIVE,
        "surprise": SURPRISE,
    },
    "samm": {"happiness": POSITIVE, "fear": NEGATIVE, "sadness": NEGATIVE, "surprise": SURPRISE},
    "smic": {"positive": POSITIVE, "negative": NEGATIVE, "surprise": SURPRISE},
}

# paper_extended: the literal mapping plus disgust / anger / contempt as negative
PAPER_EXTENDED_CLASSES: dict[str, dict[str, int]] = {
    "casme2": {
        "happiness": POSITIVE,
        "disgust": NEGATIVE,
        "repression": NEGATIVE,
        "fear": NEGATIVE,
        "sadness": NEGATIVE,
        "surprise": SURPRISE,
    },
    "samm": {
        "happiness": POSITIVE,
        "anger": NEGATIVE,
        "contempt": NEGATIVE,
        "disgust": NEGATIVE,
        "fear": NEGATIVE,
        "sadness": NEGATIVE,
        "surprise": SURPRISE,
    },
    "smic": {"positive": POSITIVE, "negative": NEGATIVE, "surprise": SURPRISE},
}


def check_protocol(protocol: str) -> None:
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; choose one of {list(PROTOCOLS)}")


def paper_label(dataset: str, emotion: str, protocol: str = "paper_literal") -> int | None:
    """Class id of ``emotion`` under ``protocol`` (one of ``PAPER_PROTOCOLS``), ``None`` if excluded."""
    if protocol not in PAPER_PROTOCOLS:
        raise ValueError(f"paper_label needs one of {PAPER_PROTOCOLS}, got protocol {protocol!r}")
    classes = PAPER_LITERAL_CLASSES if protocol == "paper_literal" else PAPER_EXTENDED_CLASSES
    return classes[dataset].get(str(emotion).strip().lower())


def _digits(text: str) -> int | None:
    match = re.search(r"(\d+)$", str(text).strip())
    return int(match.group(1)) if match else None


def canonical_subject(dataset: str, subject) -> str:
    """One spelling per subject: casme2 ``sub01``, samm ``006``, smic ``s1``."""
    text = str(subject).strip()
    if isinstance(subject, float) and subject.is_integer():
        text = str(int(subject))
    number = _digits(text)
    if number is None:
        return text
    return {"casme2": f"sub{number:02d}", "samm": f"{number:03d}", "smic": f"s{number}"}.get(dataset, text)


def canonical_clip(dataset: str, clip) -> str:
    """One spelling per clip name; only SMIC differs (``s01_ne_01`` -> ``s1_ne_01``)."""
    text = str(clip).strip()
    if dataset == "smic":
        text = re.sub(r"^s0*(\d+)_", lambda m: f"s{int(m.group(1))}_", text)
    return text


def read_megc2019_list(path=None) -> dict[str, dict[tuple[str, str], int]]:
    """The composite list as ``{dataset: {(subject, clip): label}}`` with canonical keys.

    ``path`` overrides the shipped file. Malformed lines raise ``ValueError``
    naming the file and line.
    """
    path = Path(path).expanduser() if path is not None else MEGC2019_LIST
    if not path.is_file():
        raise FileNotFoundError(f"megc2019 list {str(path)!r} does not exist")
    entries: dict[str, dict[tuple[str, str], int]] = {name: {} for name in DATASETS}
    for line_number, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), start=1):
        if not line.strip():
            continue
        parts = [part.strip() for part in line.split(",")]
        if len(parts) != 4 or parts[0] not in entries or parts[3] not in ("0", "1", "2"):
            raise ValueError(
                f"{path} line {line_number}: expected 'dataset,subject,clip,label' with dataset in "
                f"{list(DATASETS)} and label 0/1/2, got {line!r}"
            )
        dataset, subject, clip, label = parts
        key = (canonical_subject(dataset, subject), canonical_clip(dataset, clip))
        entries[dataset][key] = int(label)
    return entries
