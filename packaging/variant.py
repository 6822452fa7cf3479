"""Make a copy of the source tree build one variant: its distribution name and whether CUDA is
required.

    python packaging/variant.py cpu|cu13 [path/to/pyproject.toml]

cpu  -> distribution ``reluscope``, RELUSCOPE_CUDA default OFF (CPU kernels only)
cu13 -> distribution ``reluscope-cu13``, RELUSCOPE_CUDA default ON (fails without nvcc)

Both install the import package ``reluscope``. Run it on a copy (packaging/build_wheel.sh and
cibuildwheel's before-all do), never on the checkout you commit from.
"""
import re
import sys
from pathlib import Path

VARIANTS = {"cpu": ("reluscope", "OFF"), "cu13": ("reluscope-cu13", "ON")}


def apply(variant: str, pyproject: Path) -> None:
    if variant not in VARIANTS:
        raise SystemExit(f"variant must be one of {sorted(VARIANTS)}, got {variant!r}")
    name, cuda = VARIANTS[variant]
    text = pyproject.read_text()
    text, n_name = re.subn(r'^name = "reluscope[-\w]*"$', f'name = "{name}"', text, flags=re.M)
    text, n_cuda = re.subn(r'^(RELUSCOPE_CUDA = \{ env = "RELUSCOPE_CUDA", default = )"\w+"',
                           rf'\g<1>"{cuda}"', text, flags=re.M)
    if (n_name, n_cuda) != (1, 1):
        raise SystemExit(f"{pyproject}: expected one project name and one RELUSCOPE_CUDA default")
    pyproject.write_text(text)
    print(f"variant {variant}: distribution {name}, RELUSCOPE_CUDA={cuda}")


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        raise SystemExit(__doc__)
    apply(sys.argv[1], Path(sys.argv[2] if len(sys.argv) == 3 else "pyproject.toml"))
