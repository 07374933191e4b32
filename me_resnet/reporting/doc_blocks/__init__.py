"""The generated blocks of README.md and docs/performance.md, each made from the files in results/.

A block is the text between ``<!-- BEGIN name -->`` and ``<!-- END name -->`` in its document;
``DOCUMENTS`` says which maker writes which block of which document. Every number comes from
results/, none is typed by hand (``reproduce/update_readme.py`` rewrites them, ``tests/test_readme.py``
checks they are current).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Callable

from me_resnet.reporting.doc_blocks import compute, demo, small_models
from me_resnet.utils.paths import REPO_ROOT

DOCUMENTS: dict[str, dict[str, Callable[[], str]]] = {
    "README.md": {"demo-table5": demo.demo_table5, "demo-time": demo.demo_time, "realism": demo.realism},
    "docs/performance.md": {
        "make-demo": demo.make_demo,
        "demo-quality": demo.demo_quality,
        "compute": compute.compute,
        "small-models": small_models.small_models,
    },
}


def replace_block(text: str, name: str, body: str) -> str:
    """``text`` with the block ``name`` replaced by ``body`` (``ValueError`` if it has no such block)."""
    pattern = re.compile(rf"(<!-- BEGIN {name} -->\n).*?(<!-- END {name} -->)", re.S)
    if not pattern.search(text):
        raise ValueError(f"no <!-- BEGIN {name} --> ... <!-- END {name} --> block")
    return pattern.sub(lambda m: m.group(1) + body.rstrip() + "\n" + m.group(2), text)


def regenerate(text: str, document: str = "README.md") -> str:
    """``text`` (the document named ``document``) with every generated block made anew from results/."""
    if document not in DOCUMENTS:
        raise ValueError(f"no generated blocks for document {document!r}; documents: {sorted(DOCUMENTS)}")
    for name, make in DOCUMENTS[document].items():
        text = replace_block(text, name, make())
    return text


def regenerate_all(root: Path = REPO_ROOT) -> list[Path]:
    """Rewrite every document's blocks in place; the paths rewritten."""
    written = []
    for document in DOCUMENTS:
        path = root / document
        text = path.read_text()
        new = regenerate(text, document)
        if new != text:
            path.write_text(new)
            written.append(path)
    return written
