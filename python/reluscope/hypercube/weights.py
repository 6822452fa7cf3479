"""Weight families p(x) on the hypercube {-1,+1}^n: ``Uniform``, ``Product``, ``Ising``, ``Table``.

Pure descriptions (parameters, probabilities by enumeration, the product-form halves meet in the
middle reads); the tables the compiled sweeps read are built in ``reluscope.hypercube._sweeps``.
Vertex k in [0, 2^n) is the x with x_i = +1 iff bit i of k is set (``vertices``).
"""
from __future__ import annotations

import math
from typing import Optional

import torch

from .._validate import check_finite
from .vertices import subset_products, vertices

__all__ = ["Ising", "Product", "Table", "Uniform", "Weights"]

#: 2^30 explicit weights (8 GiB in float64) is the most a Table may hold.
TABLE_MAX_N = 30


def _real_tensor(x, name: str) -> torch.Tensor:
    """x as a real float64 tensor (CPU); TypeError for complex or boolean values."""
    x = torch.as_tensor(x)
    if x.is_complex() or x.dtype == torch.bool:
        raise TypeError(f"{name} must hold real numbers, got {x.dtype}")
    return x.detach().to(device="cpu", dtype=torch.float64)


class Weights:
    """Base of the weight families: n, symmetric (p(x) = p(-x)), product form."""

    n: int
    symmetric: bool = True
    #: p(x) = prod_i p_i(x_i): meet in the middle applies.
    product_form: bool = False

    def param(self, t: torch.Tensor, dtype, device) -> torch.Tensor:
        """A parameter tensor of the family in the dtype and on the device of a call."""
        return t.to(dtype=dtype, device=device).contiguous()

    def half_probabilities(self, hA: int, dtype, device) -> tuple[torch.Tensor, torch.Tensor]:
        """(2^hA,), (2^(n-hA),): p(x_A), p(x_B) with p(x) = p(x_A) p(x_B) (product weights)."""
        raise ValueError(f"{type(self).__name__} weights are not a product over coordinates: "
                         "meet in the middle needs Uniform or Product weights; use method='brute'")

    def coordinate_q(self, dtype, device) -> torch.Tensor:
        """(n,) q_i = P(x_i = +1) of product weights (the compiled meet in the middle reads it)."""
        return self.half_probabilities(1, dtype, device)  # raises for non-product families

    def probabilities(self, dtype=torch.float64, device=None) -> torch.Tensor:
        """All 2^n probabilities p(vertex k), by direct enumeration (for references and moments)."""
        raise NotImplementedError


class Uniform(Weights):
    """p(x) = 2^-n on {-1,+1}^n."""

    product_form = True

    def __init__(self, n: int):
        if int(n) != n or n < 1:
            raise ValueError(f"n must be a positive integer, got {n}")
        self.n = int(n)

    def half_probabilities(self, hA, dtype, device):
        return (torch.full((1 << hA,), 2.0 ** -hA, dtype=dtype, device=device),
                torch.full((1 << (self.n - hA),), 2.0 ** -(self.n - hA), dtype=dtype, device=device))

    def coordinate_q(self, dtype, device):
        return torch.full((self.n,), 0.5, dtype=dtype, device=device)

    def probabilities(self, dtype=torch.float64, device=None):
        return torch.full((1 << self.n,), 2.0 ** -self.n, dtype=dtype, device=device)

    def __repr__(self):
        return f"Uniform({self.n})"


class Product(Weights):
    """Independent coordinates: q (n,) with q_i = P(x_i = +1), 0 <= q_i <= 1."""

    product_form = True

    def __init__(self, q):
        q = _real_tensor(q, "q")
        if q.dim() != 1 or q.shape[0] < 1:
            raise ValueError(f"q must be a non-empty 1-D tensor, got shape {tuple(q.shape)}")
        if not bool(torch.isfinite(q).all()) or bool((q < 0).any()) or bool((q > 1).any()):
            raise ValueError("q must hold probabilities in [0, 1] (no NaN/inf)")
        self.q = q
        self.n = q.shape[0]
        self.symmetric = bool((self.q == 0.5).all())

    def half_probabilities(self, hA, dtype, device):
        q = self.param(self.q, dtype, device)
        return subset_products(q[:hA]).contiguous(), subset_products(q[hA:]).contiguous()

    def coordinate_q(self, dtype, device):
        return self.param(self.q, dtype, device)

    def probabilities(self, dtype=torch.float64, device=None):
        x = vertices(self.n, dtype, device)
        q = self.param(self.q, dtype, device)
        return torch.where(x > 0, q, 1 - q).prod(dim=1)

    def __repr__(self):
        return f"Product(n={self.n})"


