"""``run_sweep``: a task over every shard of a plan, on one process ("local") or a Ray cluster
("ray"), each shard's result in its own Parquet file; finished shards are never recomputed.

A task is a module-level function ``task(shard, device, **params) -> {column: array}`` whose
randomness comes from ``shard.seed`` only; its columns have one row per item of the shard."""
from __future__ import annotations

import os
import sys
import time
from typing import Any, Callable, Mapping, Optional

import torch

from ..progress import Progress
from . import store
from .plan import Shard, ShardPlan

ENGINES = ("local", "ray")
Task = Callable[..., Mapping[str, Any]]


def task_name(task: Task) -> str:
    return f"{task.__module__}.{task.__qualname__}"


def run_shard(task: Task, params: Mapping[str, Any], shard: Shard, device: str,
              out_dir: str, sweep: str) -> dict:
    """Compute one shard and write its file (naming the sweep ``sweep``, its identity key);
    its manifest entry (with seconds)."""
    t0 = time.perf_counter()
    entry = store.write_shard(out_dir, shard, task(shard, device, **params), sweep=sweep)
    return {**entry, "seconds": time.perf_counter() - t0}


def run_sweep(task: Task, plan: ShardPlan, out_dir: str, *, params: Optional[dict] = None,
              engine: str = "local", device: str = "cpu", resume: bool = False,
              address: Optional[str] = None, max_retries: int = 3,
              progress: bool = True) -> dict:
    """Run ``task`` on every shard of ``plan`` not yet done in ``out_dir``; returns the manifest.

    engine "local": the shards one after the other in this process. engine "ray": one Ray task
    per shard (``num_gpus=1`` each on CUDA, else ``num_cpus=1``), retried up to ``max_retries``
    times when its worker dies; joins the cluster at ``address`` ("auto": the running one) or
    starts a local one. Workers write the shard files themselves: ``out_dir`` must be on a file
    system every node sees. ``resume``: continue a sweep in ``out_dir`` (the same task, params and
    plan), skipping every shard whose file is intact; without it ``out_dir`` must hold no sweep.
    A missing or unreadable manifest is rebuilt on resume from the shard files that prove they
    belong to this sweep (``store.rebuild_manifest``; it warns, and keeps an unreadable one as
    manifest.json.corrupt). ``params`` must be JSON values; they are stored, compared and passed
    to the task as JSON gives them back (tuples as lists, numpy numbers as Python numbers), so a
    sweep resumes with exactly the parameters it started with.
    device "cuda" with nothing to run it on is an error before anything is written: locally when
    torch sees no such GPU, on Ray when the cluster this process started has no GPU (a joined
    cluster without one gets a warning instead: it may add GPU nodes, e.g. by autoscaling).
    """
    plan = plan.check()
    identity = store.identity(task_name(task), params or {}, plan)
    params, sweep = identity["params"], store.identity_key(identity)
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
    cuda = _check_device(device, engine)
    store.parquet()  # before any shard is computed
    try:
        manifest = store.read_manifest(out_dir)
    except store.ManifestError as e:
        if not resume:
            raise
        manifest = store.rebuild_manifest(out_dir, identity, unreadable=e)
    if manifest is not None and not resume:
        raise ValueError(f"{out_dir} already holds a sweep; pass resume=True (--resume) to "
                         "continue it, or choose another folder")
    if manifest is not None and store.identity_key(manifest) != sweep:
        raise ValueError(f"{out_dir} holds a different sweep ({manifest['task']}, "
                         f"{manifest['params']}, {manifest['plan']}): not resuming it")
    if manifest is None:
        manifest = (store.rebuild_manifest(out_dir, identity, unreadable=None) if resume else
                    {**identity, "versions": store.versions(), "shards": {}})
    todo = [s for s in plan.shards() if not store.is_done(out_dir, manifest["shards"].get(
        str(s.index)))]
    ray = _ray_session(address, cuda) if engine == "ray" else None
    manifest.update(engine=engine, device=device)
    os.makedirs(out_dir, exist_ok=True)
    store.write_manifest(out_dir, manifest)
    bar = Progress(len(todo), f"sweep {identity['task'].rsplit('.', 1)[-1]}", enabled=progress)
    t0, done_items = time.perf_counter(), 0

    def finished(shard: Shard, entry: dict) -> None:
        nonlocal done_items
        manifest["shards"][str(shard.index)] = entry
        store.write_manifest(out_dir, manifest)
        done_items += shard.size
        rate = done_items / (time.perf_counter() - t0)
        left = sum(s.size for s in todo) - done_items
        bar.update(1, f"{rate:.3g} items/s, ETA {left / rate:.0f} s")

    if engine == "local":
        for shard in todo:
            finished(shard, run_shard(task, params, shard, device, out_dir, sweep))
    else:
        _run_ray(ray, task, params, todo, device, cuda, out_dir, sweep, max_retries, finished)
    manifest["wall_s"] = time.perf_counter() - t0
    store.write_manifest(out_dir, manifest)
    return manifest


