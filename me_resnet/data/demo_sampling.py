"""What the demo draws per subject and per clip: timing, action units, sides, head motion, distractors, camera.

Timing follows the real coding sheets. ``LENGTH_QUANTILES`` and
``APEX_QUANTILES`` are summaries of the public CASME II (2019-07-01) and SAMM
(v2) coding sheets, over the clips of the MEGC 2019 composite list (145 CASME II,
133 SAMM): quantiles at ``QUANTILE_LEVELS`` of the clip length onset..offset
(frames at 200 fps) and of the apex position as a fraction of onset..offset.
SMIC-HS has no coding sheet (no apex, 100 fps): its clips take CASME II's
durations at 100 fps. Draws interpolate between the quantiles (inverse CDF).

Action units per class (MEGC 2019 ids) are drawn one by one with
``AU_PROBABILITIES``: the share of the CASME II clips of that class whose code
lists the unit (rounded; AU24 lip presser and AU14 dimpler added for negative
clips at small rates), at least the class's first unit when none is drawn.
``ONE_SIDED_SHARE`` is the share of clips of each class coded with an L/R/A
prefix. A share ``AMBIGUOUS_SHARE`` of the clips is ambiguous: weak (a fraction
of the usual amplitude) or mixed with a unit typical of another class.

Amplitudes, head motion, blinks and camera noise are the demo's own
calibration (``docs/demo_data.md``): chosen so that the kit's pre-processing
measures on demo CASME II what it measures on real CASME II clips.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from me_resnet.data.demo_motion import Camera, Event, Expression, HeadMotion

QUANTILE_LEVELS = (0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0)
LENGTH_QUANTILES = {
    "casme2": (31, 41, 51, 68, 86, 98, 126),
    "samm": (30, 45, 58, 77, 89, 97, 101),
    "smic": (16, 21, 26, 34, 43, 49, 63),  # CASME II's durations at 100 fps
}
APEX_QUANTILES = {
    "casme2": (0.125, 0.307, 0.411, 0.509, 0.633, 0.711, 1.0),
    "samm": (0.012, 0.299, 0.36, 0.448, 0.561, 0.667, 0.97),
    "smic": (0.125, 0.307, 0.411, 0.509, 0.633, 0.711, 1.0),
}
AU_PROBABILITIES = {
    0: {"AU4": 0.62, "AU7": 0.34, "AU17": 0.22, "AU10": 0.18, "AU15": 0.15, "AU9": 0.1, "AU24": 0.08, "AU14": 0.05},
    1: {"AU12": 0.88, "AU6": 0.2, "AU14": 0.12, "AU25": 0.05},
    2: {"AU2": 0.84, "AU1": 0.76, "AU5": 0.1, "AU26": 0.08, "AU25": 0.08},
}
ONE_SIDED_SHARE = {0: 0.17, 1: 0.38, 2: 0.56}
AMBIGUOUS_SHARE = 0.2
MIXED_UNITS = {0: ("AU12", "AU2"), 1: ("AU4", "AU15"), 2: ("AU4", "AU12")}  # another class's unit, per class

# Sizes and speeds are in interocular distances d (of the rendered face), so that they look the same
# to the kit's face crop whatever the frame size; noise is in grey levels at REFERENCE_INTEROCULAR.
AMPLITUDE = 0.04  # a subject's median unit displacement at the apex
AMPLITUDE_SPREAD = (0.35, 0.35)  # log-normal sigma between subjects, between clips of a subject
TEMPO_SPREAD = 0.15  # log-normal sigma of a subject's clip-length scale
HEAD_SPEED = 1.35e-4  # median head drift per frame
HEAD_SPEED_SPREAD = (0.2, 0.6)  # log-normal sigma between subjects, between clips
SWAY = 0.0036  # largest slow-sway amplitude
JITTER = 0.00018  # largest per-frame rigid jitter (standard deviation per axis)
RESIDUAL = 0.0027  # median RMS of the non-rigid residual motion over the face
RESIDUAL_PERIOD = (15, 40)  # frames: the 5-13 Hz of physiological tremor at 200 fps
BLINK_SHARE = 0.2
BLINK = ((14, 30), (0.08, 0.14))  # frames, lid travel
HEAD_MOVE_SHARE = 0.15
HEAD_MOVE = ((12, 30), (0.01, 0.04))  # frames, shift
NOISE = (1.35, 1.8)  # grey-level sensor noise range at mid grey, for a face REFERENCE_INTEROCULAR px between the eyes
REFERENCE_INTEROCULAR = 35.0  # px: a face that fills a 112 px crop (3.2 interocular distances)
FLICKER = (0.0005, 0.003)  # range of the per-frame gain's standard deviation
JPEG_QUALITY = {"casme2": (80, 92), "samm": (85, 95), "smic": None}  # SMIC ships bitmaps


@dataclass(frozen=True)
class SubjectStyle:
    """What stays the same across one subject's clips."""

    interocular: float  # px
    amplitude: float  # px of a unit at weight 1
    side: int  # the face side one-sided units prefer (0: image-left)
    tempo: float  # scale of the clip lengths
    head_speed: float  # px per frame
    camera: Camera


def subject_style(rng: np.random.Generator, dataset: str, interocular: float) -> SubjectStyle:
    quality = JPEG_QUALITY[dataset]
    return SubjectStyle(
        interocular=interocular,
        amplitude=AMPLITUDE * interocular * float(np.exp(rng.normal(0.0, AMPLITUDE_SPREAD[0]))),
        side=int(rng.integers(2)),
        tempo=float(np.exp(rng.normal(0.0, TEMPO_SPREAD))),
        head_speed=HEAD_SPEED * interocular * float(np.exp(rng.normal(0.0, HEAD_SPEED_SPREAD[0]))),
        camera=Camera(
            noise=float(rng.uniform(*NOISE)) * max(1.0, interocular / REFERENCE_INTEROCULAR),
            flicker=float(rng.uniform(*FLICKER)),
            jpeg_quality=None if quality is None else int(rng.integers(quality[0], quality[1] + 1)),
        ),
    )


