"""The walkthrough notebooks: committed sources match their builder, and each one executes cleanly.

Execution (``slow``): each committed ``notebooks/0*.ipynb`` runs in a kernel of
this interpreter (jupyter_client starts a ``python`` kernelspec with
``sys.executable``; checked by a prepended cell), with ``ME_RESNET_CACHE`` in a
tmp dir shared by the three notebooks, so 02 reuses the demo data and feature
cache that 01 made. Any cell error fails the test.
"""

import json
import sys
from pathlib import Path

import nbformat
import pytest

from notebooks import build_notebooks as BUILDER

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
NAMES = sorted(BUILDER.NOTEBOOKS)


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("notebook_cache")


def _read(name):
    path = NOTEBOOK_DIR / f"{name}.ipynb"
    if not path.is_file():
        pytest.fail(f"{path} missing: run .venv/bin/python notebooks/build_notebooks.py --execute")
    return nbformat.read(path, as_version=4)


def _text_outputs(notebook):
    parts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            parts.append(output.get("text", ""))
            parts.extend(v for k, v in output.get("data", {}).items() if k.startswith("text/") and isinstance(v, str))
    return "\n".join(parts)


def test_three_numbered_notebooks():
    assert NAMES == ["01_data_and_preprocessing", "02_me_resnet_model", "03_results_vs_paper"]


@pytest.mark.parametrize("name", NAMES)
def test_committed_notebook_matches_builder(name):
    committed = _read(name)
    built = BUILDER.build(BUILDER.NOTEBOOKS[name])
    assert [(c.cell_type, c.source) for c in committed.cells] == [(c.cell_type, c.source) for c in built.cells], (
        f"{name}.ipynb differs from notebooks/build_notebooks.py: rerun it with --execute"
    )


@pytest.mark.parametrize("name", NAMES)
def test_committed_notebook_has_clean_outputs(name):
    committed = _read(name)
    code_cells = [c for c in committed.cells if c.cell_type == "code"]
    assert any(c.outputs for c in code_cells), f"{name}: committed without outputs"
    assert not [o for c in code_cells for o in c.outputs if o.output_type == "error"], f"{name}: committed with errors"
    text = _text_outputs(committed)
    assert "/tmp/" not in text and str(NOTEBOOK_DIR.parent) not in text, f"{name}: machine paths left in outputs"


def test_clean_outputs_drops_logs_and_paths():
    notebook = BUILDER.build([("code", "pass")])
    notebook.cells[0].outputs = [
        nbformat.v4.new_output("stream", name="stderr", text="\rdemo clips:  10%|#  | 1/10\r"),
        nbformat.v4.new_output("stream", name="stderr", text="I0000 00:00:17.5 12 port.cc:153] oneDNN\nreal warning\n"),
        nbformat.v4.new_output("stream", name="stdout", text="cache in /tmp/xyz/features\n"),
    ]
    BUILDER.clean_outputs(notebook, {"/tmp/xyz": "$ME_RESNET_CACHE"})
    assert [(o.name, o.text) for o in notebook.cells[0].outputs] == [
        ("stderr", "real warning\n"),
        ("stdout", "cache in $ME_RESNET_CACHE/features\n"),
    ]


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_notebook_executes(name, shared_cache, monkeypatch):
    from nbclient.exceptions import CellExecutionError

    notebook = _read(name)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = []
    probe = "import json, sys; print(json.dumps(sys.executable))"
    notebook.cells.insert(0, nbformat.v4.new_code_cell(probe))
    monkeypatch.setenv("ME_RESNET_CACHE", str(shared_cache))
    try:
        BUILDER.execute(notebook, shared_cache)
    except CellExecutionError as error:
        pytest.fail(f"{name}.ipynb: a cell failed:\n{str(error)[-4000:]}")
    assert json.loads(notebook.cells[0].outputs[0].text) == sys.executable
    code_cells = [c for c in notebook.cells if c.cell_type == "code"]
    assert not [o for c in code_cells for o in c.outputs if o.output_type == "error"]
    figures = sum(
        "image/jpeg" in o.get("data", {}) or "image/png" in o.get("data", {}) for c in code_cells for o in c.outputs
    )
    assert figures >= 1, f"{name}: no figure was drawn"
    if name == "03_results_vs_paper":
        text = _text_outputs(notebook)
        demo_results = BUILDER.REPO_ROOT / "results" / "demo"
        for artifact in ("table5", "fig9_frames", "fig10_scale", "fig11_ablation"):
            missing = not (demo_results / artifact / "metrics.csv").is_file()
            assert (f"MISSING: results/demo/{artifact}/metrics.csv" in text) == missing, artifact
