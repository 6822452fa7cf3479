"""``reluscope sweep``: a run, its resume and summary from the command line; one-line errors."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from reluscope.cli import main
from reluscope.experiments.teacher_student import KINDS
from reluscope.sweep import ShardPlan
from reluscope.sweep.tasks import regions, teacher_student


def sweep(*args, env=None):
    return subprocess.run([sys.executable, "-m", "reluscope.cli", "sweep", *args],
                          capture_output=True, text=True, timeout=600,
                          env=None if env is None else {**os.environ, **env})


def test_run_resume_and_summarize(tmp_path):
    out = str(tmp_path / "r")
    r = sweep("regions", "--items", "12", "--shards", "3", "--widths", "4,6", "--depth", "2",
              "--out", out)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "3/3 shards done" in r.stdout
    manifest = json.loads((tmp_path / "r" / "manifest.json").read_text())
    assert manifest["params"] == {"widths": [4, 6], "depth": 2} and len(manifest["shards"]) == 3
    r = sweep("regions", "--items", "12", "--shards", "3", "--widths", "4,6", "--depth", "2",
              "--out", out, "--resume")
    assert r.returncode == 0 and "3/3 shards done" in r.stdout
    r = sweep("summarize", out)
    assert r.returncode == 0 and "width 4: 6 items" in r.stdout and "regions_2d: mean" in r.stdout
    assert (tmp_path / "r" / "summary.png").stat().st_size > 1000
    # without matplotlib: the table all the same, and why there is no figure
    (tmp_path / "r" / "summary.png").unlink()
    hide = ("import sys; sys.modules['matplotlib'] = None; from reluscope.cli import main; "
            f"sys.exit(main(['sweep', 'summarize', {out!r}]))")
    r = subprocess.run([sys.executable, "-c", hide], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0 and "width 4: 6 items" in r.stdout, r.stderr[-2000:]
    assert "no figure: the summary figure needs matplotlib: pip install 'reluscope[plot]'" \
        in r.stderr and not (tmp_path / "r" / "summary.png").exists()


def test_errors_are_one_line(tmp_path):
    for args, message in ((["regions", "--items", "4"], "--out is required"),
                          (["summarize"], "summarize needs the sweep's folder"),
                          (["regions", "--out", str(tmp_path), "--device", "tpu"], "--device"),
                          (["nonsense"], "invalid choice")):
        r = sweep(*args)
        assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr
    # --device cuda where torch sees no GPU (hidden from it here, whatever the machine has)
    r = sweep("regions", "--items", "4", "--device", "cuda", "--out", str(tmp_path / "c"),
              env={"CUDA_VISIBLE_DEVICES": ""})
    assert r.returncode == 2 and "torch sees 0 CUDA GPU(s)" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr and not (tmp_path / "c").exists()


@pytest.mark.parametrize("option, value, message", [
    ("--items", "0", "argument --items/--students: must be an integer >= 1, got '0'"),
    ("--students", "x", "argument --items/--students: must be an integer >= 1, got 'x'"),
    ("--shards", "0", "argument --shards: must be an integer >= 1, got '0'"),
    ("--widths", "4,,5", "argument --widths: must be comma-separated integers >= 1, got '4,,5'"),
    ("--widths", "4,-3", "argument --widths: must be comma-separated integers >= 1"),
    ("--depth", "0", "argument --depth: must be an integer >= 1, got '0'"),
    ("--steps", "-1", "argument --steps: must be an integer >= 0, got '-1'"),
    ("--lm-steps", "1.5", "argument --lm-steps: must be an integer >= 0, got '1.5'"),
    ("--seed", "-1", "argument --seed: must be an integer >= 0, got '-1'"),
])
def test_bad_numbers_are_one_line(tmp_path, capsys, option, value, message):
    with pytest.raises(SystemExit) as exit_:
        main(["sweep", "regions", option, value, "--out", str(tmp_path / "s")])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and message in err and len(err.splitlines()) == 1
    assert not (tmp_path / "s").exists()


def test_tasks_give_one_row_per_network():
    shard = ShardPlan(6, 6, seed=0).shard(0)
    out = teacher_student(shard, "cpu", widths=(4, 5), steps=20, lm_steps=2)
    assert out["width"].tolist() == [4, 5, 4, 5, 4, 5]
    assert set(out["class"].tolist()) <= set(KINDS) and np.isfinite(out["loss"]).all()
    out = regions(shard, "cpu", widths=(3,), depth=1)
    assert (out["regions_2d"] >= 1).all() and (out["regions_2d"] <= 7).all()  # 3 lines: <= 7
    assert (out["pieces_1d"] >= 1).all() and (out["pieces_1d"] <= 4).all()


def test_damaged_sweeps_from_the_command_line(tmp_path, capsys):
    """One line for a damaged shard or manifest, saying what to do; --resume rebuilds the
    manifest and says so; summarize --partial reads the intact shards and says what is missing."""
    out = tmp_path / "r"
    run = ["sweep", "regions", "--items", "12", "--shards", "3", "--widths", "4,6", "--depth",
           "1", "--out", str(out)]
    assert main(run) == 0
    capsys.readouterr()
    (out / "manifest.json").write_text('{"task": ')
    assert main(["sweep", "summarize", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"reluscope sweep: error: {out / 'manifest.json'} is unreadable (not "
                          "valid JSON") and "rerun the same sweep with --resume" in err
    assert len(err.splitlines()) == 1
    assert main(run + ["--resume"]) == 0
    err = capsys.readouterr().err
    assert "reluscope: warning: " in err and "rebuilt it from the shard files: 3 of 3 shards" in err
    (out / "shard-000001.parquet").write_bytes(b"PAR1")
    assert main(["sweep", "summarize", str(out)]) == 2
    err = capsys.readouterr().err
    assert "4 of 12 items of the sweep" in err and "shard-000001.parquet" in err
    assert len(err.splitlines()) == 1 and "--resume" in err
    assert main(["sweep", "summarize", str(out), "--partial"]) == 0
    captured = capsys.readouterr()
    assert "width 4: 4 items" in captured.out and "width 6: 4 items" in captured.out
    assert "reluscope: warning: partial results: 4 of 12 items" in captured.err
    assert main(run + ["--partial"]) == 2
    assert "--partial is for summarize" in capsys.readouterr().err
