"""gd benchmark: ``hessian.gd`` with the sharpness every 10 steps on B networks of the
Edge-of-Stability code's tiny setting (a 1 -> 100 -> 1 tanh net on 20 points of [-1, 1] labelled
by a Chebyshev polynomial), beside two per-network loops timed on a few networks and scaled by
B / those:

- "eos-code": what the Edge-of-Stability code does — an nn.Sequential, autograd gradients, and at
  each record scipy's eigsh(k=1, which="LA") on a LinearOperator whose products are
  double-backprop HVPs (the loss recomputed per product, as its ``compute_hvp``); needs scipy
  (skipped, with a note, without it);
- "torch.func": ``reference.hessian.gd`` (torch.func gradients, eigvalsh of the torch.func
  Hessian), the tests' reference."""
from __future__ import annotations

from typing import Iterator

import torch

from .. import MLP, Data, hessian, reference
from .harness import Result, median_times

STEPS, EVERY, LR = 50, 10, 0.05


def run(device: str, quick: bool) -> Iterator[Result]:
    B, few = (20, 1) if quick else (1000, 3)
    net = MLP([1, 100, 1], "tanh")
    X = torch.linspace(-1, 1, 20, dtype=torch.float64)[:, None]
    Y = torch.cos(3 * torch.arccos(X))          # Chebyshev T_3
    data = Data(X, Y)
    theta = net.init(B, generator=torch.Generator().manual_seed(0), dtype=torch.float64,
                     scheme="lecun")
    data_dev = data.replace(device=device) if device != "cpu" else data
    theta_dev = theta.to(device)
    references = {"torch.func": lambda: reference.hessian.gd(
        net, theta[:few], data, lr=LR, steps=STEPS, every=EVERY)}
    try:
        import scipy.sparse.linalg  # noqa: F401
        references["eos-code"] = lambda: _eos_code_loop(net, theta[:few], X, Y)
    except ImportError:
        pass
    names = list(references)
    times = median_times([lambda: hessian.gd(net, theta_dev, data_dev, lr=LR, steps=STEPS,
                                             every=EVERY)] + [references[n] for n in names],
                         device, repeats=1, warmup=0)
    sizes = {"B": B, "N": 20, "P": net.num_params, "steps": STEPS, "every": EVERY}
    for name in ("eos-code", "torch.func"):
        what = {"eos-code": "nn.Sequential + scipy eigsh on double-backprop HVPs (the "
                            "Edge-of-Stability code's way)",
                "torch.func": "torch.func + eigvalsh (reference.hessian.gd)"}[name]
        extra = {"reference": f"{what} per network, timed on {few}, scaled x{B // few}"}
        if name not in references:
            extra["reference"] = "scipy not installed: the eos-code loop was not timed"
            yield Result("gd", f"GD {STEPS} steps, sharpness every {EVERY}, vs {name}", device,
                         "float64", sizes, times[0], None, extra)
            continue
        t_ref = times[1 + names.index(name)]
        yield Result("gd", f"GD {STEPS} steps, sharpness every {EVERY}, vs {name}", device,
                     "float64", sizes, times[0], t_ref * B / few, extra)


def _eos_code_loop(net: MLP, theta: torch.Tensor, X: torch.Tensor, Y: torch.Tensor) -> list:
    """Per network: GD on the mean squared error with autograd gradients, and every EVERY steps
    the top Hessian eigenvalue by scipy eigsh on double-backprop HVPs. Returns the sharpnesses."""
    import numpy as np
    from scipy.sparse.linalg import LinearOperator, eigsh

    out = []
    for model in net.to_modules(theta):
        params = list(model.parameters())
        P = sum(p.numel() for p in params)

        def loss():
            return ((model(X) - Y) ** 2).sum(1).mean()

        def hvp(v):
            grads = torch.autograd.grad(loss(), params, create_graph=True)
            flat = torch.cat([g.reshape(-1) for g in grads])
            v = torch.as_tensor(np.asarray(v).reshape(-1), dtype=flat.dtype)
            hv = torch.autograd.grad(flat @ v, params)
            return torch.cat([h.reshape(-1) for h in hv]).numpy()

        for step in range(STEPS + 1):
            if step % EVERY == 0 or step == STEPS:
                op = LinearOperator((P, P), matvec=hvp, dtype=np.float64)
                out.append(float(eigsh(op, k=1, which="LA", return_eigenvectors=False)[0]))
            if step == STEPS:
                break
            grads = torch.autograd.grad(loss(), params)
            with torch.no_grad():
                for p, g in zip(params, grads):
                    p -= LR * g
    return out
