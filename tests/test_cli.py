"""The reluscope command line: info and bench."""
import json
import subprocess
import sys

import pytest

import reluscope as rs


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "reluscope.cli", *args], capture_output=True,
                          text=True, timeout=600)


def test_info_reports_backends():
    r = run_cli("info")
    assert r.returncode == 0, r.stderr
    cfg = rs.config()
    assert f"torch                  {cfg['torch']}" in r.stdout
    assert "cuda_kernels_compiled" in r.stdout and "cpu_backend" in r.stdout
    assert f"variant                {cfg['variant']}" in r.stdout
    assert f"kernels                {cfg['kernels']}" in r.stdout
    assert cfg["cpu_threads"] >= 1


@pytest.mark.slow
def test_bench_forward_quick_writes_json(tmp_path):
    path = tmp_path / "b.json"
    r = run_cli("bench", "forward", "--quick", "--json", str(path))
    assert r.returncode == 0, r.stderr
    assert "per-call overhead" in r.stdout
    data = json.loads(path.read_text())
    cases = {c["name"]: c for c in data["results"]}
    assert all(c["reference_s"] > 0 and c["ours_s"] > 0 and c["ratio"] > 0 for c in cases.values())
    assert "python_layer_us" in cases["per-call overhead B=1 N=1"]["extra"]


def test_bad_subcommand_is_an_error():
    assert run_cli("frobnicate").returncode != 0
