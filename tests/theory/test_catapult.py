"""reluscope.theory.catapult: the uv model's closed (f, lambda) map against GD on u and v written
out in torch (autograd gradients), its phases, and the large-width phase rule."""
import math

import pytest
import torch

from reluscope import theory
from reluscope.theory import catapult

f64 = torch.float64


@pytest.mark.parametrize("c", [0.7, 1.9, 2.5, 3.5, 4.5])
def test_map_equals_gd_on_u_and_v(c):
    """Iterating uv_step is GD on the 2n parameters: f and lambda agree step by step."""
    n, steps = 64, 25
    g = torch.Generator().manual_seed(int(10 * c))
    u, v = torch.randn(n, generator=g, dtype=f64), torch.randn(n, generator=g, dtype=f64)
    lam = (u @ u + v @ v) / n
    eta = c / lam
    f_map, lam_map = catapult.uv_dynamics((u @ v)[None] / math.sqrt(n), lam[None], eta[None],
                                          n, steps)
    for t in range(steps + 1):
        f = u @ v / math.sqrt(n)
        assert abs(f - f_map[0, t]) <= 1e-9 * max(1.0, abs(float(f)))
        assert abs((u @ u + v @ v) / n - lam_map[0, t]) <= 1e-9 * float(lam_map[0, t])
        if abs(float(f)) > 1e6:
            break
        w = torch.cat([u, v]).requires_grad_()
        loss = 0.5 * (w[:n] @ w[n:] / math.sqrt(n)) ** 2
        (grad,) = torch.autograd.grad(loss, w)
        u, v = (w - eta * grad).detach().split(n)


def test_phases_of_the_map_at_large_width():
    """n = 10^6, f_0 = 1: lazy below 2 (lambda moves by O(1/n)), catapult between 2 and 4 (the
    loss rises by a factor of order n, then lambda ends below 2 / eta), divergence above 4."""
    n = 10 ** 6
    c = torch.tensor([0.5, 1.5, 1.95, 2.05, 3.0, 3.9, 4.1, 5.0], dtype=f64)
    lam0 = torch.full_like(c, 2.0)
    f, lam = catapult.uv_dynamics(torch.ones_like(c), lam0, c / lam0, n, 3000)
    for i, ci in enumerate(c.tolist()):
        phase = theory.uv_phase(ci)
        peak = float(f[i].abs().nan_to_num(math.inf).max())
        if phase == "lazy":
            assert peak == 1.0 and abs(float(lam[i, -1]) / 2 - 1) < 1e-4
        elif phase == "catapult":
            assert peak ** 2 > 1e3 and abs(float(f[i, -1])) < 1e-6
            assert c[i] / 2 * lam[i, -1] < 2
        else:
            assert not math.isfinite(float(f[i, -1]))


def test_phase_rule():
    assert [theory.uv_phase(c) for c in (1.0, 2.0, 3.0, 4.0, 5.0)] == \
        ["lazy", "boundary", "catapult", "boundary", "divergent"]
    for bad in (0.0, -1.0, math.inf, math.nan):
        with pytest.raises(ValueError, match="positive and finite"):
            theory.uv_phase(bad)
