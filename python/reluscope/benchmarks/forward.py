"""Forward-pass benchmarks: kernel vs the torch reference, and the per-call overhead."""
from __future__ import annotations

from typing import Iterator

import torch

from .. import MLP, forward, reference
from .._ext import _core
from .harness import Result, compare, median_time
from .roofline import annotate, hess_flops


def run(device: str, quick: bool) -> Iterator[Result]:
    n_grid = 1681
    cases = [([2, 5, 1], 1000), ([16, 64, 64, 1], 100)]
    for dtype in (torch.float64, torch.float32):
        for widths, B in cases:
            g = torch.Generator().manual_seed(0)
            net = MLP(widths, "relu")
            theta = net.init(B, generator=g, dtype=dtype, bias_std=0.1).to(device)
            X = torch.randn(n_grid, widths[0], generator=g, dtype=dtype).to(device)
            yield annotate(compare("forward", f"mlp{widths} B={B} N={n_grid}",
                                   lambda: forward(net, theta, X),
                                   lambda: reference.forward(net, theta, X), device, dtype,
                                   {"widths": widths, "B": B, "N": n_grid},
                                   repeats=3 if quick else 7),
                           hess_flops(net, "loss", n_grid, B), dtype, net, B * n_grid,
                           derivatives=False)
    yield _overhead(device)


def _overhead(device: str) -> Result:
    """Per-call cost on a tiny input (B=1, N=1): the public call, the bare extension call with
    preallocated tensors, and the reference. public - bare = what the Python layer adds."""
    net = MLP([2, 5, 1])
    theta = net.init(1).to(device)
    X = torch.randn(1, 2).to(device)
    out = torch.empty(1, 1, 1, device=device)
    spec = net.spec
    inner = 2000 if device == "cpu" else 200
    bare = median_time(lambda: _core.forward(spec, theta, X, out), "cpu", inner=inner) \
        if device == "cpu" else None
    r = compare("forward", "per-call overhead B=1 N=1", lambda: forward(net, theta, X),
                lambda: reference.forward(net, theta, X), device, torch.float32,
                {"widths": [2, 5, 1], "B": 1, "N": 1}, inner=inner)
    if bare is not None:
        r.extra["bare_extension_us"] = bare * 1e6
        r.extra["python_layer_us"] = (r.ours_s - bare) * 1e6
    r.extra["public_call_us"] = r.ours_s * 1e6
    return r
