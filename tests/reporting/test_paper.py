"""The paper's numbers as data (reporting/paper.py): printed, not printed and inferred kept apart."""

import pytest

from me_resnet.reporting import paper


def test_inferred_values_are_marked_and_explained():
    for figure in (paper.FIG9, paper.FIG10):
        for key, name in figure["inferred"].items():
            assert key in figure and paper.is_inferred(figure, key)
            assert len(paper.INFERRED[name].reason) > 40
        assert f"`{next(iter(figure['inferred']))}`" in paper.inferred_notes(figure)
    assert not paper.is_inferred(paper.FIG9, "best_num_frames") and not paper.is_inferred(
        paper.FIG10, "best_scale_factor"
    )
    assert paper.FIG9["frame_counts"] == paper.INFERRED["fig9_frame_counts"].value


def test_printed_fig9_gains_keep_their_printed_order():
    printed = paper.FIG9_PRINTED["gains_11_over_3_points_in_printed_order"]
    assert printed == (2.78, 2.54, 2.63)
    order = paper.INFERRED["fig9_gain_dataset_order"].value
    assert tuple(paper.FIG9["gain_11_over_3_points"][dataset] for dataset in order) == printed


def test_baselines_published_numbers_live_beside_the_papers_with_sources():
    assert paper.PUBLISHED_RESULTS["ststnet"]["casme2"] == paper.paper_table5_row("STSTNet")["casme2"]
    assert paper.PUBLISHED_RESULTS["off_apexnet"]["samm"] == {"uf1": 0.5409, "uar": 0.5392}
    assert all(entry["source"] for entry in paper.PUBLISHED_RESULTS.values())
    with pytest.raises(ValueError, match="'ME-ResNet v2'"):
        paper.paper_table5_row("ME-ResNet v2")


def test_listed_table5_inconsistencies_hold_in_the_data():
    table = paper.TABLE5
    assert table["RCN-W"]["samm"][1] > table["ME-ResNet"]["samm"][1]  # SAMM UAR
    assert table["OFF-ApexNet"]["casme2"][0] > table["ME-ResNet"]["casme2"][0]  # CASME II UF1
    assert table["STSTNet"]["casme2"][1] > table["ME-ResNet"]["casme2"][1]  # CASME II UAR
    # §3.3's +2.13 point SAMM UAR gain is measured against STSTNet, not the best row
    assert round(100 * (table["ME-ResNet"]["samm"][1] - table["STSTNet"]["samm"][1]), 2) == 2.13
    assert any("RCN-W" in text for text in paper.INCONSISTENCIES)
    assert sum(paper.TABLE1["casme2"][name] for name in ("positive", "negative", "surprise")) == 146
