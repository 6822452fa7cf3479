"""
Linear regions of random ReLU networks
======================================

Exact piece counts along a segment (``regions.count_1d``) for 1000 random ReLU networks of three
depths, beside Telgarsky's sawtooth, whose L tents make exactly 2^L pieces on [0, 1].
"""
import matplotlib.pyplot as plt
import torch

import reluscope as rs
from reluscope import regions

gen = torch.Generator().manual_seed(0)
a, b = -torch.ones(1, 2, dtype=torch.float64), torch.ones(1, 2, dtype=torch.float64)
fig, (ax, ax2) = plt.subplots(1, 2, figsize=(10, 4))
for depth in (1, 2, 4):
    net = rs.MLP([2] + [16] * depth + [1], "relu")
    theta = net.init(1000, dtype=torch.float64, generator=gen)
    counts = regions.count_1d(net, theta, a, b)[:, 0]
    ax.hist(counts.numpy(), bins=30, alpha=0.6,
            label=f"depth {depth}, mean {counts.double().mean():.1f}")
ax.set_xlabel("linear pieces on the segment [-1, 1]^2 diagonal")
ax.set_ylabel("networks")
ax.legend()

Ls = list(range(1, 11))
pieces = []
for L in Ls:
    net, theta = regions.sawtooth(L)
    pieces.append(int(regions.count_1d(net, theta, torch.zeros(1, 1, dtype=torch.float64),
                                       torch.ones(1, 1, dtype=torch.float64))[0, 0]))
ax2.semilogy(Ls, pieces, "o", label="count_1d")
ax2.semilogy(Ls, [2 ** L for L in Ls], "-", label="2^L")
ax2.set_xlabel("tents L")
ax2.set_ylabel("pieces on [0, 1]")
ax2.legend()
fig.tight_layout()
