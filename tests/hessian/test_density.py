"""reluscope.hessian.spectral_density: each probe's quadrature reproduces v^T A^p v / |v|^2
exactly for p < 2m (against the dense Hessian, float64), the nodes are the exact eigenvalues
once m = P, the density integrates to 1, errors."""
import math

import pytest
import torch

from reluscope import MLP, hessian
from tests.utils import random_problem

f64 = torch.float64


def problem():
    net = MLP([3, 6, 2], "tanh")
    theta, data = random_problem(net, 2, 20, f64)
    return net, theta, data


def test_quadrature_moments_are_exact_below_degree_2m():
    net, theta, data = problem()
    op = hessian.Hessian(net, theta, data)
    H = op.to_dense()
    m = 6
    r = hessian.spectral_density(op, probes=3, steps=m, generator=torch.Generator().manual_seed(0))
    assert r.nodes.shape == (2, 3, m) and r.probes.shape == (2, 3, net.num_params)
    torch.testing.assert_close(r.weights.sum(-1), torch.ones(2, 3, dtype=f64), rtol=1e-13, atol=0)
    scale = torch.linalg.matrix_norm(H, 2)
    for p in range(2 * m):
        quad = (r.weights * r.nodes ** p).sum(-1)                       # (B, K)
        Ap = torch.linalg.matrix_power(H, p)
        exact = torch.einsum("bkp,bpq,bkq->bk", r.probes, Ap, r.probes) / \
            (r.probes ** 2).sum(-1)
        assert ((quad - exact).abs() <= 1e-10 * scale[:, None] ** p).all(), p


def test_full_krylov_space_gives_the_exact_eigenvalues():
    """m = P: every node of each probe is an eigenvalue of the dense Hessian (to 1e-10 ||H||),
    and the density integrates to 1 on its default grid."""
    net, theta, data = problem()
    op = hessian.Hessian(net, theta, data)
    P = net.num_params
    r = hessian.spectral_density(op, probes=2, steps=P + 10,
                                 generator=torch.Generator().manual_seed(1))
    ev = torch.linalg.eigvalsh(op.to_dense())
    scale = ev.abs().amax(1)
    gap = (r.nodes[..., None] - ev[:, None, None, :]).abs().amin(-1)
    assert (gap <= 1e-10 * scale[:, None, None]).all()
    dx = r.grid[1] - r.grid[0]
    torch.testing.assert_close(r.density.sum(1) * dx, torch.ones(2, dtype=f64), rtol=1e-6, atol=0)


def test_errors():
    net, theta, data = problem()
    op = hessian.Hessian(net, theta, data)
    for kw, msg in [({"probes": 0}, "probes"), ({"steps": 1.5}, "steps"),
                    ({"sigma": -1.0}, "sigma"), ({"grid": torch.zeros(2, 2)}, "grid")]:
        with pytest.raises(ValueError, match=msg):
            hessian.spectral_density(op, **kw)
    with pytest.raises(TypeError):
        hessian.spectral_density(torch.eye(3))          # a tensor, not an operator
