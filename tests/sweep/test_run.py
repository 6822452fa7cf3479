"""reluscope.sweep.run_sweep with the local engine: results, the manifest, resume after an
interruption redoes only the missing shards, a corrupted or partial shard file is recomputed,
and the errors."""
import json
import sys

import pytest
import torch

from reluscope.sweep import ENGINES, ShardPlan, read_results, run_sweep, summarize
from tests.sweep.tasks_for_tests import computed, noisy

PLAN = ShardPlan(10, 3, seed=1)


def test_results_and_manifest(tmp_path):
    out = tmp_path / "s"
    manifest = run_sweep(noisy, PLAN, str(out), progress=False)
    table = read_results(str(out)).to_pydict()
    assert table["item"] == list(range(10)) and len(table["x"][0]) == 3
    again = run_sweep(noisy, PLAN, str(tmp_path / "t"), progress=False)  # same seeds, same bits
    assert read_results(str(tmp_path / "t")).to_pydict() == table
    on_disk = json.loads((out / "manifest.json").read_text())
    assert on_disk["plan"] == {"items": 10, "shard_size": 3, "seed": 1}
    assert on_disk["task"] == "tests.sweep.tasks_for_tests.noisy" and on_disk["versions"]["torch"]
    assert sorted(on_disk["shards"]) == ["0", "1", "2", "3"] and manifest["wall_s"] > 0
    assert all(e["status"] == "done" and e["seconds"] >= 0 for e in on_disk["shards"].values())
    assert again["shards"]["0"]["sha256"] == manifest["shards"]["0"]["sha256"]


def test_resume_redoes_only_missing_shards(tmp_path):
    out, log, marker = tmp_path / "s", tmp_path / "log", tmp_path / "fail"
    marker.touch()
    params = {"log": str(log), "fail_marker": str(marker)}
    with pytest.raises(RuntimeError, match="interrupted"):
        run_sweep(noisy, PLAN, str(out), params=params, progress=False)
    assert computed(str(log)) == [0, 1]
    marker.unlink()
    run_sweep(noisy, PLAN, str(out), params=params, resume=True, progress=False)
    assert computed(str(log)) == [0, 1, 2, 3]
    run_sweep(noisy, PLAN, str(out), params=params, resume=True, progress=False)  # all done
    assert computed(str(log)) == [0, 1, 2, 3]
    reference = run_sweep(noisy, PLAN, str(tmp_path / "ref"), params=params, progress=False)
    assert read_results(str(out)).to_pydict() == read_results(str(tmp_path / "ref")).to_pydict()
    assert reference["shards"]["2"]["sha256"] == json.loads(
        (out / "manifest.json").read_text())["shards"]["2"]["sha256"]


@pytest.mark.parametrize("damage", ["truncate", "flip", "delete", "stray temporary file"])
def test_damaged_shard_files_are_recomputed(tmp_path, damage):
    out, log = tmp_path / "s", tmp_path / "log"
    params = {"log": str(log)}
    run_sweep(noisy, PLAN, str(out), params=params, progress=False)
    good = read_results(str(out)).to_pydict()
    path = out / "shard-000001.parquet"
    data = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "flip":
        path.write_bytes(data[:100] + bytes([data[100] ^ 1]) + data[101:])
    elif damage == "delete":
        path.unlink()
    else:  # a half-written file under its temporary name is never taken as a result
        (out / "shard-000003.parquet.tmp-12345").write_bytes(data[:10])
        (out / "shard-000003.parquet").unlink()
    run_sweep(noisy, PLAN, str(out), params=params, resume=True, progress=False)
    assert computed(str(log)) == [0, 1, 2, 3] + ([3] if damage == "stray temporary file" else [1])
    assert read_results(str(out)).to_pydict() == good


def test_summary_fractions_and_means(tmp_path):
    run_sweep(noisy, ShardPlan(400, 100, seed=0), str(tmp_path), progress=False)
    summary = summarize(str(tmp_path), str(tmp_path / "summary.png"))
    assert sorted(summary) == [4, 5] and summary[4]["n"] == 200
    frac, lo, hi = summary[4]["label"]["pos"]
    assert lo < frac < hi and abs(frac - 0.5) < 0.15 and (tmp_path / "summary.png").exists()
    mean, se = summary[5]["norm"]
    assert abs(mean - 1.596) < 5 * se  # E||x|| for x ~ N(0, I_3): 2 sqrt(2 / pi)


def test_errors(tmp_path):
    run_sweep(noisy, PLAN, str(tmp_path), progress=False)
    with pytest.raises(ValueError, match="already holds a sweep"):
        run_sweep(noisy, PLAN, str(tmp_path), progress=False)
    with pytest.raises(ValueError, match="different sweep"):
        run_sweep(noisy, ShardPlan(10, 3, seed=2), str(tmp_path), resume=True, progress=False)
    with pytest.raises(ValueError, match="engine must be"):
        run_sweep(noisy, PLAN, str(tmp_path / "x"), engine="slurm", progress=False)
    with pytest.raises(FileNotFoundError, match="not a sweep folder"):
        read_results(str(tmp_path / "nothing"))


def test_without_pyarrow_it_says_which_extra_before_computing(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # import pyarrow raises ImportError
    log = tmp_path / "log"
    with pytest.raises(ImportError, match=r"needs pyarrow: pip install 'reluscope\[ray\]'"):
        run_sweep(noisy, PLAN, str(tmp_path / "s"), params={"log": str(log)}, progress=False)
    assert not log.exists() and not (tmp_path / "s").exists()
    with pytest.raises(ImportError, match="needs pyarrow"):
        read_results(str(tmp_path))


@pytest.mark.parametrize("engine", ENGINES)
def test_devices_it_cannot_run_on(tmp_path, monkeypatch, engine):
    """Refused before anything is written or any cluster is started."""
    out = tmp_path / "s"
    for device in ("tpu", "meta", "cuda:x"):
        with pytest.raises(ValueError, match="device must be a CPU or CUDA device"):
            run_sweep(noisy, PLAN, str(out), engine=engine, device=device, progress=False)
    if engine == "local":
        monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
        with pytest.raises(ValueError, match=r"'cuda' was asked for but torch sees 0 CUDA GPU"):
            run_sweep(noisy, PLAN, str(out), device="cuda", progress=False)
        monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
        with pytest.raises(ValueError, match=r"'cuda:2' was asked for but torch sees 2 CUDA"):
            run_sweep(noisy, PLAN, str(out), device="cuda:2", progress=False)
    else:
        with pytest.raises(ValueError, match="use device 'cuda', not 'cuda:1'"):
            run_sweep(noisy, PLAN, str(out), engine="ray", device="cuda:1", progress=False)
    assert not out.exists()
