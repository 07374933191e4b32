"""The generated blocks of README.md and docs/performance.md are exactly what reproduce/update_readme.py
makes of results/, and the README's first two commands are the ones CI runs."""

import re
from pathlib import Path

import pytest

from me_resnet.reporting import doc_blocks

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("document", sorted(doc_blocks.DOCUMENTS))
def test_generated_blocks_are_current(document):
    text = (REPO / document).read_text()
    assert doc_blocks.regenerate(text, document) == text, (
        f"{document} is stale: run `python reproduce/update_readme.py`"
    )


def test_a_document_without_a_block_is_an_error():
    with pytest.raises(ValueError, match="demo-table5"):
        doc_blocks.regenerate("# no blocks here\n", "README.md")


def readme_commands(text: str) -> list[str]:
    """The commands of README's first ```bash block, comments dropped."""
    block = re.search(r"```bash\n(.*?)```", text, re.S).group(1)
    return [line.split("#")[0].strip() for line in block.splitlines() if line.split("#")[0].strip()]


def ci_commands(text: str) -> list[str]:
    """The README_COMMANDS array of .ci/run."""
    array = re.search(r"^README_COMMANDS=\((.*?)\)$", text, re.M).group(1)
    return re.findall(r'"([^"]+)"', array)


def test_readme_opens_with_the_two_commands_and_ci_runs_both():
    readme = readme_commands((REPO / "README.md").read_text())
    ci_text = (REPO / ".ci" / "run").read_text()
    assert readme == ["make demo", "make test"]
    # CI runs the tests first: a demo run may rewrite results/, from which README blocks are checked
    assert sorted(ci_commands(ci_text)) == sorted(readme), "README's first block and .ci/run's README_COMMANDS differ"
    assert 'for command in "${README_COMMANDS[@]}"' in ci_text


def test_the_ci_check_follows_a_changed_readme_block():
    changed = "# kit\n\n```bash\nmake demo   # main job\nmake lint\nmake test\n```\n"
    assert readme_commands(changed) == ["make demo", "make lint", "make test"]
    assert sorted(ci_commands('README_COMMANDS=("make test" "make demo")')) != sorted(readme_commands(changed))
