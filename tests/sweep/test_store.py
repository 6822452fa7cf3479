"""reluscope.sweep.store: reading results never drops rows silently (a damaged or unfinished shard
is an error naming its file, or an explicit partial read that says what is missing); a corrupt
manifest is a clear error and is rebuilt on resume from the shard files that prove they belong
to the sweep; params and plans are stored as canonical JSON; no temporary file is left behind."""
import json
import os

import numpy as np
import pytest

from reluscope.sweep import ShardPlan, read_results, run_sweep, summarize
from reluscope.sweep import store
from tests.sweep.tasks_for_tests import computed, noisy, with_item_column

PLAN = ShardPlan(10, 3, seed=1)  # shards of items 0-2, 3-5, 6-8, 9


@pytest.fixture
def sweep(tmp_path):
    """A finished sweep of PLAN (its folder, log and params) and its full results."""
    out, log = tmp_path / "s", tmp_path / "log"
    params = {"log": str(log)}
    run_sweep(noisy, PLAN, str(out), params=params, progress=False)
    return out, log, params, read_results(str(out)).to_pydict()


def no_temporary_files(folder) -> bool:
    return not [f for f in os.listdir(folder) if ".tmp-" in f]


def damage(path, how: str) -> None:
    data = path.read_bytes()
    if how == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif how == "flip":
        path.write_bytes(data[:100] + bytes([data[100] ^ 1]) + data[101:])
    else:
        path.unlink()


@pytest.mark.parametrize("how", ["truncate", "flip", "delete"])
def test_a_damaged_shard_is_an_error_naming_it(sweep, how):
    out, log, params, good = sweep
    damage(out / "shard-000001.parquet", how)
    for read in (read_results, summarize):
        with pytest.raises(ValueError, match=r"3 of 10 items .* missing: 1 shard file\(s\) missing "
                                             r"or damaged .*: shard-000001\.parquet\. Rerun the "
                                             r"sweep with --resume"):
            read(str(out))
    with pytest.warns(UserWarning, match=r"partial results: 3 of 10 items .* shard-000001"):
        table = read_results(str(out), partial=True).to_pydict()
    assert table["item"] == [0, 1, 2, 6, 7, 8, 9]
    assert table["x"] == good["x"][:3] + good["x"][6:]
    with pytest.warns(UserWarning, match="partial results"):
        assert sum(per["n"] for per in summarize(str(out), partial=True).values()) == 7
    run_sweep(noisy, PLAN, str(out), params=params, resume=True, progress=False)
    assert computed(str(log)) == [0, 1, 2, 3, 1] and read_results(str(out)).to_pydict() == good


def test_an_unfinished_sweep_is_an_error_unless_partial(tmp_path):
    out, marker = tmp_path / "s", tmp_path / "fail"
    marker.touch()
    with pytest.raises(RuntimeError, match="interrupted"):
        run_sweep(noisy, PLAN, str(out), params={"fail_marker": str(marker)}, progress=False)
    with pytest.raises(ValueError, match=r"4 of 10 items .* 2 shard\(s\) not finished: "
                                         r"shard-000002\.parquet, shard-000003\.parquet"):
        read_results(str(out))
    with pytest.warns(UserWarning, match="partial results: 4 of 10 items"):
        assert read_results(str(out), partial=True).to_pydict()["item"] == list(range(6))


def test_no_intact_shard_is_an_error_even_partial(sweep):
    out = sweep[0]
    for i in range(4):
        damage(out / f"shard-{i:06d}.parquet", "delete")
    with pytest.raises(ValueError, match="10 of 10 items .* no intact shard to read"):
        read_results(str(out), partial=True)


def test_a_task_column_named_item_is_refused(tmp_path):
    with pytest.raises(ValueError, match="a task column is named 'item'.*rename that column"):
        run_sweep(with_item_column, PLAN, str(tmp_path), progress=False)
    assert not list(tmp_path.glob("shard-*")) and no_temporary_files(tmp_path)


