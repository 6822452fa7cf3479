"""Sweeps past one machine: a task over the shards of a plan (per-shard seeds from one root
seed), on one process or a Ray cluster, one Parquet file per shard and a manifest; resumable, and
a finished shard is never recomputed."""
from .plan import Shard, ShardPlan
from .run import ENGINES, run_sweep
from .results import read_results
from .summary import summarize
from .tasks import TASKS

__all__ = ["ENGINES", "Shard", "ShardPlan", "TASKS", "read_results", "run_sweep", "summarize"]
