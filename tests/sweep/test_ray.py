"""The Ray engine on a local 2-CPU cluster: bit for bit the local engine's results, and a worker
killed mid-run (its process gets SIGKILL) still yields the full, identical result through Ray's
retries. Skipped only when the ``ray`` extra is not installed."""
import os
from pathlib import Path

import pytest

from reluscope.sweep import ShardPlan, read_results, run_sweep
from reluscope.sweep import run as run_module
from tests.sweep.tasks_for_tests import computed, noisy

ray = pytest.importorskip("ray", reason="the ray extra is not installed")
ROOT = Path(__file__).resolve().parents[2]
PLAN = ShardPlan(10, 3, seed=5)


@pytest.fixture(scope="module")
def cluster():
    # workers import the tests' task module from the repository root
    path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    ray.init(num_cpus=2, num_gpus=0, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": path}})
    yield
    ray.shutdown()


def test_ray_equals_local_bit_for_bit(cluster, tmp_path):
    run_sweep(noisy, PLAN, str(tmp_path / "local"), progress=False)
    manifest = run_sweep(noisy, PLAN, str(tmp_path / "ray"), engine="ray", progress=False)
    assert manifest["engine"] == "ray"
    assert read_results(str(tmp_path / "ray")).to_pydict() == \
        read_results(str(tmp_path / "local")).to_pydict()


def test_a_killed_worker_is_retried_and_the_result_is_complete(cluster, tmp_path):
    log, marker = tmp_path / "log", tmp_path / "killed"
    params = {"log": str(log), "kill_marker": str(marker)}
    run_sweep(noisy, PLAN, str(tmp_path / "ray"), params=params, engine="ray", progress=False)
    assert marker.exists()  # shard 1's first worker died
    assert sorted(computed(str(log))) == [0, 1, 2, 3]
    run_sweep(noisy, PLAN, str(tmp_path / "local"), progress=False)
    assert read_results(str(tmp_path / "ray")).to_pydict() == \
        read_results(str(tmp_path / "local")).to_pydict()


def test_cuda_shards_on_a_cluster_without_gpu(cluster, tmp_path, monkeypatch, capsys):
    """Started here (this process's ray.init): an error before anything is written, and the
    cluster stays up; joined (it may autoscale): a warning, the shards would wait for a GPU."""
    with pytest.raises(ValueError, match="Ray cluster started here has no GPU"):
        run_sweep(noisy, PLAN, str(tmp_path / "s"), engine="ray", device="cuda", progress=False)
    assert not (tmp_path / "s").exists() and ray.is_initialized()
    monkeypatch.setattr(run_module, "_started_here", lambda ray: False)
    assert run_module._ray_session(None, cuda=True) is ray
    assert "no GPU yet; the CUDA shards (num_gpus=1 each) wait" in capsys.readouterr().err
