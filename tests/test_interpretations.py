"""Every Config field is documented: named in docs/interpretations.md or commented in me_resnet/config.py."""

import dataclasses
import re
from pathlib import Path

from me_resnet.config import Config

ROOT = Path(__file__).resolve().parent.parent


def _commented_in_config() -> set[str]:
    """Fields whose definition line in config.py carries a comment (or the line above it does)."""
    lines = (ROOT / "me_resnet" / "config.py").read_text().splitlines()
    commented = set()
    for index, line in enumerate(lines):
        match = re.match(r"\s+(\w+): [^=]+=", line)
        if match and ("#" in line or (index and lines[index - 1].strip().startswith("#"))):
            commented.add(match.group(1))
    return commented


def test_every_config_field_is_documented():
    page = (ROOT / "docs" / "interpretations.md").read_text()
    named = set(re.findall(r"`-*([a-z_0-9]+)", page))
    missing = [f.name for f in dataclasses.fields(Config) if f.name not in named | _commented_in_config()]
    assert not missing, f"document these Config fields in docs/interpretations.md or config.py: {missing}"


def test_every_choice_of_a_switch_is_on_the_page():
    page = (ROOT / "docs" / "interpretations.md").read_text()
    for field in dataclasses.fields(Config):
        for choice in field.metadata.get("choices", ()):
            if isinstance(choice, str):
                assert choice in page, f"{field.name}={choice!r} is not described in docs/interpretations.md"


SOURCES_BEGIN, SOURCES_END = "<!-- config-sources -->", "<!-- /config-sources -->"


def source_table() -> str:
    """The markdown table of every Config field's default and ``source`` that docs/interpretations.md carries."""
    rows = ["| field | default | source |", "|---|---|---|"]
    for field in dataclasses.fields(Config):
        rows.append(f"| `{field.name}` | `{field.default!r}` | {field.metadata['source']} |")
    return "\n".join(rows)


def test_every_config_field_says_whether_the_paper_or_the_kit_chose_it():
    for field in dataclasses.fields(Config):
        source = field.metadata.get("source", "")
        assert source == "kit" or re.match(r"paper (§\d|Table \d|Fig\. \d|eq\. \(\d)", source), (field.name, source)


def test_the_page_lists_every_source():
    page = (ROOT / "docs" / "interpretations.md").read_text()
    listed = page.split(SOURCES_BEGIN, 1)[-1].split(SOURCES_END, 1)[0].strip()
    assert listed == source_table(), (
        f"replace the table between {SOURCES_BEGIN} and {SOURCES_END} by:\n{source_table()}"
    )


def test_the_page_numbers_the_same_inconsistencies_as_the_data():
    from me_resnet.reporting.paper import INCONSISTENCIES

    page = (ROOT / "docs" / "interpretations.md").read_text()
    section = page.split("## The paper's internal inconsistencies", 1)[1].split("\n## ", 1)[0]
    numbers = [int(n) for n in re.findall(r"^(\d+)\. ", section, flags=re.MULTILINE)]
    assert numbers == list(range(1, len(INCONSISTENCIES) + 1))
