"""The sweeps of ``reluscope sweep``, each a task ``(shard, device, **params) -> columns`` with
all randomness from ``shard.seed``. Write your own the same way (docs/scaling.md)."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from .plan import Shard


def _widths_of(shard: Shard, widths: Sequence[int]) -> np.ndarray:
    """Item i of the sweep has width widths[i % len(widths)]."""
    return np.asarray(widths)[np.arange(shard.start, shard.stop) % len(widths)]


def teacher_student(shard: Shard, device: str, *, widths: Sequence[int] = (4, 5, 6, 7),
                    steps: int = 3000, lr: float = 3e-2, lm_steps: int = 300) -> dict:
    """Seed 002's students (``reproduce teacher-student``'s code path): each item a student of
    width widths[item % len(widths)], trained on the teacher's grid and classified. Columns:
    width, class, loss, grad_norm, lambda_min, band (its resolution), index."""
    from ..experiments import teacher_student as ts

    data = ts.data_of_teacher(device)
    width = _widths_of(shard, widths)
    out = {"width": width, "class": np.empty(shard.size, dtype=object),
           **{k: np.empty(shard.size) for k in ("loss", "grad_norm", "lambda_min", "band")},
           "index": np.empty(shard.size, dtype=np.int64)}
    for w in sorted(set(width.tolist())):
        rows = np.flatnonzero(width == w)
        net = ts.student(w)
        g = torch.Generator().manual_seed(shard.seed + w)
        theta0 = net.init(len(rows), generator=g, scheme="normal", dtype=torch.float64)
        st = ts.train_and_classify(net, theta0.to(device), data, steps=steps, lr=lr,
                                   lm_steps=lm_steps)
        out["class"][rows] = st.kinds
        for k, v in (("loss", st.loss), ("grad_norm", st.grad_norm), ("lambda_min", st.lambda_min),
                     ("band", st.band), ("index", st.index)):
            out[k][rows] = v.cpu().numpy()
    out["class"] = out["class"].astype(str)
    return out


def regions(shard: Shard, device: str, *, widths: Sequence[int] = (8, 16, 32),
            depth: int = 3) -> dict:
    """Random ReLU nets [2, w x depth, 1] at He initialisation, w = widths[item % len]: exact
    linear regions in [-1, 1]^2 and pieces along the diagonal segment (-1,-1) -> (1,1).
    Columns: width, depth, regions_2d, pieces_1d."""
    from .. import MLP, regions as rg

    width = _widths_of(shard, widths)
    out = {"width": width, "depth": np.full(shard.size, depth),
           "regions_2d": np.empty(shard.size, dtype=np.int64),
           "pieces_1d": np.empty(shard.size, dtype=np.int64)}
    for w in sorted(set(width.tolist())):
        rows = np.flatnonzero(width == w)
        net = MLP([2] + [w] * depth + [1], "relu")
        g = torch.Generator().manual_seed(shard.seed + w)
        theta = net.init(len(rows), generator=g, dtype=torch.float64, bias_std=0.1).to(device)
        zero = torch.zeros(2, dtype=torch.float64, device=device)
        e1, e2 = torch.eye(2, dtype=torch.float64, device=device)
        out["regions_2d"][rows] = rg.count_2d(net, theta, zero, e1, e2).cpu().numpy()
        a = torch.full((1, 2), -1.0, dtype=torch.float64, device=device)
        out["pieces_1d"][rows] = rg.count_1d(net, theta, a, -a)[:, 0].cpu().numpy()
    return out


#: Task name (``reluscope sweep NAME``) -> task.
TASKS = {"teacher-student": teacher_student, "regions": regions}
