"""moments benchmark: ``layer_moments`` of B deep networks at input pairs beside the torch
reference (``reference.layer_moments``: every layer's pre-activations materialised, batched
matmuls) in the same run."""
from __future__ import annotations

from typing import Iterator

import torch

from .. import MLP, layer_moments, reference
from .harness import Result, compare


def run(device: str, quick: bool) -> Iterator[Result]:
    depth, width, B, pairs = (5, 64, 20, 8) if quick else (20, 128, 200, 32)
    g = torch.Generator().manual_seed(0)
    net = MLP([16] + [width] * depth + [1], "tanh")
    for dtype in (torch.float64, torch.float32):
        theta = net.init(B, generator=g, dtype=dtype).to(device)
        X = torch.randn(pairs, 16, generator=g, dtype=dtype).to(device)
        Y = torch.randn(pairs, 16, generator=g, dtype=dtype).to(device)
        yield compare("moments", f"layer_moments tanh [16, {width} x {depth}, 1] B={B} "
                      f"pairs={pairs}", lambda: layer_moments(net, theta, X, Y),
                      lambda: reference.layer_moments(net, theta, X, Y), device, dtype,
                      {"B": B, "pairs": pairs, "width": width, "depth": depth},
                      repeats=2 if quick else 5)
