"""Where a sweep's results live: one Parquet file per shard and ``manifest.json`` (the plan, the
task and its parameters, versions, and per shard its status, rows, SHA-256 and seconds).

Files are written under a temporary name and renamed (the temporary file is removed on any
failure), so a half-written file never has a shard's name; a shard counts as done only when the
manifest says so and its file has the recorded SHA-256 (a truncated or corrupted file is
recomputed on resume, and ``read_results`` refuses it unless asked for the intact part).

Each shard file also proves on its own which sweep it belongs to: its Parquet metadata holds the
sweep's identity (task, parameters, plan, as canonical JSON), the shard's index and seed, and the
SHA-256 of its content. So a lost or corrupt manifest is rebuilt on resume from the files that
prove they are shards of the sweep being resumed; nothing else is taken over."""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import warnings
from typing import Any, Callable, Mapping, Optional, TypeVar

import numpy as np

from .plan import Shard, ShardPlan

MANIFEST = "manifest.json"
ITEM = "item"  # the column every shard file starts with: the item index
R = TypeVar("R")


class ManifestError(ValueError):
    """``manifest.json`` is unreadable or not a sweep's manifest; ``why`` says what is wrong."""

    def __init__(self, path: str, why: str):
        self.path, self.why = path, why
        super().__init__(
            f"{path} is unreadable ({why}). The shard files are kept: rerun the same sweep with "
            "--resume (run_sweep(..., resume=True)) to rebuild the manifest from the shard files "
            "that prove they belong to it; the other shards are recomputed")


def parquet():
    """(pyarrow, pyarrow.parquet), or an ImportError saying which extra brings them."""
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError:
        raise ImportError("sweeps store their results as Parquet files, which needs pyarrow: "
                          "pip install 'reluscope[ray]'") from None
    return pyarrow, pyarrow.parquet


def shard_file(index: int) -> str:
    return f"shard-{index:06d}.parquet"


def sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def json_value(value: Any, where: str) -> Any:
    """``value`` as JSON gives it back (tuples as lists, numpy numbers and arrays as Python
    numbers and lists), so what is stored, compared on resume and passed to the task is the same
    before and after a round trip through ``manifest.json``. TypeError naming ``where`` for what
    JSON cannot hold."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if isinstance(value, np.ndarray):
        return json_value(value.tolist(), where)
    if isinstance(value, (list, tuple)):
        return [json_value(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, Mapping):
        for k in value:
            if not isinstance(k, str):
                raise TypeError(f"{where} must have string keys (JSON objects), got {k!r}")
        return {k: json_value(v, f"{where}[{k!r}]") for k, v in value.items()}
    raise TypeError(f"{where} must be a JSON value (None, bool, number, string, list, tuple, dict "
                    f"or numpy array), got {type(value).__name__}")


def identity(task: str, params: Mapping[str, Any], plan: ShardPlan) -> dict:
    """What makes a sweep itself: the task's name, its parameters as JSON values, the plan."""
    return {"task": task, "params": json_value(dict(params), "params"), "plan": plan._asdict()}


def identity_key(ident: Mapping[str, Any]) -> str:
    """The canonical JSON text of an identity: equal identities give equal text (NaN included)."""
    return json.dumps({k: ident[k] for k in ("task", "params", "plan")}, sort_keys=True,
                      separators=(",", ":"))


def content_digest(table) -> str:
    """SHA-256 of a table's column names and values (not of its bytes: a Parquet round trip keeps
    the values but may rename the types' inner fields)."""
    h = hashlib.sha256()
    for name, column in zip(table.column_names, table.columns):
        h.update(json.dumps([name, column.to_pylist()]).encode())
    return h.hexdigest()


