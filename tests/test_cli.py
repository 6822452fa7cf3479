"""The reluscope command line: info and bench; a closed stdout and Ctrl-C end it quietly."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

import reluscope as rs
from reluscope.cli import main
from tests.utils import default_sigint


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


def test_info_into_a_closed_pipe_is_quiet():
    """`reluscope info | head -0`: the reader is gone before anything is written; no traceback,
    no error line, exit code 141 (128 + SIGPIPE, as a shell reports it)."""
    read, write = os.pipe()
    os.close(read)
    try:
        r = subprocess.run([sys.executable, "-m", "reluscope.cli", "info"], stdout=write,
                           stderr=subprocess.PIPE, text=True, timeout=600)
    finally:
        os.close(write)
    assert r.returncode == 141 and r.stderr == ""


def done_shards(folder) -> int:
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return 0
    return sum(e.get("status") == "done" for e in manifest["shards"].values())


def test_ctrl_c_in_a_sweep_says_how_to_resume(tmp_path):
    out = tmp_path / "s"
    # 20 shards of ~0.25 s each on an idle 2-core machine (300 shards of tiny nets could all
    # finish between two polls of the manifest, leaving nothing to interrupt)
    command = [sys.executable, "-m", "reluscope.cli", "sweep", "regions", "--items", "4000",
               "--shards", "20", "--widths", "16", "--depth", "3", "--out", str(out)]
    p = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         preexec_fn=default_sigint)
    while not done_shards(out):  # started: its first shard is written
        assert p.poll() is None, p.communicate()
        time.sleep(0.05)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=600)
    assert p.returncode == 130, err
    assert err.endswith("reluscope sweep: interrupted — rerun the same command with --resume to "
                        "continue (finished shards are kept)\n") and "Traceback" not in err
    assert 0 < done_shards(out) < 20 and not list(out.glob("*.tmp-*"))
    r = subprocess.run(command + ["--resume"], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0 and "20/20 shards done" in r.stdout, r.stderr[-2000:]


@pytest.mark.parametrize("argv, command", [(["reproduce", "tms"], "reproduce"),
                                           (["info"], "info")])
def test_ctrl_c_elsewhere_says_interrupted(tmp_path, monkeypatch, capsys, argv, command):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("reluscope.experiments.run", interrupted)
    monkeypatch.setattr("reluscope.info.show_config", interrupted)
    assert main(argv + (["--out", str(tmp_path)] if command == "reproduce" else [])) == 130
    assert capsys.readouterr().err.endswith(f"reluscope {command}: interrupted\n")


def test_reluscope_warnings_are_one_line(monkeypatch, capsys):
    import warnings

    def show_config():
        here = os.path.dirname(rs.__file__)
        warnings.warn_explicit("own", UserWarning, os.path.join(here, "sweep", "store.py"), 1)
        warnings.warn_explicit("foreign", UserWarning, "/elsewhere/x.py", 7)

    monkeypatch.setattr("reluscope.info.show_config", show_config)
    with pytest.warns(UserWarning, match="foreign"):  # passed on as it was
        assert main(["info"]) == 0
    err = capsys.readouterr().err
    assert "reluscope: warning: own\n" in err and "foreign" not in err