def _check_device(device: str, engine: str) -> bool:
    """Whether the shards run on CUDA; a clear error for a device they could not run on."""
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        dev = None
    if dev is None or dev.type not in ("cpu", "cuda"):
        raise ValueError(f"device must be a CPU or CUDA device ('cpu', 'cuda'), got {device!r}")
    if dev.type == "cpu":
        return False
    if engine == "ray":
        if device != "cuda":
            raise ValueError("on Ray each shard runs on the one GPU Ray gives its worker: use "
                             f"device 'cuda', not {device!r}")
    elif (dev.index or 0) >= torch.cuda.device_count():  # 0 where torch sees no CUDA GPU
        raise ValueError(f"device {device!r} was asked for but torch sees "
                         f"{torch.cuda.device_count()} CUDA GPU(s)")
    return True


def _ray_session(address: Optional[str], cuda: bool):
    """Ray, initialised: an initialised session, else the cluster at address, else a new local
    one. For CUDA shards (num_gpus=1 each) a cluster without a GPU is an error when this process
    started it (its shards could never run) and a warning when it joined one (which may add GPU
    nodes later, e.g. an autoscaling cluster)."""
    try:
        import ray
    except ImportError:
        raise ImportError("engine='ray' needs Ray: pip install 'reluscope[ray]'") from None
    init_here = not ray.is_initialized()
    if init_here:
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
    if cuda and not ray.cluster_resources().get("GPU", 0):
        if _started_here(ray):
            if init_here:
                ray.shutdown()
            raise ValueError("device 'cuda' was asked for but the Ray cluster started here has "
                             "no GPU (each shard needs num_gpus=1); join a GPU cluster "
                             "(address='auto') or use device 'cpu'")
        print("[sweep] warning: the Ray cluster has no GPU yet; the CUDA shards (num_gpus=1 "
              "each) wait until a GPU node joins", file=sys.stderr)
    return ray


def _started_here(ray) -> bool:
    """Whether this process's ray.init started the cluster (read from Ray's private node handle;
    False where that is missing, so an unknown cluster counts as joined)."""
    try:
        return bool(ray._private.worker._global_node.head)
    except AttributeError:
        return False


def _run_ray(ray, task, params, todo, device, cuda, out_dir, sweep, max_retries,
             finished) -> None:
    resources = {"num_gpus": 1} if cuda else {"num_cpus": 1}
    remote = ray.remote(max_retries=max_retries, **resources)(run_shard)
    pending = {remote.remote(task, params, s, device, os.path.abspath(out_dir), sweep): s
               for s in todo}
    while pending:
        ready, _ = ray.wait(list(pending), num_returns=1)
        for ref in ready:
            finished(pending.pop(ref), ray.get(ref))
