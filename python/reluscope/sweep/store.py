"""Where a sweep's results live: one Parquet file per shard and ``manifest.json`` (the plan, the
task and its parameters, versions, and per shard its status, rows, SHA-256 and seconds).

Files are written under a temporary name and renamed, so a half-written file never has a shard's
name; a shard counts as done only when the manifest says so and its file has the recorded SHA-256
(a truncated or corrupted file is recomputed)."""
from __future__ import annotations

import hashlib
import json
import os
import platform
from typing import Any, Mapping

import numpy as np

from .plan import Shard

MANIFEST = "manifest.json"


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


def write_shard(out_dir: str, shard: Shard, columns: Mapping[str, Any]) -> dict:
    """Columns (each of shard.size rows: 1-D, or 2-D stored as fixed-size lists) plus ``item``
    -> the shard's Parquet file, atomically. Returns its manifest entry (without seconds)."""
    pa, pq = parquet()

    arrays = {"item": pa.array(np.arange(shard.start, shard.stop, dtype=np.int64))}
    for name, value in columns.items():
        a = value.detach().cpu().numpy() if hasattr(value, "detach") else np.asarray(value)
        if a.shape[:1] != (shard.size,) or a.ndim > 2:
            raise ValueError(f"task column {name!r} must have {shard.size} rows (1-D or 2-D), "
                             f"got shape {a.shape}")
        arrays[name] = (pa.array(a) if a.ndim == 1 else
                        pa.FixedSizeListArray.from_arrays(pa.array(a.ravel()), a.shape[1]))
    table = pa.table(arrays).replace_schema_metadata(
        {"reluscope.shard": str(shard.index), "reluscope.seed": str(shard.seed)})
    path = os.path.join(out_dir, shard_file(shard.index))
    tmp = f"{path}.tmp-{os.getpid()}"
    pq.write_table(table, tmp)
    digest = sha256(tmp)
    os.replace(tmp, path)
    return {"status": "done", "file": shard_file(shard.index), "rows": shard.size,
            "sha256": digest}


def is_done(out_dir: str, entry: Mapping[str, Any] | None) -> bool:
    """The manifest entry says done and the file is there with the recorded SHA-256."""
    if not entry or entry.get("status") != "done":
        return False
    path = os.path.join(out_dir, entry["file"])
    return os.path.isfile(path) and sha256(path) == entry["sha256"]


def read_manifest(out_dir: str) -> dict | None:
    path = os.path.join(out_dir, MANIFEST)
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def write_manifest(out_dir: str, manifest: dict) -> None:
    path = os.path.join(out_dir, MANIFEST)
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)
    os.replace(tmp, path)


def versions() -> dict:
    import torch

    from .._version import __version__

    return {"reluscope": __version__, "torch": torch.__version__,
            "python": platform.python_version(), "numpy": np.__version__}


def read_results(out_dir: str):
    """Every finished shard's rows, in item order, as one pyarrow Table."""
    pa, pq = parquet()

    manifest = read_manifest(out_dir)
    if manifest is None:
        raise FileNotFoundError(f"{out_dir} has no {MANIFEST}: not a sweep folder")
    entries = [manifest["shards"][k] for k in sorted(manifest["shards"], key=int)]
    tables = [pq.read_table(os.path.join(out_dir, e["file"])) for e in entries
              if is_done(out_dir, e)]
    if not tables:
        raise ValueError(f"{out_dir} has no finished shard")
    return pa.concat_tables(tables)
