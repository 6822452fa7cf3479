"""Ours only, for the A/B of the Python redesign: per-call overhead of rs.forward on a tiny input,
and the hessian bench's (a) HVP and (b) full Hessian for 1000 [2,5,1] students (float64)."""
import json, sys, time, statistics
import torch
import reluscope as rs
from reluscope import hessian as H
Data = getattr(rs, "Data", None) or H.Data

def best(fn, inner, reps=15):
    fn()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        ts.append((time.perf_counter() - t0) / inner)
    return statistics.median(ts)

out = {}
net = rs.MLP([2, 5, 1]); th = net.init(1); X = torch.randn(1, 2)
out["forward_tiny_us"] = best(lambda: rs.forward(net, th, X), 3000) * 1e6
g = torch.linspace(-5, 5, 41, dtype=torch.float64); Xg = torch.cartesian_prod(g, g)
for act in ("sigmoid", "relu"):
    net = rs.MLP([2, 5, 1], act)
    gen = torch.Generator().manual_seed(0)
    theta = net.init(1000, generator=gen, dtype=torch.float64, bias_std=0.1)
    T = torch.randn(Xg.shape[0], 1, generator=gen, dtype=torch.float64)
    data = Data(Xg, T)
    V = torch.randn(1000, net.num_params, generator=gen, dtype=torch.float64)
    out[f"hvp_{act}_ms"] = best(lambda: H.hvp(net, theta, data, V), 3, 9) * 1e3
    out[f"hessian_{act}_ms"] = best(lambda: H.hessian(net, theta, data), 1, 7) * 1e3
    tiny, th1 = Data(Xg[:1], T[:1]), theta[:1].contiguous()
    out[f"loss_tiny_{act}_us"] = best(lambda: H.loss(net, th1, tiny), 2000) * 1e6
print(json.dumps(out))
