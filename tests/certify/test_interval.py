"""reluscope.certify._interval: every enclosure contains the exact rational result (fractions),
on random matrices spanning many magnitudes, and the bounds are not absurdly loose."""
from fractions import Fraction

import pytest
import torch

from reluscope.certify import _interval as iv

F64 = torch.float64


def exact(M):
    return [[Fraction(x) for x in row] for row in M.tolist()]


def exact_matmul(A, B):
    return [[sum(a * b for a, b in zip(row, col)) for col in zip(*B)] for row in A]


def wild(n, m, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, m, generator=g, dtype=F64) * 10.0 ** torch.randint(-8, 9, (n, m),
                                                                            generator=g)


@pytest.mark.parametrize("seed", range(5))
def test_matmul_contains_the_exact_product(seed):
    A, B, Br = wild(6, 7, seed), wild(7, 5, seed + 100), wild(7, 5, seed + 200).abs() * 1e-3
    C, R = iv.matmul(A, B, Br)
    for Bx in (B, B + Br, B - Br):  # members of the interval matrix B ± Br
        P = exact_matmul(exact(A), exact(Bx))
        for i in range(6):
            for j in range(5):
                assert abs(P[i][j] - Fraction(C[i, j].item())) <= Fraction(R[i, j].item())
    # tight: the radius is |A| Br plus rounding, not much more
    assert (R <= 1.01 * (A.abs() @ Br) + 1e-12 * (A.abs() @ B.abs()) + 1e-300).all()


def test_rmatmul_and_identity_minus():
    A, Ar, B = wild(4, 4, 7), wild(4, 4, 8).abs() * 1e-6, wild(4, 4, 9)
    C, R = iv.rmatmul(A, Ar, B)
    P = exact_matmul(exact(A), exact(B))
    assert all(abs(P[i][j] - Fraction(C[i, j].item())) <= Fraction(R[i, j].item())
               for i in range(4) for j in range(4))
    D, Dr = iv.identity_minus(C, R)
    for i in range(4):
        for j in range(4):
            want = (1 if i == j else 0) - P[i][j]
            assert abs(want - Fraction(D[i, j].item())) <= Fraction(Dr[i, j].item())


def test_gershgorin_contains_the_eigenvalues():
    g = torch.Generator().manual_seed(3)
    for _ in range(20):
        A = torch.randn(5, 5, generator=g, dtype=F64)
        A = A + A.T
        R = torch.rand(5, 5, generator=g, dtype=F64) * 1e-3
        R = R + R.T
        lo, hi = iv.gershgorin(A, R)
        for _ in range(5):  # symmetric members of the interval matrix
            E = (torch.rand(5, 5, generator=g, dtype=F64) * 2 - 1) * R
            E = (E + E.T) / 2
            lam = torch.linalg.eigvalsh(A + E)
            assert lam.min() >= lo.min() and lam.max() <= hi.max()


def test_orthogonality_defect_bounds_the_exact_one():
    Q, _ = torch.linalg.qr(torch.randn(5, 5, generator=torch.Generator().manual_seed(1),
                                       dtype=F64))
    Q[0, 0] += 1e-9
    e = iv.orthogonality_defect(Q).item()
    Qx = exact(Q)
    G = exact_matmul([list(c) for c in zip(*Qx)], Qx)
    fro2 = sum((G[i][j] - (1 if i == j else 0)) ** 2 for i in range(5) for j in range(5))
    assert Fraction(e) ** 2 >= fro2
    assert e < 1e-8  # ~ 2 |q00| 1e-9 plus rounding


def test_bounds_round_trip_outward():
    lohi = torch.tensor([[1.0, 1.0 + 2 ** -52], [-3e-300, 5e-310], [-1.0, -1.0]], dtype=F64)
    c, r = iv.from_bounds(lohi)
    for k in range(3):
        lo, hi = (Fraction(x) for x in lohi[k].tolist())
        assert Fraction(c[k].item()) - Fraction(r[k].item()) <= lo
        assert Fraction(c[k].item()) + Fraction(r[k].item()) >= hi
    back = iv.to_bounds(c, r)
    assert (back[:, 0] <= lohi[:, 0]).all() and (back[:, 1] >= lohi[:, 1]).all()
