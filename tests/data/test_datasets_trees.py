"""Checks that the dataset-tree builders of ``tests/support/trees.py`` write what they claim."""

from __future__ import annotations

import pandas as pd

from tests.support.trees import SAMM_HEADER, write_casme2_sheet, write_samm_sheet


def test_samm_sheet_has_header_in_row_14(tmp_path):

    path = write_samm_sheet(tmp_path / "s.xlsx", [("006", "006_1_2", 5562, 5588, 5632, "Anger")])
    table = pd.read_excel(path, sheet_name="MICRO_ONLY", skiprows=13)
    assert list(table.columns) == SAMM_HEADER
    assert table["Subject"].tolist() == [6]  # text '006' read as int, the quirk the loader must undo


def test_casme2_sheet_subject_text_read_as_int(tmp_path):

    path = write_casme2_sheet(tmp_path / "c.xlsx", [("01", "EP02_01f", 46, 59, 86, "happiness")])
    assert pd.read_excel(path)["Subject"].tolist() == [1]
