"""Small formatting helpers for the markdown tables the kit writes."""

from __future__ import annotations

import numpy as np
import pandas as pd


def fmt(value, digits: int = 4) -> str:
    """A number for a markdown table; ``None`` (paper did not print it) → 'not printed'."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "not printed"
    return f"{value:.{digits}f}"


def markdown_table(frame: pd.DataFrame) -> str:
    header = "| " + " | ".join(str(c) for c in frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    lines = [header, rule]
    for _, row in frame.iterrows():
        lines.append("| " + " | ".join(str(v) for v in row.values) + " |")
    return "\n".join(lines) + "\n"


def demo_banner(demo: bool) -> str:
    if not demo:
        return ""
    return (
        "> **Synthetic demo data.** These numbers come from the kit's generated demo datasets and a small demo "
        "model; they show what a result looks like and say nothing about the paper's claims.\n\n"
    )


def coverage_banner(coverage) -> str:
    """A warning for a partial result (a ``reporting.outputs.Coverage`` that is not complete); '' otherwise."""
    if coverage is None or coverage.complete:
        return ""
    return (
        f"> **Partial result: {coverage.describe()}.** It covers only part of the protocol, so it is not comparable "
        'with the paper\'s numbers: no "this kit − paper" differences are shown.\n\n'
    )
