"""gd benchmark: ``hessian.gd`` with the sharpness every 10 steps on B networks of the
Edge-of-Stability code's tiny setting (a 1 -> 100 -> 1 tanh net on 20 points of [-1, 1] labelled
by a Chebyshev polynomial), beside the per-network torch loop (``reference.hessian.gd``:
torch.func gradients, eigvalsh of the torch.func Hessian) timed on a few networks and scaled by
B / those. (The EoS code's own reference is scipy eigsh on double-backprop HVPs; scipy is not a
dependency here.)"""
from __future__ import annotations

from typing import Iterator

import torch

from .. import MLP, Data, hessian, reference
from .harness import Result, median_times

STEPS, EVERY = 50, 10


def run(device: str, quick: bool) -> Iterator[Result]:
    B, few = (20, 1) if quick else (1000, 3)
    net = MLP([1, 100, 1], "tanh")
    X = torch.linspace(-1, 1, 20, dtype=torch.float64)[:, None]
    data = Data(X, torch.cos(3 * torch.arccos(X)))          # Chebyshev T_3
    theta = net.init(B, generator=torch.Generator().manual_seed(0), dtype=torch.float64,
                     scheme="lecun")
    data_dev = data.replace(device=device) if device != "cpu" else data
    theta_dev = theta.to(device)
    t_ours, t_ref = median_times(
        [lambda: hessian.gd(net, theta_dev, data_dev, lr=0.05, steps=STEPS, every=EVERY),
         lambda: reference.hessian.gd(net, theta[:few], data, lr=0.05, steps=STEPS,
                                      every=EVERY)],
        device, repeats=1, warmup=0)
    yield Result("gd", f"GD {STEPS} steps, sharpness every {EVERY}, tanh [1,100,1] N=20", device,
                 "float64", {"B": B, "N": 20, "P": net.num_params, "steps": STEPS,
                             "every": EVERY}, t_ours, t_ref * B / few,
                 {"reference": f"torch.func + eigvalsh per network, timed on {few}, scaled "
                               f"x{B // few}"})
