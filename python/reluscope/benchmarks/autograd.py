"""reluscope inside torch's autograd, each case beside torch.func doing the same thing on the
reference loss, in the same run: (f) the gradient by ``hessian.loss(...).sum().backward()``
(its cost / ``value_and_grad``'s in extra, target <= 1); (g) Hessian-vector products by double
backward through ``hessian.loss`` (``autograd.grad(create_graph=True)`` then a backward; cost /
``hvp``'s in extra, target <= 1.5, and the second backward alone / ``hvp``); (h) ``hvp`` for a cross-entropy classifier. B=1000 networks,
the 1681-point grid."""
from __future__ import annotations

from typing import Iterator

import torch

from .. import MLP, Data
from .. import hessian as H
from ..reference import hessian as R
from .harness import Result, median_times


def _grid(dtype, device):
    g = torch.linspace(-5, 5, 41, dtype=dtype)
    return torch.cartesian_prod(g, g).to(device)


def _backward_grad(net, theta, data):
    t = theta.detach().requires_grad_()
    H.loss(net, t, data).sum().backward()
    return t.grad


def _double_backward_hvp(net, theta, data, V):
    t = theta.detach().requires_grad_()
    g, = torch.autograd.grad(H.loss(net, t, data).sum(), t, create_graph=True)
    hv, = torch.autograd.grad(g, t, V)
    return hv


def _second_backward(net, theta, data, V):
    """The graph of the gradient, built once, and a function timing only its backward."""
    t = theta.detach().requires_grad_()
    g, = torch.autograd.grad(H.loss(net, t, data).sum(), t, create_graph=True)
    return lambda: torch.autograd.grad(g, t, V, retain_graph=True)


def _torch_func_grad(net, theta, data):
    return torch.func.grad(lambda t: R.loss(net, t, data).sum())(theta)


def _torch_func_double_backward_hvp(net, theta, data, V):
    _, vjp = torch.func.vjp(torch.func.grad(lambda t: R.loss(net, t, data).sum()), theta)
    return vjp(V)[0]


def _case(name, ours, fused, reference, fused_name, device, dtype, sizes, reps) -> Result:
    t_ours, t_fused, t_ref = median_times([ours, fused, reference], device, repeats=reps)
    return Result("autograd", name, device, str(dtype).replace("torch.", ""), sizes, t_ours,
                  t_ref, {f"/ {fused_name}": t_ours / t_fused})


def run(device: str, quick: bool) -> Iterator[Result]:
    reps = 3 if quick else 5
    g = torch.Generator().manual_seed(0)
    B = 1000
    for dtype in (torch.float64, torch.float32):
        X = _grid(dtype, device)
        for act in ("sigmoid", "relu"):
            net = MLP([2, 5, 1], act)
            theta = net.init(B, generator=g, dtype=dtype, bias_std=0.1).to(device)
            data = Data(X, torch.randn(X.shape[0], generator=g, dtype=dtype).to(device))
            V = torch.randn(B, net.num_params, generator=g, dtype=dtype).to(device)
            sizes = {"widths": [2, 5, 1], "act": act, "B": B, "N": X.shape[0]}
            yield _case(
                f"(f) loss backward {act} [2,5,1]", lambda: _backward_grad(net, theta, data),
                lambda: H.value_and_grad(net, theta, data),
                lambda: _torch_func_grad(net, theta, data), "value_and_grad", device, dtype,
                sizes, reps)
            r = _case(f"(g) double-backward hvp {act} [2,5,1]",
                      lambda: _double_backward_hvp(net, theta, data, V),
                      lambda: H.hvp(net, theta, data, V),
                      lambda: _torch_func_double_backward_hvp(net, theta, data, V), "hvp", device,
                      dtype, sizes, reps)
            second, hvp = median_times([_second_backward(net, theta, data, V),
                                        lambda: H.hvp(net, theta, data, V)], device, repeats=reps)
            r.extra["second backward alone / hvp"] = second / hvp
            yield r
        net = MLP([2, 16, 3], "tanh")
        theta = net.init(B, generator=g, dtype=dtype).to(device)
        labels = torch.randint(0, 3, (X.shape[0],), generator=g).to(device)
        data = Data(X, labels, loss="cross_entropy")
        V = torch.randn(B, net.num_params, generator=g, dtype=dtype).to(device)
        t_ours, t_ref = median_times([lambda: H.hvp(net, theta, data, V),
                                      lambda: R.hvp(net, theta, data, V)], device, repeats=reps)
        yield Result("autograd", "(h) hvp cross_entropy tanh [2,16,3]", device,
                     str(dtype).replace("torch.", ""),
                     {"widths": [2, 16, 3], "B": B, "N": X.shape[0]}, t_ours, t_ref)
