"""The walkthrough notebooks: each ``.ipynb`` is paired with its jupytext source, and each source executes.

Execution (``slow``): each ``notebooks/NN_name.py`` runs in a kernel of this interpreter (jupyter_client
starts a ``python`` kernelspec with ``sys.executable``; checked by a prepended cell), with
``ME_RESNET_CACHE`` in a tmp dir shared by the notebooks, so 02 reuses the demo data and feature cache that
01 made. Any cell error fails the test.
"""

import json
import sys

import nbformat
import pytest

from notebooks import run_notebooks as runner

NAMES = runner.notebook_names()


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("notebook_cache")


def _read_ipynb(name):
    path = runner.NOTEBOOK_DIR / f"{name}.ipynb"
    if not path.is_file():
        pytest.fail(f"{path} missing: run .venv/bin/python notebooks/run_notebooks.py --execute {name}")
    return nbformat.read(path, as_version=4)


def _text_outputs(notebook):
    parts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            parts.append(output.get("text", ""))
            parts.extend(v for k, v in output.get("data", {}).items() if k.startswith("text/") and isinstance(v, str))
    return "\n".join(parts)


def test_every_notebook_is_a_numbered_pair():
    sources = {path.stem for path in runner.NOTEBOOK_DIR.glob("*.py")} - {"run_notebooks", "__init__"}
    notebooks = {path.stem for path in runner.NOTEBOOK_DIR.glob("*.ipynb")}
    assert NAMES, "no notebook sources found"
    assert sources == notebooks == set(NAMES), "each NN_name.py needs its NN_name.ipynb and vice versa"


@pytest.mark.parametrize("name", NAMES)
def test_ipynb_matches_its_jupytext_source(name):
    committed = _read_ipynb(name)
    assert committed.metadata.get("jupytext", {}).get("formats") == runner.PAIRING, f"{name}.ipynb is not paired"
    assert runner.cell_sources(committed) == runner.cell_sources(runner.read_source(name)), (
        f"{name}.ipynb differs from {name}.py: run `jupytext --sync notebooks/{name}.py` "
        f"or notebooks/run_notebooks.py --execute {name}"
    )


def test_source_without_pairing_metadata_is_refused(tmp_path, monkeypatch):
    (tmp_path / "09_unpaired.py").write_text("# %%\nprint(1)\n")
    monkeypatch.setattr(runner, "NOTEBOOK_DIR", tmp_path)
    assert runner.notebook_names() == ["09_unpaired"]
    with pytest.raises(ValueError, match=r"09_unpaired\.py: jupytext formats must be 'ipynb,py:percent'"):
        runner.read_source("09_unpaired")
    with pytest.raises(FileNotFoundError, match="10_missing.py"):
        runner.read_source("10_missing")


@pytest.mark.parametrize("name", NAMES)
def test_committed_notebook_has_clean_outputs(name):
    committed = _read_ipynb(name)
    code_cells = [c for c in committed.cells if c.cell_type == "code"]
    assert any(c.outputs for c in code_cells), f"{name}: committed without outputs"
    assert not [o for c in code_cells for o in c.outputs if o.output_type == "error"], f"{name}: committed with errors"
    text = _text_outputs(committed)
    assert "/tmp/" not in text and str(runner.REPO_ROOT) not in text, f"{name}: machine paths left in outputs"


def test_clean_outputs_drops_logs_and_paths():
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("pass")])
    notebook.cells[0].outputs = [
        nbformat.v4.new_output("stream", name="stderr", text="\rdemo clips:  10%|#  | 1/10\r"),
        nbformat.v4.new_output("stream", name="stderr", text="I0000 00:00:17.5 12 port.cc:153] oneDNN\nreal warning\n"),
        nbformat.v4.new_output("stream", name="stdout", text="cache in /tmp/xyz/features\n"),
    ]
    runner.clean_outputs(notebook, {"/tmp/xyz": "$ME_RESNET_CACHE"})
    assert [(o.name, o.text) for o in notebook.cells[0].outputs] == [
        ("stderr", "real warning\n"),
        ("stdout", "cache in $ME_RESNET_CACHE/features\n"),
    ]


@pytest.mark.slow
@pytest.mark.xdist_group("notebooks")  # one worker, in order: 02 reuses the demo data and features 01 made
@pytest.mark.parametrize("name", NAMES)
def test_notebook_executes(name, shared_cache, monkeypatch):
    from nbclient.exceptions import CellExecutionError

    notebook = runner.read_source(name)
    probe = "import json, sys; print(json.dumps(sys.executable))"
    notebook.cells.insert(0, nbformat.v4.new_code_cell(probe))
    monkeypatch.setenv("ME_RESNET_CACHE", str(shared_cache))
    try:
        runner.execute(notebook, shared_cache)
    except CellExecutionError as error:
        pytest.fail(f"{name}.py: a cell failed:\n{str(error)[-4000:]}")
    assert json.loads(notebook.cells[0].outputs[0].text) == sys.executable
    code_cells = [c for c in notebook.cells if c.cell_type == "code"]
    assert not [o for c in code_cells for o in c.outputs if o.output_type == "error"]
    figures = sum(
        "image/jpeg" in o.get("data", {}) or "image/png" in o.get("data", {}) for c in code_cells for o in c.outputs
    )
    assert figures >= 1, f"{name}: no figure was drawn"
    if name == "03_results_vs_paper":
        text = _text_outputs(notebook)
        demo_results = runner.REPO_ROOT / "results" / "demo"
        for artifact in ("table5", "fig9_frames", "fig10_scale", "fig11_ablation"):
            missing = not (demo_results / artifact / "metrics.csv").is_file()
            assert (f"MISSING: results/demo/{artifact}/metrics.csv" in text) == missing, artifact
