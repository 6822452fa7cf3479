"""ntk benchmark: empirical NTKs ``hessian.ntk`` of B networks on N inputs beside torch.func's
recipe (vmap over networks of jacrev, contracted with einsum: ``reference.hessian.ntk``), the
reference timed on a few networks and scaled by B / those where all B would not fit."""
from __future__ import annotations

from typing import Iterator

import torch

from .. import MLP, hessian, reference
from .harness import Result, median_times


def run(device: str, quick: bool) -> Iterator[Result]:
    N = 256
    cases = [([2, 64, 1], 50 if quick else 1000, 50 if quick else 1000),
             ([8, 128, 128, 1], 4 if quick else 100, 1 if quick else 10)]
    for dtype in (torch.float64, torch.float32):
        for widths, B, few in cases:
            g = torch.Generator().manual_seed(0)
            net = MLP(widths, "relu", parameterization="ntk")
            theta = net.init(B, generator=g, dtype=dtype, C_W=2.0, C_b=0.1)
            X = torch.randn(N, widths[0], generator=g, dtype=dtype)
            th, x = theta.to(device), X.to(device)
            t_ours, t_ref = median_times(
                [lambda: hessian.ntk(net, th, x),
                 lambda: reference.hessian.ntk(net, th[:few], x)],
                device, repeats=2 if quick else 3, warmup=1)
            yield Result("ntk", f"empirical NTK mlp{widths} B={B} N={N}", device,
                         str(dtype).replace("torch.", ""),
                         {"widths": widths, "B": B, "N": N, "P": net.num_params},
                         t_ours, t_ref * B / few,
                         {"reference": "torch.func vmap(jacrev) + einsum" +
                          (f", timed on {few}, scaled x{B // few}" if few < B else "")})
