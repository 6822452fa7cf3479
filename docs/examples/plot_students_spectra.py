"""
Hessian spectra of 1000 students
================================

The smallest and largest Hessian eigenvalues of 1000 sigmoid students [2, 5, 1] of a sine
target after a short batched training run, from one batched operator.
"""
import matplotlib.pyplot as plt
import torch

import reluscope as rs
from reluscope import hessian

net = rs.MLP([2, 5, 1], "sigmoid")
theta = net.init(1000, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
X = torch.rand(400, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(1)) * 2 - 1
data = rs.Data(X, torch.sin(2 * X[:, :1]))
theta, _ = hessian.fit(net, theta, data, steps=300, progress=False)
H = hessian.Hessian(net, theta, data)
lo = hessian.extreme_eigs(H, k=1, which="smallest").values[:, 0]
hi = hessian.extreme_eigs(H, k=1, which="largest").values[:, 0]

fig, ax = plt.subplots(figsize=(6, 4))
ax.scatter(hi, lo, s=4)
ax.set_xlabel("largest Hessian eigenvalue")
ax.set_ylabel("smallest Hessian eigenvalue")
ax.axhline(0, color="0.5", lw=0.8)
ax.set_title("1000 students after 300 Adam steps")
fig.tight_layout()
