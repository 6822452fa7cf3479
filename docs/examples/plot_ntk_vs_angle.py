"""
Empirical NTKs against the infinite-width kernel
================================================

The empirical NTK Theta(x, x') of 200 two-layer ReLU networks of width 512 in the NTK
parameterisation, for unit inputs at angles 0..pi apart: mean and spread over the networks,
against the arc-cosine limit (``theory.relu_kernels``).
"""
import math

import matplotlib.pyplot as plt
import torch

import reluscope as rs
from reluscope import hessian, theory

angles = torch.linspace(0, math.pi, 16, dtype=torch.float64)
X = torch.stack([torch.cos(angles), torch.sin(angles)], 1)
net = rs.MLP([2, 512, 1], "relu", parameterization="ntk")
theta = net.init(200, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
emp = hessian.ntk(net, theta, X[:1], X, trace=True)[:, 0, :]          # (200, 16)
_, limit = theory.relu_kernels(X[:1], X, depth=2)

fig, ax = plt.subplots(figsize=(6, 4))
ax.errorbar(angles, emp.mean(0), yerr=emp.std(0), fmt="o", label="empirical, mean +- SD (200 nets)")
ax.plot(angles, limit[0], "k-", label="infinite width")
ax.set_xlabel("angle between x and x'")
ax.set_ylabel("Theta(x, x')")
ax.legend()
fig.tight_layout()
