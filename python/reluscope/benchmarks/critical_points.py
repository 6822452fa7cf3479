"""critical-points benchmark: ``hessian.critical_points`` (dense solver) on B tanh networks of
``reproduce critical-points``' setting (y = W2 tanh(W1 x), n = 4, P = 32, phi = 0.5: 16 samples)
for a fixed number of steps (grad_tol 1e-300: every network takes every step, so both sides do the
same work), beside the per-network torch.func loop of the same algorithm
(``reference.hessian.critical_points``) timed on a few networks and scaled by B / those; and the
dense steps' batched eigendecomposition (``hessian.spectrum.dense_eigh``: reluscope's kernel on
the CPU) beside ``torch.linalg.eigh`` on the same random symmetric matrices, P = 32 / 64 / 128."""
from __future__ import annotations

from typing import Iterator

import torch

from .. import MLP, hessian, reference
from ..hessian.spectrum import dense_eigh
from ..experiments.critical_points import _memorisation
from .harness import Result, median_times

STEPS = 10


def run(device: str, quick: bool) -> Iterator[Result]:
    B, few = (50, 2) if quick else (1000, 5)
    n, phi = 4, 0.5
    net = MLP([n, n, n], "tanh", bias=False)
    data = _memorisation(n, phi, torch.Generator().manual_seed(0))
    theta = net.init(B, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    sizes = {"B": B, "N": data.N, "P": net.num_params, "steps": STEPS}
    data_dev = data.replace(device=device) if device != "cpu" else data
    theta_dev = theta.to(device)
    t_ours, t_ref = median_times(
        [lambda: hessian.critical_points(net, theta_dev, data_dev, steps=STEPS, grad_tol=1e-300),
         lambda: reference.hessian.critical_points(net, theta[:few], data, steps=STEPS,
                                                   grad_tol=1e-300)],
        device, repeats=1 if not quick else 2, warmup=0)
    yield Result("critical-points", f"finder, {STEPS} steps, tanh n={n} phi={phi}", device,
                 "float64", sizes, t_ours, t_ref * B / few,
                 {"reference": f"torch.func per network, timed on {few}, scaled x{B // few}",
                  "ms_per_network_step": 1e3 * t_ours / (B * STEPS)})
    for P in (32, 64, 128):
        n_mat = (64 if quick else 2048) * 32 // P
        A = torch.randn(n_mat, P, P, generator=torch.Generator().manual_seed(P),
                        dtype=torch.float64).to(device)
        A = A + A.mT
        t_ours, t_ref = median_times([lambda: dense_eigh(A), lambda: torch.linalg.eigh(A)],
                                     device, repeats=3 if quick else 5, warmup=1)
        yield Result("critical-points", f"eigh, values and vectors, P={P}", device, "float64",
                     {"B": n_mat, "P": P}, t_ours, t_ref,
                     {"reference": "torch.linalg.eigh (LAPACK / cuSOLVER)",
                      "us_per_matrix": 1e6 * t_ours / n_mat})
