"""
f(w) on the hypercube
=====================

The exact sum f(w) = sum_x p(x) 1(<w, x> >= 0) x over {-1, 1}^n (n = 14, uniform weights) for w
turning in the plane of the first two coordinates, the rest fixed: its first two coordinates
and its component along w.
"""
import math

import matplotlib.pyplot as plt
import torch

from reluscope import hypercube as hc

n = 14
angles = torch.linspace(0, math.pi / 2, 200, dtype=torch.float64)
w = torch.full((200, n), 0.3, dtype=torch.float64)
w[:, 0], w[:, 1] = torch.cos(angles), torch.sin(angles)
f = hc.f(w, hc.Uniform(n))
along = (f * w).sum(1) / w.norm(dim=1)

fig, ax = plt.subplots(figsize=(6, 4))
ax.plot(angles, f[:, 0], label="f_1")
ax.plot(angles, f[:, 1], label="f_2")
ax.plot(angles, along, label="<f, w> / |w|")
ax.set_xlabel("angle of (w_1, w_2)")
ax.legend()
fig.tight_layout()
