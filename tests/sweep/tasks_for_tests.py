"""Sweep tasks for the tests (module level, so Ray workers can import them): cheap columns from
the shard's seed, a log of every computation, and the ways a run can be interrupted."""
import os
import signal

import numpy as np
import torch


def noisy(shard, device, *, log: str = "", fail_marker: str = "", kill_marker: str = "",
          widths=(4, 5)):
    """Columns from shard.seed only (the width: widths[shard index % len(widths)]); appends the
    shard index to `log`; raises on shard 2 while `fail_marker` exists; kills its own process on
    shard 1 the first time (creating `kill_marker`)."""
    if kill_marker and shard.index == 1 and not os.path.exists(kill_marker):
        open(kill_marker, "w").close()
        os.kill(os.getpid(), signal.SIGKILL)
    if fail_marker and shard.index == 2 and os.path.exists(fail_marker):
        raise RuntimeError("interrupted")
    if log:
        with open(log, "a") as f:
            f.write(f"{shard.index}\n")
    g = torch.Generator().manual_seed(shard.seed)
    x = torch.randn(shard.size, 3, generator=g, dtype=torch.float64)
    return {"width": np.full(shard.size, widths[shard.index % len(widths)]), "x": x,
            "norm": x.norm(dim=1), "label": np.where(x[:, 0].numpy() > 0, "pos", "neg")}


def with_item_column(shard, device):
    """A task whose own column is named like the item index."""
    return {"item": np.zeros(shard.size), "x": np.ones(shard.size)}


def no_width(shard, device):
    """A task without a width column."""
    return {"x": np.ones(shard.size)}


def computed(log: str) -> list[int]:
    with open(log) as f:
        return [int(line) for line in f]
