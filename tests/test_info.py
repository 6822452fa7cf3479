"""reluscope.info: version, distribution, build variant and the kernels-in-use line."""
import re
from importlib import metadata
from pathlib import Path

import pytest
from packaging.version import Version

import reluscope as rs
from reluscope import info
from reluscope._ext import _core


def test_version_is_pep440_and_the_installed_distributions():
    Version(rs.__version__)  # raises InvalidVersion otherwise
    dist = info.distribution()
    built = (Path(rs.__file__).parent / "_build_version.py").exists()
    if dist is None:  # a source checkout on the path: no version file unless a build wrote one
        assert rs.__version__ == "0+source" or built
    else:
        assert dist in ("reluscope", "reluscope-cu13")
        assert rs.__version__ == metadata.version(dist)


def test_variant_names_the_compiled_kernels():
    build = _core.build_info()
    if build["cuda"]:
        assert re.fullmatch(r"cu\d+", build["variant"])
    else:
        assert build["variant"] == "cpu"
    assert info.config()["variant"] == build["variant"]


@pytest.mark.parametrize("cuda,gpus,expected", [
    (False, [], "CPU (this build has no CUDA kernels)"),
    (False, ["H200"], "CPU (this build has no CUDA kernels)"),
    (True, ["H200"], "CPU and CUDA (1 GPU)"),
    (True, ["H200", "H200"], "CPU and CUDA (2 GPUs)"),
    (True, [], "CPU only: the cu13 build's CUDA kernels are idle because torch sees no CUDA GPU "
               "(torch.cuda.is_available() is False)"),
])
def test_kernels_in_use_line(cuda, gpus, expected):
    build = {"cuda": cuda, "variant": "cu13" if cuda else "cpu"}
    assert info.kernels_in_use(build, gpus) == expected


def test_config_reports_this_machine():
    cfg = info.config()
    assert cfg["kernels"] == info.kernels_in_use(_core.build_info(), cfg["gpus"])
    assert cfg["distribution"] == (info.distribution() or "none (a source checkout on the path)")
