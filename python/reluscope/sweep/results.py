"""``read_results``: a sweep's rows as one table — all of them, or (asked for) the intact part
with a warning saying what is missing; never fewer rows without a word."""
from __future__ import annotations

import hashlib
import os
import warnings

from .plan import Shard, ShardPlan
from .store import MANIFEST, parquet, read_manifest, shard_file


def _names(shards: list[Shard]) -> str:
    names = [shard_file(s.index) for s in shards[:5]]
    return ", ".join(names) + (f" and {len(shards) - 5} more" if len(shards) > 5 else "")


def read_results(out_dir: str, *, partial: bool = False):
    """Every shard's rows, in item order, as one pyarrow Table (columns ``item`` and the task's).

    Every shard of the plan must be finished and its file have the SHA-256 the manifest
    recorded; otherwise a ValueError names the missing or damaged shard files and says how to
    compute them (resume the sweep). ``partial=True`` reads the intact shards only and warns with
    how many items are missing (ValueError when there is none)."""
    pa, pq = parquet()

    manifest = read_manifest(out_dir)
    if manifest is None:
        raise FileNotFoundError(f"{out_dir} has no {MANIFEST}: not a sweep folder")
    plan = ShardPlan(**manifest["plan"])
    tables, damaged, unfinished = [], [], []
    for shard in plan.shards():
        entry = manifest["shards"].get(str(shard.index))
        if not isinstance(entry, dict) or entry.get("status") != "done":
            unfinished.append(shard)
            continue
        try:
            with open(os.path.join(out_dir, entry["file"]), "rb") as f:
                raw = f.read()
        except FileNotFoundError:
            raw = None
        if raw is None or hashlib.sha256(raw).hexdigest() != entry["sha256"]:
            damaged.append(shard)
        else:
            tables.append(pq.read_table(pa.BufferReader(raw)))
    missing = [s.size for s in damaged + unfinished]
    if missing:
        parts = []
        if damaged:
            parts.append(f"{len(damaged)} shard file(s) missing or damaged (not the SHA-256 the "
                         f"manifest recorded): {_names(damaged)}")
        if unfinished:
            parts.append(f"{len(unfinished)} shard(s) not finished: {_names(unfinished)}")
        what = (f"{sum(missing)} of {plan.items} items of the sweep in {out_dir} are missing: "
                + "; ".join(parts))
        if not partial:
            raise ValueError(f"{what}. Rerun the sweep with --resume (run_sweep(..., "
                             "resume=True)) to compute them, or read the intact shards only "
                             "with partial=True (summarize --partial)")
        if not tables:
            raise ValueError(f"{what}: no intact shard to read")
        warnings.warn(f"partial results: {what}", stacklevel=2)
    return pa.concat_tables(tables)