def _quantile_draw(rng: np.random.Generator, quantiles) -> float:
    return float(np.interp(rng.uniform(), QUANTILE_LEVELS, quantiles))


def clip_timing(rng: np.random.Generator, dataset: str, tempo: float, middle_apex: bool) -> tuple[int, int]:
    """``(num_frames, apex_index)`` of one clip: onset..offset length and the apex's index in it."""
    length = max(8, int(round(_quantile_draw(rng, LENGTH_QUANTILES[dataset]) * tempo)))
    fraction = _quantile_draw(rng, APEX_QUANTILES[dataset])
    apex = (length - 1) // 2 if middle_apex else int(round(fraction * (length - 1)))
    return length, int(np.clip(apex, 1, length - 2))


def action_units(rng: np.random.Generator, label: int) -> tuple[tuple[str, float], ...]:
    """The units of one clip of class ``label`` with weights in [0.6, 1]."""
    probabilities = AU_PROBABILITIES[label]
    names = [name for name, p in probabilities.items() if rng.uniform() < p]
    if not names:
        names = [next(iter(probabilities))]
    return tuple((name, float(rng.uniform(0.6, 1.0))) for name in names)


def face_sides(rng: np.random.Generator, label: int, preferred: int) -> tuple[float, float]:
    """Gains of the image-left and image-right side: both ~1, or one side only / stronger."""
    if rng.uniform() >= ONE_SIDED_SHARE[label]:
        return (1.0, 1.0)
    side = preferred if rng.uniform() < 0.7 else 1 - preferred
    weak = 0.0 if rng.uniform() < 0.6 else round(float(rng.uniform(0.3, 0.6)), 2)
    return (1.0, weak) if side == 0 else (weak, 1.0)


def expression(
    rng: np.random.Generator, label: int, style: SubjectStyle, num_frames: int, apex_index: int
) -> Expression:
    """One clip's micro-expression over the whole clip (onset = index 0, offset = the last frame)."""
    units = action_units(rng, label)
    amplitude = style.amplitude * float(np.exp(rng.normal(0.0, AMPLITUDE_SPREAD[1])))
    ambiguous = bool(rng.uniform() < AMBIGUOUS_SHARE)
    if ambiguous and rng.uniform() < 0.5:
        amplitude *= float(rng.uniform(0.25, 0.5))
    elif ambiguous:
        units += ((str(rng.choice(MIXED_UNITS[label])), float(rng.uniform(0.6, 1.0))),)
    sides = face_sides(rng, label, style.side)
    return Expression(label, units, 0, apex_index, num_frames - 1, amplitude, sides, ambiguous)


def head_motion(rng: np.random.Generator, style: SubjectStyle) -> HeadMotion:
    """One clip's head motion: the subject's drift speed varied per clip, in a random direction."""
    speed = style.head_speed * float(np.exp(rng.normal(0.0, HEAD_SPEED_SPREAD[1])))
    angle = rng.uniform(0, 2 * np.pi)
    d = style.interocular
    return HeadMotion(
        velocity=(speed * float(np.cos(angle)), speed * float(np.sin(angle))),
        rotation=float(rng.normal(0.0, 0.002)),
        sway=float(rng.uniform(0.0, SWAY)) * d,
        sway_period=float(rng.uniform(250, 600)),
        sway_phase=float(rng.uniform(0, 2 * np.pi)),
        jitter=float(rng.uniform(0.0, JITTER)) * d,
        residual=RESIDUAL * d * float(np.exp(rng.normal(0.0, 0.4))),
        residual_period=float(rng.uniform(*RESIDUAL_PERIOD)),
    )


def distractors(rng: np.random.Generator, num_frames: int, interocular: float) -> list[Event]:
    """Blinks and head moves placed at random inside a clip of ``num_frames``."""
    events = []
    for kind, share, (length, size) in (("blink", BLINK_SHARE, BLINK), ("head_move", HEAD_MOVE_SHARE, HEAD_MOVE)):
        if rng.uniform() >= share:
            continue
        duration = min(int(rng.integers(length[0], length[1] + 1)), num_frames - 1)
        if duration < 3:
            continue
        start = int(rng.integers(0, num_frames - duration + 1))
        distance = float(rng.uniform(*size)) * interocular
        events.append(Event(kind, start, start + duration - 1, distance, float(rng.uniform(0, 2 * np.pi))))
    return events


@dataclass(frozen=True)
class ClipDraws:
    """One clip's draws, as the generator makes them: its first frame number and, in frame indices from
    the onset (0) to the offset (``num_frames - 1``), its expression, head motion and distractors."""

    onset: int
    expression: Expression
    head: HeadMotion
    events: tuple[Event, ...]

    @property
    def num_frames(self) -> int:
        return self.expression.end + 1


def clip_draws(
    rng: np.random.Generator, dataset: str, style: SubjectStyle, label: int, middle_apex: bool, onsets: tuple[int, int]
) -> ClipDraws:
    """Timing, first frame number (in ``[onsets[0], onsets[1])``), expression, head motion and distractors,
    drawn in this order."""
    num_frames, apex_index = clip_timing(rng, dataset, style.tempo, middle_apex)
    onset = int(rng.integers(*onsets))
    drawn = expression(rng, label, style, num_frames, apex_index)
    head = head_motion(rng, style)
    return ClipDraws(onset, drawn, head, tuple(distractors(rng, num_frames, style.interocular)))
