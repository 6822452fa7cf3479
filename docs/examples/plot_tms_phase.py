"""
The toy model of superposition's phase transition
=================================================

TMS(2, 1) without bias — two sparse features through one hidden dimension — trained from 64
random starts at each sparsity s (the population as a quadrature dataset, ``tms_quadrature``).
Below the transition the best networks keep both features at +-(1, 1)/sqrt 2 (the weights
have equal magnitudes); above it they store them antipodally, w_1 = -w_2. The dashed line is
the closed-form transition s* = (3 + 4 sqrt 14) / 43 of ``reluscope reproduce tms``.
"""
import math

import matplotlib.pyplot as plt
import torch

import reluscope as rs
from reluscope import hessian

net = rs.TMS(2, 1, bias=False)
gen = torch.Generator().manual_seed(0)
ss = [0.05 * k for k in range(20)]
best_loss, best_sum = [], []
for s in ss:
    theta = net.init(64, dtype=torch.float64, generator=gen)
    theta, _ = hessian.fit(net, theta, rs.tms_quadrature(s), steps=400, progress=False)
    loss = hessian.loss(net, theta, rs.tms_quadrature(s))
    best = loss.argmin()
    best_loss.append(float(loss[best]))
    best_sum.append(float(theta[best].sum().abs() / theta[best].abs().sum()))   # 1: same sign

fig, (ax, ax2) = plt.subplots(1, 2, figsize=(10, 4))
ax.plot(ss, best_loss, "o-")
ax.set_xlabel("sparsity s")
ax.set_ylabel("lowest loss of 64 runs")
ax2.plot(ss, best_sum, "o")
ax2.set_xlabel("sparsity s")
ax2.set_ylabel("|w1 + w2| / (|w1| + |w2|) of the best run")
for a in (ax, ax2):
    a.axvline((3 + 4 * math.sqrt(14)) / 43, color="0.5", ls="--")
fig.tight_layout()
