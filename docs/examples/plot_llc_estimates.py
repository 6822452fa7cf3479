"""
Local learning coefficients of many models at once
==================================================

SGLD estimates of the LLC of 200 linear regressions y = <theta, x> at their least-squares
solution, against the exact localised value of a quadratic loss (``slt.gaussian_llc``); mean and
standard error over 4 chains per model.
"""
import matplotlib.pyplot as plt
import torch

import reluscope as rs
from reluscope import slt

gen = torch.Generator().manual_seed(0)
d, N, B = 4, 500, 200
net = rs.MLP([d, 1], "identity", bias=False)
scale = torch.linspace(0.3, 2, B, dtype=torch.float64)[:, None, None]   # a range of curvatures
X = torch.randn(B, N, d, dtype=torch.float64, generator=gen) * scale
w_true = torch.randn(B, d, dtype=torch.float64, generator=gen)
Y = (X @ w_true[..., None]) + 0.1 * torch.randn(B, N, 1, dtype=torch.float64, generator=gen)
star = torch.linalg.lstsq(X, Y).solution[..., 0]
data = rs.Data(X, Y)
n_beta, gamma = float(N), 100.0
r = slt.llc(net, star, data, chains=4, draws=400, burn_in=200, step_size=1e-4, n_beta=n_beta,
            gamma=gamma, generator=gen)
H = 2 * X.mT @ X / N     # the Hessian of the mse loss, mean over samples of (y - t)^2
exact = slt.gaussian_llc(torch.linalg.eigvalsh(H), n_beta, gamma, step_size=1e-4)
se = r.chain_llc.std(1) / r.chain_llc.shape[1] ** 0.5

fig, ax = plt.subplots(figsize=(5, 5))
ax.errorbar(exact, r.llc, yerr=se, fmt=".", alpha=0.6)
lims = [float(exact.min()) * 0.95, float(exact.max()) * 1.05]
ax.plot(lims, lims, "k-", lw=0.8)
ax.set_xlabel("exact localised LLC")
ax.set_ylabel("SGLD estimate")
fig.tight_layout()
