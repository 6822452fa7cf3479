"""Region-counter benchmarks: count_1d, count_2d and count_patterns vs the float64 references.

The references loop over networks in Python, so at full size they are timed on a subset of the
networks and scaled linearly in the number of networks (said in ``extra``). Networks are
He-initialised with bias_std = 0.5 so that their hyperplanes do not all pass through the origin.
"""
from __future__ import annotations

from typing import Iterator

import torch

from .. import MLP, reference
from .. import regions as R
from .harness import Result, compare, median_time

BIAS_STD = 0.5


def _case(name, ours, ref, B, B_ref, device, dtype, sizes, repeats):
    r = compare("regions", name, ours, None, device, dtype, sizes, repeats=repeats)
    r.reference_s = median_time(ref, "cpu", repeats=1, warmup=0) * B / B_ref
    r.extra.update({"networks_per_s": B / r.ours_s, "bias_std": BIAS_STD,
                    "reference_timed_on": f"{B_ref} of {B} networks, scaled linearly"})
    return r


def run(device: str, quick: bool) -> Iterator[Result]:
    dtype = torch.float64
    g = torch.Generator().manual_seed(0)
    repeats = 3 if quick else 5

    # count_1d: [2, 32, 32, 32, 1], one segment through the data domain [-1, 1]^2 (a diagonal).
    B = 1000 if quick else 10_000
    net = MLP([2, 32, 32, 32, 1])
    theta = net.init(B, generator=g, dtype=dtype, bias_std=BIAS_STD).to(device)
    a = torch.tensor([[-1.0, -1.0]], dtype=dtype, device=device)
    b = torch.tensor([[1.0, 1.0]], dtype=dtype, device=device)
    B_ref = 20 if quick else 50
    counts = R.count_1d(net, theta, a, b)
    r = _case("count_1d [2,32,32,32,1] 1 segment", lambda: R.count_1d(net, theta, a, b),
              lambda: reference.regions.count_1d(net, theta[:B_ref], a, b), B, B_ref, device,
              dtype, {"widths": net.widths, "B": B, "S": 1}, repeats)
    r.extra["mean_pieces"] = float(counts.double().mean())
    yield r

    # count_2d: [2, 16, 16, 1] on [-1, 1]^2.
    B = 100 if quick else 1000
    net = MLP([2, 16, 16, 1])
    theta = net.init(B, generator=g, dtype=dtype, bias_std=BIAS_STD).to(device)
    e = torch.eye(2, dtype=dtype, device=device)
    o = torch.zeros(2, dtype=dtype, device=device)
    B_ref = 2 if quick else 5
    counts = R.count_2d(net, theta, o, e[0], e[1])
    r = _case("count_2d [2,16,16,1] [-1,1]^2", lambda: R.count_2d(net, theta, o, e[0], e[1]),
              lambda: reference.regions.count_2d(net, theta[:B_ref], o, e[0], e[1]), B, B_ref,
              device, dtype, {"widths": net.widths, "B": B}, repeats)
    r.extra["mean_regions"] = float(counts.double().mean())
    yield r

    # count_patterns: B = 100 nets [2, 16, 16, 1], N = 100,000 samples in [-1, 1]^2.
    B, N = (20, 20_000) if quick else (100, 100_000)
    theta = theta[:B]
    X = (torch.rand(N, 2, generator=g, dtype=dtype) * 2 - 1).to(device)
    B_ref = B if quick else 20
    r = _case(f"count_patterns [2,16,16,1] N={N}", lambda: R.count_patterns(net, theta, X),
              lambda: reference.regions.count_patterns(net, theta[:B_ref], X), B, B_ref, device,
              dtype, {"widths": net.widths, "B": B, "N": N}, repeats)
    yield r