class Ising(Weights):
    """p(x) ∝ exp(h·x + ½ xᵀJx), J (n, n) symmetric with zero diagonal, h (n,) (default 0).

    The normaliser log Z is computed by the same sweep as f (``reluscope.hypercube.log_partition``).
    """

    def __init__(self, J, h=None):
        J = _real_tensor(J, "J")
        if J.dim() != 2 or J.shape[0] != J.shape[1] or J.shape[0] < 1:
            raise ValueError(f"J must be a square (n, n) matrix, got shape {tuple(J.shape)}")
        check_finite(J, "J")
        if not torch.equal(J, J.T):
            raise ValueError("J must be symmetric")
        if bool((J.diagonal() != 0).any()):
            raise ValueError("J must have a zero diagonal")
        self.n = J.shape[0]
        self.J = J
        if h is None:
            self.h = torch.zeros(self.n, dtype=torch.float64)
        else:
            h = _real_tensor(h, "h")
            if h.shape != (self.n,):
                raise ValueError(f"h must have shape ({self.n},), got {tuple(h.shape)}")
            check_finite(h, "h")
            self.h = h
        self.symmetric = bool((self.h == 0).all())

    @classmethod
    def chain(cls, n: int, coupling: Optional[float] = None, circular: bool = True,
              correlation_length: Optional[float] = None, dtype=torch.float64) -> "Ising":
        """Translation-invariant nearest-neighbour chain p(x) ∝ exp(K Σ_i x_i x_{i+1}).

        Give the coupling K, or the correlation length ξ > 0 instead: K = atanh(exp(-1/ξ)). For the
        open chain <x_i x_{i+r}> = tanh(K)^r exactly, so ξ = -1/log tanh K is exact. The circular
        chain (bond n-1 -> 0 added) has <x_0 x_r> = (t^r + t^(n-r)) / (1 + t^n), t = tanh K, which is
        t^r up to O(t^(n-r)); the same map is used.
        """
        if (coupling is None) == (correlation_length is None):
            raise ValueError("give exactly one of coupling and correlation_length")
        if correlation_length is not None:
            if not correlation_length > 0 or math.isinf(correlation_length):
                raise ValueError(f"correlation_length must be finite and > 0, got {correlation_length}")
            coupling = math.atanh(math.exp(-1.0 / correlation_length))
        if not math.isfinite(coupling):
            raise ValueError(f"coupling must be finite, got {coupling}")
        J = torch.zeros(n, n, dtype=dtype)
        for i in range(n - 1 + (1 if circular and n > 2 else 0)):
            j = (i + 1) % n
            J[i, j] += coupling
            J[j, i] += coupling
        return cls(J)

    def probabilities(self, dtype=torch.float64, device=None):
        x = vertices(self.n, dtype, device)
        J = self.param(self.J, dtype, device)
        h = self.param(self.h, dtype, device)
        return torch.softmax(x @ h + 0.5 * ((x @ J) * x).sum(1), dim=0)

    def __repr__(self):
        return f"Ising(n={self.n})"


class Table(Weights):
    """Explicit weights p (2^n,), nonnegative, normalised internally; p[k] is vertex k's weight."""

    def __init__(self, p):
        p = _real_tensor(p, "p")
        if p.dim() != 1:
            raise ValueError(f"the table must be 1-D of length 2^n, got shape {tuple(p.shape)}")
        n = int(p.shape[0]).bit_length() - 1
        if n < 1 or p.shape[0] != 1 << n:
            raise ValueError(f"the table length must be 2^n with n >= 1, got {p.shape[0]}")
        if n > TABLE_MAX_N:
            raise ValueError(f"tables hold at most 2^{TABLE_MAX_N} weights, got 2^{n}")
        check_finite(p, "p")
        if bool((p < 0).any()):
            raise ValueError("table weights must be nonnegative")
        total = p.sum()
        if total <= 0:
            raise ValueError("table weights must not all be zero")
        self.n = n
        self.p = p / total
        self.symmetric = torch.equal(self.p, self.p.flip(0))

    @classmethod
    def from_samples(cls, X) -> "Table":
        """Empirical distribution of samples X (M, n) with entries ±1."""
        X = torch.as_tensor(X)
        if X.dim() != 2 or X.shape[0] < 1 or X.shape[1] < 1:
            raise ValueError(f"X must be (M, n) with M, n >= 1, got shape {tuple(X.shape)}")
        if X.shape[1] > TABLE_MAX_N:
            raise ValueError(f"from_samples supports n <= {TABLE_MAX_N}, got n={X.shape[1]}")
        if not bool(((X == 1) | (X == -1)).all()):
            raise ValueError("samples must have entries ±1")
        n = X.shape[1]
        k = ((X > 0).long() << torch.arange(n, device=X.device)).sum(1)
        return cls(torch.bincount(k.cpu(), minlength=1 << n).double())

    def probabilities(self, dtype=torch.float64, device=None):
        return self.p.to(dtype=dtype, device=device)

    def __repr__(self):
        return f"Table(n={self.n})"
