"""reluscope/_vml_warmup.py: every VML-backed torch function runs once, on one CPU element of each
float dtype, at import. Whether that removes oneMKL's first-call race can only be seen over many
processes (about 1 in 20 errs without it): ``bench/vml_first_call.py`` counts them."""
import subprocess
import sys

import torch

from reluscope import _vml_warmup


def test_warm_vml_calls_every_function_on_one_cpu_value_of_each_float_dtype(monkeypatch):
    seen = []

    def recording(fn):
        def call(x):
            seen.append((fn, x.dtype, tuple(x.shape), x.device.type))
            return fn(x)
        return call

    functions = _vml_warmup.VML_FUNCTIONS
    monkeypatch.setattr(_vml_warmup, "VML_FUNCTIONS", tuple(map(recording, functions)))
    with torch.device("meta"):  # a default device of the user's: the warm-up stays on the CPU
        _vml_warmup.warm_vml()
    want = {(fn, dtype, (1,), "cpu") for fn in functions
            for dtype in (torch.float32, torch.float64)}
    assert set(seen) == want and len(seen) == len(want)


def test_every_function_is_finite_at_the_warmup_value():
    # each entry is a unary torch function defined at 0.5 (acos, asin, erfinv: |x| < 1)
    for dtype in (torch.float32, torch.float64):
        x = torch.full((1,), 0.5, dtype=dtype)
        for fn in _vml_warmup.VML_FUNCTIONS:
            assert torch.isfinite(fn(x)).all(), fn


def test_import_runs_the_warmup_before_anything_else_of_reluscope():
    code = ("import torch, sys\n"
            "calls = []\n"
            "real = torch.exp\n"
            "torch.exp = lambda x: calls.append(x.numel()) or real(x)\n"
            "import reluscope\n"
            "print(calls[:2])\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split("\n")[0] == "[1, 1]"
