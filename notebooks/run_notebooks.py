"""Write the walkthrough notebooks' ``.ipynb`` from their jupytext sources; optionally execute them in place.

Each notebook's source is ``notebooks/NN_name.py`` (jupytext percent format), paired with
``NN_name.ipynb``, which is committed WITH the outputs of one execution on the synthetic demo data
(STYLE.md "Notebooks"; ``tests/test_notebooks.py`` checks the pairing and executes the sources).

    .venv/bin/python notebooks/run_notebooks.py             # rewrite every .ipynb from its .py (no outputs)
    .venv/bin/python notebooks/run_notebooks.py --execute   # rewrite, execute in place, keep outputs

``--execute`` runs the notebooks in order in kernels of this interpreter, sharing one fresh temporary
``ME_RESNET_CACHE`` (as the test does), then removes progress-bar streams and TensorFlow start-up logs and
replaces the temporary cache path and the repository path in the outputs by ``$ME_RESNET_CACHE`` and
``<repo>``. Editing a notebook in Jupyter instead works too: the pairing metadata makes jupytext keep the
``.py`` in step (``jupytext --sync notebooks/NN_name.ipynb``).
"""

from __future__ import annotations

import argparse
import os
import re
import tempfile
import time
from pathlib import Path

import jupytext
import nbformat
from nbclient import NotebookClient

NOTEBOOK_DIR = Path(__file__).resolve().parent
REPO_ROOT = NOTEBOOK_DIR.parent
PAIRING = "ipynb,py:percent"
KERNEL = "python3"  # jupyter_client runs a "python" kernelspec with sys.executable, i.e. this venv
TIMEOUT = 600  # seconds per cell
# tqdm.auto warns at import, before a notebook can filter it, that ipywidgets (a progress-bar widget) is absent
QUIET_WARNINGS = "ignore:IProgress not found"


def notebook_names() -> list[str]:
    """The numbered notebook sources, ``NN_name``, in execution order."""
    return sorted(path.stem for path in NOTEBOOK_DIR.glob("[0-9][0-9]_*.py"))


def read_source(name: str) -> nbformat.NotebookNode:
    """The notebook ``name`` as written in its percent-format source, without outputs."""
    path = NOTEBOOK_DIR / f"{name}.py"
    if not path.is_file():
        raise FileNotFoundError(f"no notebook source {path}; sources: {notebook_names()}")
    notebook = jupytext.read(path, fmt="py:percent")
    formats = notebook.metadata.get("jupytext", {}).get("formats")
    if formats != PAIRING:
        raise ValueError(f"{path}: jupytext formats must be {PAIRING!r} (paired with the .ipynb), got {formats!r}")
    return notebook


def cell_sources(notebook: nbformat.NotebookNode) -> list[tuple[str, str]]:
    """``(cell type, source)`` of every cell: what the pairing keeps equal between ``.py`` and ``.ipynb``."""
    return [(cell.cell_type, cell.source) for cell in notebook.cells]


# TensorFlow's C++ start-up lines ("I0000 00:00:... cudart_stub.cc ...") reach the kernel's captured stderr
TF_LOG_LINE = re.compile(
    r"^([IWEF]\d{4} [\d:.]+ +\d+ [\w.]+:\d+\] |WARNING: All log messages before absl::InitializeLog)"
)


def _keep_stream(output) -> bool:
    """Drop stderr streams that are only tqdm progress bars or TensorFlow C++ start-up logs."""
    if output.get("output_type") != "stream" or output.get("name") != "stderr":
        return True
    text = output.get("text", "")
    lines = [line for line in text.splitlines() if line.strip() and not TF_LOG_LINE.match(line)]
    output["text"] = "".join(line + "\n" for line in lines)
    return bool(lines) and "\r" not in text


def clean_outputs(notebook: nbformat.NotebookNode, replacements: dict[str, str]) -> nbformat.NotebookNode:
    """Drop progress bars and TensorFlow start-up logs; replace machine-specific paths in text outputs."""

    def scrub(text):
        for old, new in replacements.items():
            text = text.replace(old, new)
        return text

    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        cell.outputs = [output for output in cell.outputs if _keep_stream(output)]
        for output in cell.outputs:
            if "text" in output:
                output["text"] = scrub(output["text"])
            for mime, value in output.get("data", {}).items():
                if mime.startswith("text/") and isinstance(value, str):
                    output["data"][mime] = scrub(value)
    return notebook


def execute(
    notebook: nbformat.NotebookNode, cache_dir: str | os.PathLike, timeout: int = TIMEOUT
) -> nbformat.NotebookNode:
    """Run ``notebook`` in place (cwd ``notebooks/``) with ``ME_RESNET_CACHE=cache_dir``; ``timeout`` s per cell."""
    warnings = ",".join(filter(None, [os.environ.get("PYTHONWARNINGS"), QUIET_WARNINGS]))
    env = dict(os.environ, ME_RESNET_CACHE=str(cache_dir), TF_CPP_MIN_LOG_LEVEL="2", PYTHONWARNINGS=warnings)
    client = NotebookClient(
        notebook,
        kernel_name=KERNEL,
        timeout=timeout,
        record_timing=False,
        resources={"metadata": {"path": str(NOTEBOOK_DIR)}},
    )
    client.execute(env=env)
    return notebook


def write_ipynb(notebook: nbformat.NotebookNode, name: str) -> Path:
    """Write ``notebook`` as the ``.ipynb`` half of the pair ``name``."""
    path = NOTEBOOK_DIR / f"{name}.ipynb"
    jupytext.write(notebook, path, fmt="ipynb")
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--execute", action="store_true", help="execute each notebook and keep the outputs")
    parser.add_argument("--timeout", type=int, default=TIMEOUT, help="seconds per cell (default %(default)s)")
    parser.add_argument("names", nargs="*", help=f"notebooks to write (default all: {notebook_names()})")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.names) - set(notebook_names()))
    if unknown:
        parser.error(f"unknown notebook(s) {unknown}; choose from {notebook_names()}")
    with tempfile.TemporaryDirectory(prefix="me_resnet_notebooks_") as cache_dir:
        for name in args.names or notebook_names():
            notebook = read_source(name)
            if args.execute:
                start = time.perf_counter()
                execute(notebook, cache_dir, args.timeout)
                replacements = {
                    str(Path(cache_dir).resolve()): "$ME_RESNET_CACHE",
                    cache_dir: "$ME_RESNET_CACHE",
                    str(REPO_ROOT): "<repo>",
                }
                clean_outputs(notebook, replacements)
                print(f"{name}: executed in {time.perf_counter() - start:.0f} s")
            print(f"wrote {write_ipynb(notebook, name)}")


if __name__ == "__main__":
    main()
