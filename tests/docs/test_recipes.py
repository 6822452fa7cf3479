"""The design page's "how to add" recipes list the files a change must touch: every file named
exists, and every file where an existing activation (softplus) or loss (bce_with_logits) is
spelled out — its enum entry in C++, its name in Python — is in the recipe's list."""
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def recipe(title: str) -> set:
    text = (ROOT / "docs" / "design.md").read_text()
    block = text.split(f"**{title}**", 1)[1].split("\n**", 1)[0]
    return set(re.findall(r"`((?:csrc|python)/[^`]+\.(?:h|cpp|cu|py))`", block))


def spelled(enum: str, name: str) -> set:
    found = {str(p.relative_to(ROOT)) for p in (ROOT / "csrc").rglob("*")
             if p.suffix in (".h", ".cpp", ".cu") and enum in p.read_text()}
    found |= {str(p.relative_to(ROOT)) for p in (ROOT / "python").rglob("*.py")
              if f'"{name}"' in p.read_text()}
    return found


@pytest.mark.parametrize("title, enum, name", [("An activation.", "ACT_SOFTPLUS", "softplus"),
                                               ("A loss.", "LOSS_BCE_WITH_LOGITS",
                                                "bce_with_logits")])
def test_recipe_lists_every_file_that_spells_out_an_existing_entry(title, enum, name):
    files = recipe(title)
    assert files and all((ROOT / f).exists() for f in files), files
    missing = spelled(enum, name) - files
    assert not missing, f"{title} misses {sorted(missing)}"
