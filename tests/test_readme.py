"""The README's result blocks are exactly what reproduce/update_readme.py makes of results/,
and its first two commands are the Makefile targets CI runs."""

import re
from pathlib import Path

from reproduce import update_readme as updater

REPO = Path(__file__).resolve().parent.parent


def test_readme_result_blocks_are_generated_from_results():
    text = (REPO / "README.md").read_text()
    assert updater.regenerate(text) == text, "README.md is stale: run `python reproduce/update_readme.py`"


def test_readme_opens_with_the_two_commands_and_ci_runs_the_test_one():
    text = (REPO / "README.md").read_text()
    first_block = re.search(r"```bash\n(.*?)```", text, re.S).group(1).splitlines()
    assert [line.split("#")[0].strip() for line in first_block] == ["make demo", "make test"]
    assert "make test" in (REPO / ".ci" / "run").read_text()