CORRUPTIONS = {
    "truncated": lambda text: text[: len(text) // 2],
    "not UTF-8": lambda text: "\udcff" + text,
    "a list": lambda text: "[]",
    "plan not an object": lambda text: json.dumps({**json.loads(text), "plan": 3}),
    "plan of floats": lambda text: json.dumps({**json.loads(text), "plan": {
        "items": 10.5, "shard_size": 3, "seed": 1}}),
    "shards not an object": lambda text: json.dumps({**json.loads(text), "shards": None}),
    "entry naming another file": lambda text: text.replace("shard-000002.parquet",
                                                           "../elsewhere.parquet"),
}


@pytest.mark.parametrize("kind", CORRUPTIONS)
def test_a_corrupt_manifest_is_a_clear_error_and_rebuilt_on_resume(sweep, kind):
    out, log, params, good = sweep
    path = out / "manifest.json"
    path.write_bytes(CORRUPTIONS[kind](path.read_text()).encode("utf-8", "surrogateescape"))
    message = (rf"{path} is unreadable \(.*\)\. The shard files are kept: rerun the same sweep "
               r"with --resume")
    for call in (lambda: read_results(str(out)), lambda: summarize(str(out)),
                 lambda: run_sweep(noisy, PLAN, str(out), params=params, progress=False)):
        with pytest.raises(ValueError, match=message):
            call()
    with pytest.warns(UserWarning, match=r"unreadable .* rebuilt it from the shard files: 4 of 4 "
                                         r"shards prove they belong to this sweep"):
        manifest = run_sweep(noisy, PLAN, str(out), params=params, resume=True, progress=False)
    assert computed(str(log)) == [0, 1, 2, 3]  # nothing recomputed
    assert read_results(str(out)).to_pydict() == good
    assert manifest["rebuilt"]["old_manifest"] == "manifest.json.corrupt"
    assert (out / "manifest.json.corrupt").exists() and no_temporary_files(out)


def test_a_rebuild_takes_over_only_proven_shard_files(sweep, tmp_path):
    out, log, params, good = sweep
    (out / "manifest.json").write_text("{")
    damage(out / "shard-000002.parquet", "flip")
    with pytest.warns(UserWarning, match="3 of 4 shards prove"):
        run_sweep(noisy, PLAN, str(out), params=params, resume=True, progress=False)
    assert computed(str(log)) == [0, 1, 2, 3, 2] and read_results(str(out)).to_pydict() == good
    # a missing manifest: the same, on resume
    (out / "manifest.json").unlink()
    with pytest.warns(UserWarning, match="had no manifest.json; built one .* 4 of 4 shards"):
        run_sweep(noisy, PLAN, str(out), params=params, resume=True, progress=False)
    assert computed(str(log)) == [0, 1, 2, 3, 2]


def test_a_rebuild_refuses_another_sweeps_shard_files(sweep):
    out, log, params, _ = sweep
    (out / "manifest.json").write_text("{")
    other = ShardPlan(10, 3, seed=2)
    with pytest.raises(ValueError, match="holds shard files of a different sweep "
                                         r"\(shard-000000\.parquet says .*\): not resuming it"):
        run_sweep(noisy, other, str(out), params=params, resume=True, progress=False)
    assert computed(str(log)) == [0, 1, 2, 3] and (out / "manifest.json").read_text() == "{"


def test_tuple_and_numpy_params_resume_as_themselves(tmp_path):
    log = tmp_path / "log"
    for widths in ((4, 5), np.array([4, 5]), [np.int64(4), np.int64(5)]):
        out = tmp_path / type(widths).__name__
        params = {"log": str(log), "widths": widths}
        first = run_sweep(noisy, PLAN, str(out), params=params, progress=False)
        run_sweep(noisy, PLAN, str(out), params=params, resume=True, progress=False)
        assert first["params"] == {"log": str(log), "widths": [4, 5]}
        assert json.loads((out / "manifest.json").read_text())["params"] == first["params"]
    assert computed(str(log)) == [0, 1, 2, 3] * 3  # no resume recomputed anything
    with pytest.raises(TypeError, match=r"params\['widths'\]\[1\] must be a JSON value .* got "
                                        "object"):
        run_sweep(noisy, PLAN, str(tmp_path / "x"), params={"widths": [4, object()]},
                  progress=False)
    assert not (tmp_path / "x").exists()


def test_a_numpy_plan_is_stored_as_integers(tmp_path):
    plan = ShardPlan(np.int64(10), np.int32(3), np.uint8(1))
    run_sweep(noisy, plan, str(tmp_path), progress=False)
    on_disk = json.loads((tmp_path / "manifest.json").read_text())
    assert on_disk["plan"] == {"items": 10, "shard_size": 3, "seed": 1}
    assert no_temporary_files(tmp_path)
    run_sweep(noisy, PLAN, str(tmp_path), resume=True, progress=False)  # the same plan


def test_a_failed_write_leaves_no_temporary_file(tmp_path, monkeypatch):
    with pytest.raises(TypeError):
        store.write_manifest(str(tmp_path), {"plan": np.float16(1)})
    assert os.listdir(tmp_path) == []
    pa, pq = store.parquet()

    def disk_full(table, where):
        with open(where, "wb") as f:
            f.write(b"PAR1")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pq, "write_table", disk_full)
    with pytest.raises(OSError, match="No space left"):
        run_sweep(noisy, PLAN, str(tmp_path / "s"), progress=False)
    assert not list((tmp_path / "s").glob("shard-*"))
