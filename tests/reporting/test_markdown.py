"""Formatting helpers for the markdown the kit writes (me_resnet/reporting/markdown.py)."""

import math
from types import SimpleNamespace

import pandas as pd

from me_resnet.reporting.markdown import coverage_banner, demo_banner, fmt, markdown_table


def test_fmt_rounds_and_says_when_the_paper_printed_nothing():
    assert fmt(0.123456) == "0.1235" and fmt(2, digits=1) == "2.0"
    assert fmt(None) == fmt(math.nan) == "not printed"


def test_markdown_table_has_a_header_a_rule_and_a_row_per_row():
    frame = pd.DataFrame({"method": ["ME-ResNet", "STSTNet"], "UF1": ["0.7500", "not printed"]})
    assert markdown_table(frame) == ("| method | UF1 |\n|---|---|\n| ME-ResNet | 0.7500 |\n| STSTNet | not printed |\n")


def test_banners_only_for_demo_data_and_partial_results():
    assert demo_banner(False) == "" and "Synthetic demo data" in demo_banner(True)
    assert coverage_banner(None) == "" and coverage_banner(SimpleNamespace(complete=True)) == ""
    partial = SimpleNamespace(complete=False, describe=lambda: "2 of 24 CASME II folds")
    assert coverage_banner(partial).startswith("> **Partial result: 2 of 24 CASME II folds.**")
