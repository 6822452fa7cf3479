"""packaging/variant.py: turning a copy of the source tree into the cpu or cu13 distribution."""
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
VARIANT = ROOT / "packaging" / "variant.py"


def run_variant(*args):
    return subprocess.run([sys.executable, str(VARIANT), *args], capture_output=True, text=True)


def fields(pyproject: Path):
    text = pyproject.read_text()
    name = re.search(r'^name = "([^"]+)"$', text, flags=re.M).group(1)
    cuda = re.search(r'^RELUSCOPE_CUDA = \{ env = "RELUSCOPE_CUDA", default = "(\w+)"', text,
                     flags=re.M).group(1)
    return name, cuda


def test_checkout_builds_whatever_the_machine_has():
    assert fields(ROOT / "pyproject.toml") == ("reluscope", "AUTO")


@pytest.mark.parametrize("variant,expected", [("cpu", ("reluscope", "OFF")),
                                              ("cu13", ("reluscope-cu13", "ON"))])
def test_variant_sets_name_and_cuda(tmp_path, variant, expected):
    copy = tmp_path / "pyproject.toml"
    copy.write_text((ROOT / "pyproject.toml").read_text())
    r = run_variant(variant, str(copy))
    assert r.returncode == 0, r.stderr
    assert fields(copy) == expected
    # only those lines change (the name line stays for cpu)
    before = (ROOT / "pyproject.toml").read_text().splitlines()
    after = copy.read_text().splitlines()
    changed = sum(a != b for a, b in zip(before, after))
    assert len(before) == len(after) and changed == 1 + (expected[0] != "reluscope")


def test_variant_can_be_changed_again(tmp_path):
    copy = tmp_path / "pyproject.toml"
    copy.write_text((ROOT / "pyproject.toml").read_text())
    assert run_variant("cu13", str(copy)).returncode == 0
    assert run_variant("cpu", str(copy)).returncode == 0
    assert fields(copy) == ("reluscope", "OFF")


def test_unknown_variant_and_unexpected_file_are_errors(tmp_path):
    copy = tmp_path / "pyproject.toml"
    copy.write_text((ROOT / "pyproject.toml").read_text())
    r = run_variant("cu12", str(copy))
    assert r.returncode != 0 and "variant must be one of" in r.stderr
    other = tmp_path / "other.toml"
    other.write_text('[project]\nname = "something"\n')
    r = run_variant("cpu", str(other))
    assert r.returncode != 0 and "expected one project name" in r.stderr
