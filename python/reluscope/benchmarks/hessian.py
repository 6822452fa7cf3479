"""Hessian-engine benchmarks, kernel vs the torch.func reference in the same run:
(a) one HVP per model, B=1000 students [2,5,1] on the 1681-point grid; (b) their full Hessians;
(c) B=100 [16,64,64,1] relu, K=8 HVPs per model; (d) TMS n=20, m=5, B=1000, N=4096, one HVP per
model; (e) "train then classify": extreme_eigs k=1 on (a); (f) value_and_grad on (a)'s networks.
(a)-(d) and (f) carry the roofline columns (``roofline``: achieved GFLOP/s and % of the measured
peak). ``quick``: every B ten times smaller (the case names say the B used) and 3 repeats instead
of 5: 2.8 min instead of 17.5 min on this project's 2-core CPU shared with other jobs (load ~6;
the torch.func references of (c) and (d) take most of it)."""
from __future__ import annotations

from typing import Iterator

import torch

from .. import MLP, TMS, Data
from .. import hessian as H
from ..reference import hessian as R
from .harness import Result, compare
from .roofline import annotate, hess_flops


def _grid(dtype, device):
    g = torch.linspace(-5, 5, 41, dtype=dtype)
    return torch.cartesian_prod(g, g).to(device)


def run(device: str, quick: bool) -> Iterator[Result]:
    reps, scale = (3, 10) if quick else (5, 1)
    g = torch.Generator().manual_seed(0)
    for dtype in (torch.float64, torch.float32):
        X = _grid(dtype, device)
        for act in ("sigmoid", "relu"):
            net = MLP([2, 5, 1], act)
            B = 1000 // scale
            theta = net.init(B, generator=g, dtype=dtype, bias_std=0.1).to(device)
            T = torch.randn(X.shape[0], 1, generator=g, dtype=dtype).to(device)
            data = Data(X, T)
            V = torch.randn(B, net.num_params, generator=g, dtype=dtype).to(device)
            sizes = {"widths": [2, 5, 1], "act": act, "B": B, "N": X.shape[0]}
            N = X.shape[0]
            yield annotate(compare("hessian", f"(a) hvp {act} [2,5,1] B={B} N=1681",
                                   lambda: H.hvp(net, theta, data, V),
                                   lambda: R.hvp(net, theta, data, V), device, dtype, sizes,
                                   repeats=reps), hess_flops(net, "hvp", N, B, 1), dtype,
                           net, B * N)
            yield annotate(compare("hessian", f"(f) value_and_grad {act} [2,5,1] B={B} N=1681",
                                   lambda: H.value_and_grad(net, theta, data),
                                   lambda: R.value_and_grad(net, theta, data), device, dtype,
                                   sizes, repeats=reps), hess_flops(net, "grad", N, B), dtype,
                           net, B * N)
            # the reference full Hessian materialises (B, P, N, 5) tangents: time it on B/10
            # models and scale by 10 (it is linear in B), said so in extra
            sub = theta[:B // 10]
            r = compare("hessian", f"(b) hessian {act} [2,5,1] B={B} N=1681",
                        lambda: H.hessian(net, theta, data),
                        lambda: R.hessian(net, sub, data), device, dtype, sizes, repeats=reps,
                        extra={"reference": f"timed on B={B // 10}, x10"})
            r.reference_s *= 10
            yield annotate(r, hess_flops(net, "hvp", N, B, units=True), dtype, net, B * N)
            if act == "sigmoid":
                yield compare("hessian", f"(e) extreme_eigs k=1 [2,5,1] B={B}",
                              lambda: H.extreme_eigs(H.Hessian(net, theta, data), k=1),
                              lambda: torch.linalg.eigvalsh(R.hessian(net, sub, data)),
                              device, dtype, sizes, repeats=reps,
                              extra={"reference": "eigvalsh(torch.func hessian) on "
                                                  f"B={B // 10}, not scaled"})
        widths = [16, 64, 64, 1]
        net = MLP(widths, "relu")
        B, K, N = 100 // scale, 8, 1681
        theta = net.init(B, generator=g, dtype=dtype, bias_std=0.1).to(device)
        Xc = torch.randn(N, 16, generator=g, dtype=dtype).to(device)
        Tc = torch.randn(N, 1, generator=g, dtype=dtype).to(device)
        data = Data(Xc, Tc)
        V = torch.randn(B, K, net.num_params, generator=g, dtype=dtype).to(device)
        r = compare("hessian", f"(c) hvp K=8 relu [16,64,64,1] B={B} N=1681",
                    lambda: H.hvp(net, theta, data, V), lambda: R.hvp(net, theta, data, V),
                    device, dtype, {"widths": widths, "B": B, "N": N, "K": K}, repeats=reps)
        yield annotate(r, hess_flops(net, "hvp", N, B, K), dtype, net, B * N)
        tms = TMS(20, 5)
        B, N = 1000 // scale, 4096
        theta = tms.init(B, generator=g, dtype=dtype).to(device)
        Xt = (torch.rand(N, 20, generator=g, dtype=dtype) *
              (torch.rand(N, 20, generator=g, dtype=dtype) > 0.9)).to(device)
        data = Data(Xt, Xt)
        V = torch.randn(B, tms.num_params, generator=g, dtype=dtype).to(device)
        yield annotate(compare("hessian", f"(d) hvp TMS n=20 m=5 B={B} N=4096",
                               lambda: H.hvp(tms, theta, data, V),
                               lambda: R.hvp(tms, theta, data, V), device, dtype,
                               {"n": 20, "m": 5, "B": B, "N": N}, repeats=reps),
                       hess_flops(tms, "hvp", N, B, 1), dtype, tms, B * N)