def _atomic(path: str, write: Callable[[str], R]) -> R:
    """write(tmp) to a temporary name beside path, then rename it to path; the temporary file is
    removed whatever stops the write (an error, a full disk, Ctrl-C)."""
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        result = write(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise
    return result


def write_shard(out_dir: str, shard: Shard, columns: Mapping[str, Any], *, sweep: str) -> dict:
    """Columns (each of shard.size rows: 1-D, or 2-D stored as fixed-size lists) after ``item``
    -> the shard's Parquet file, atomically, with the sweep's identity key ``sweep``
    (:func:`identity_key`) in its metadata. Returns its manifest entry (without seconds)."""
    pa, pq = parquet()

    if ITEM in columns:
        raise ValueError(f"a task column is named {ITEM!r}, the name of the item index every "
                         "shard file starts with: rename that column")
    arrays = {ITEM: pa.array(np.arange(shard.start, shard.stop, dtype=np.int64))}
    for name, value in columns.items():
        a = value.detach().cpu().numpy() if hasattr(value, "detach") else np.asarray(value)
        if a.shape[:1] != (shard.size,) or a.ndim > 2:
            raise ValueError(f"task column {name!r} must have {shard.size} rows (1-D or 2-D), "
                             f"got shape {a.shape}")
        arrays[name] = (pa.array(a) if a.ndim == 1 else
                        pa.FixedSizeListArray.from_arrays(pa.array(a.ravel()), a.shape[1]))
    table = pa.table(arrays)
    table = table.replace_schema_metadata(
        {"reluscope.shard": str(shard.index), "reluscope.seed": str(shard.seed),
         "reluscope.sweep": sweep, "reluscope.content": content_digest(table)})

    def write(tmp: str) -> str:
        pq.write_table(table, tmp)
        return sha256(tmp)

    digest = _atomic(os.path.join(out_dir, shard_file(shard.index)), write)
    return {"status": "done", "file": shard_file(shard.index), "rows": shard.size,
            "sha256": digest}


def is_done(out_dir: str, entry: Optional[Mapping[str, Any]]) -> bool:
    """The manifest entry says done and the file is there with the recorded SHA-256."""
    if not entry or entry.get("status") != "done":
        return False
    path = os.path.join(out_dir, entry["file"])
    return os.path.isfile(path) and sha256(path) == entry["sha256"]


def proven_entry(out_dir: str, shard: Shard, sweep: str) -> tuple[Optional[dict], Optional[str]]:
    """(entry, claim): ``claim`` is the identity key of the sweep ``shard``'s file says it belongs
    to (None where there is no readable file, or it was written before shard files named their
    sweep); ``entry`` its manifest entry when the file proves it is that shard of the sweep
    ``sweep``: its metadata names that sweep, the shard's index and seed, and its content has
    the SHA-256 recorded in it (else None: a damaged or foreign file is not taken over)."""
    pa, pq = parquet()
    path = os.path.join(out_dir, shard_file(shard.index))
    try:
        table = pq.read_table(path)
    except (OSError, ValueError, pa.ArrowException):
        return None, None
    meta = {k.decode(errors="replace"): v.decode(errors="replace")
            for k, v in (table.schema.metadata or {}).items()}
    claim = meta.get("reluscope.sweep")
    if (claim, meta.get("reluscope.shard"), meta.get("reluscope.seed")) != \
            (sweep, str(shard.index), str(shard.seed)) or table.num_rows != shard.size \
            or content_digest(table) != meta.get("reluscope.content"):
        return None, claim
    return {"status": "done", "file": shard_file(shard.index), "rows": shard.size,
            "sha256": sha256(path), "recovered": True}, claim


def _manifest_problem(m: Any) -> Optional[str]:
    """What makes m not a sweep manifest, or None."""
    if not isinstance(m, dict):
        return f"a JSON {type(m).__name__}, not an object"
    for key, kind in (("task", str), ("params", dict), ("plan", dict), ("shards", dict)):
        if not isinstance(m.get(key), kind):
            return f"{key!r} is missing or not a JSON {'string' if kind is str else 'object'}"
    if sorted(m["plan"]) != sorted(ShardPlan._fields):
        return f"'plan' must have the keys {list(ShardPlan._fields)}, got {sorted(m['plan'])}"
    try:
        plan = ShardPlan(**m["plan"]).check()
    except ValueError as e:
        return f"'plan': {e}"
    for key, e in m["shards"].items():
        if not (key.isdigit() and int(key) < plan.n_shards):
            return f"'shards' has {key!r}, not a shard of a plan with {plan.n_shards} shards"
        if not isinstance(e, dict) or e.get("status") != "done":
            continue  # an entry that does not say done is a shard to compute
        shard = plan.shard(int(key))
        if (e.get("file"), e.get("rows")) != (shard_file(shard.index), shard.size) \
                or not isinstance(e.get("sha256"), str):
            return (f"shard {key}'s entry must have file {shard_file(shard.index)!r}, rows "
                    f"{shard.size} and a sha256, got {e!r}")
    return None


def read_manifest(out_dir: str) -> Optional[dict]:
    """The sweep's manifest, None where out_dir has none; ManifestError (a ValueError naming the
    file, what is wrong and what to do) for one that is not valid JSON or not a manifest."""
    path = os.path.join(out_dir, MANIFEST)
    if not os.path.exists(path):
        return None
    with open(path, "rb") as f:
        raw = f.read()
    try:
        manifest = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ManifestError(path, f"not valid JSON: {e}") from None
    problem = _manifest_problem(manifest)
    if problem:
        raise ManifestError(path, f"not a sweep manifest: {problem}")
    return manifest


def write_manifest(out_dir: str, manifest: dict) -> None:
    """manifest -> manifest.json atomically (serialised first: nothing is written for a manifest
    JSON cannot hold)."""
    text = json.dumps(manifest, indent=1, sort_keys=True)

    def write(tmp: str) -> None:
        with open(tmp, "w") as f:
            f.write(text)

    _atomic(os.path.join(out_dir, MANIFEST), write)


def rebuild_manifest(out_dir: str, ident: dict, unreadable: Optional[ManifestError]) -> dict:
    """A manifest for the sweep ``ident`` in out_dir, whose manifest is missing or unreadable
    (``unreadable``: then moved aside to manifest.json.corrupt): every shard whose file proves it
    belongs to this sweep (:func:`proven_entry`) counts as done, the others are to compute.
    ValueError, changing nothing, when a shard file says it belongs to another sweep. Warns when
    it replaces an unreadable manifest or takes over a file."""
    plan = ShardPlan(**ident["plan"])
    key = identity_key(ident)
    shards = {}
    for shard in plan.shards():
        entry, claim = proven_entry(out_dir, shard, key)
        if claim is not None and claim != key:
            raise ValueError(f"{out_dir} holds shard files of a different sweep "
                             f"({shard_file(shard.index)} says {claim}): not resuming it")
        if entry:
            shards[str(shard.index)] = entry
    manifest = {**ident, "versions": versions(), "shards": shards}
    if unreadable is not None:
        kept = unreadable.path + ".corrupt"
        os.replace(unreadable.path, kept)
        manifest["rebuilt"] = {"because": unreadable.why, "old_manifest": os.path.basename(kept)}
        what = f"{unreadable.path} was unreadable ({unreadable.why}; kept as {kept}); rebuilt it"
    else:
        what = f"{out_dir} had no {MANIFEST}; built one"
    if unreadable is not None or shards:
        warnings.warn(f"{what} from the shard files: {len(shards)} of {plan.n_shards} shards "
                      "prove they belong to this sweep and are kept, the others are computed",
                      stacklevel=3)
    return manifest


def versions() -> dict:
    import torch

    from .._version import __version__

    return {"reluscope": __version__, "torch": torch.__version__,
            "python": platform.python_version(), "numpy": np.__version__}
