"""LLC benchmark: B=1000 TMS models (6 features, 2 hidden, at random points: the estimator's cost
does not depend on where), 4 chains x 200 draws of SGLD with minibatches of 64 from N=1024 TMS
samples, against the per-model torch.func loop (``reference.slt``, chains vmapped) timed on a
subset and scaled linearly (said in the JSON). Reports SGLD steps x models per second."""
from __future__ import annotations

from typing import Iterator

import torch

from .. import TMS, Data, slt
from ..reference import slt as reference
from .harness import Result, median_times


def run(device: str, quick: bool) -> Iterator[Result]:
    g = torch.Generator().manual_seed(0)
    B, C, draws, m, N, subset = 1000, 4, 200, 64, 1024, 10
    for dtype in (torch.float64, torch.float32):
        tms = TMS(6, 2)
        theta = tms.init(B, generator=g, dtype=dtype).to(device)
        X = torch.rand(N, 6, generator=g, dtype=dtype) * (torch.rand(N, 6, generator=g) > 0.8)
        data = Data(X.to(device), X.to(device))
        options = dict(chains=C, draws=draws, step_size=1e-3, gamma=100.0, batch_size=m)

        def ours():
            return slt.llc(tms, theta, data, generator=torch.Generator().manual_seed(1),
                           **options)

        def ref():
            return reference.llc(tms, theta[:subset], data,
                                 generator=torch.Generator().manual_seed(1), **options)

        t_ours, t_ref = median_times([ours, ref], device, repeats=2 if quick else 3, warmup=1)
        yield Result(
            "slt", "llc TMS n=6 m=2, 4 chains x 200 draws, batch 64", device,
            str(dtype).replace("torch.", ""),
            {"B": B, "chains": C, "draws": draws, "batch": m, "N": N}, t_ours, t_ref * B / subset,
            {"reference": f"per-model loop timed on {subset} of {B} models, scaled x{B // subset}",
             "model_steps_per_s": B * draws / t_ours,
             "chain_steps_per_s": B * C * draws / t_ours})
