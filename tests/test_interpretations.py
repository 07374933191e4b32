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
