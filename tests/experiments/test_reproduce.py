"""`reluscope reproduce`: every experiment's --quick run passes its own rows and writes its
outputs; bad arguments give a one-line error."""
import json
import subprocess
import sys

import pytest

from reluscope.experiments import EXPERIMENTS


def reproduce(*args):
    return subprocess.run([sys.executable, "-m", "reluscope.cli", "reproduce", *args],
                          capture_output=True, text=True, timeout=900)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(EXPERIMENTS))
def test_quick_run_passes_and_writes_outputs(name, tmp_path):
    r = reproduce(name, "--quick", "--out", str(tmp_path))
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    out = tmp_path / name
    record = json.loads((out / "results.json").read_text())
    assert record["passed"] and record["rows"]
    assert any(row["status"] == "PASS" for row in record["rows"])
    assert all(row["status"] != "FAIL" for row in record["rows"])
    assert "| check | ours | reference |" in (out / "report.md").read_text()
    assert record["figures"] and all((out / f).stat().st_size > 1000 for f in record["figures"])
    assert "PASS" in r.stdout


@pytest.mark.parametrize("args, message", [
    (["nonsense"], "invalid choice"),
    (["tms", "--device", "tpu"], "--device must be cpu or cuda"),
    (["tms", "--out", "/proc/reluscope-cannot-write"], "cannot write to --out"),
])
def test_bad_arguments_give_one_line(args, message):
    r = reproduce(*args)
    assert r.returncode == 2
    assert message in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr


def test_cuda_without_gpu_is_a_one_line_error():
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is visible")
    r = reproduce("tms", "--device", "cuda")
    assert r.returncode == 2 and "no CUDA GPU" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
