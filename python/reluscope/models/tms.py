"""``TMS``: the toy model of superposition with tied weights, y = relu(W^T W x + b), and its data
population as an exact weighted dataset (``tms_quadrature``).

Layout of a theta row: W (n_hidden x n_features, row-major) then b (n_features,) when ``bias``.
The second layer reads the same W block transposed, so the two layers' gradients add up in it.
"""
from __future__ import annotations

import numbers
from typing import Optional

import numpy as np
import torch

from ..data import Data
from .base import Layer, Model, activation_code, check_layer_widths

#: tms_quadrature refuses grids with more points than this.
QUADRATURE_MAX_POINTS = 2_000_000


class TMS(Model):
    """Toy model of superposition with tied weights: y = relu(W^T W x + b), W (n_hidden x n_features).

    theta (B, P) holds W row-major (n_hidden * n_features entries) then b (n_features,) if bias.
    """

    activation = "relu"
    slope = 0.01
    default_init = "lecun"

    def __init__(self, n_features: int, n_hidden: int, bias: bool = True):
        for name, v in (("n_features", n_features), ("n_hidden", n_hidden)):
            if isinstance(v, bool) or not isinstance(v, numbers.Real):
                raise TypeError(f"{name} must be an integer, got {type(v).__name__} {v!r}")
            if int(v) != v:
                raise ValueError(f"{name} must be an integer, got {v!r}")
        if n_features < 1 or n_hidden < 1:
            raise ValueError(f"n_features and n_hidden must be >= 1, got {n_features}, {n_hidden}")
        self.n_features = int(n_features)
        self.n_hidden = int(n_hidden)
        check_layer_widths([self.n_features, self.n_hidden], "n_features and n_hidden")
        self.bias = bool(bias)
        n, m = self.n_features, self.n_hidden
        self.layers = (Layer(0, -1, n, m, False, activation_code("identity")),
                       Layer(0, n * m if self.bias else -1, m, n, True, activation_code("relu")))

    def __repr__(self) -> str:
        return f"TMS(n_features={self.n_features}, n_hidden={self.n_hidden}, bias={self.bias})"

    def __eq__(self, other) -> bool:
        return isinstance(other, TMS) and (self.n_features, self.n_hidden, self.bias) == (
            other.n_features, other.n_hidden, other.bias)

    def __hash__(self) -> int:
        return hash(("TMS", self.n_features, self.n_hidden, self.bias))

    @property
    def num_params(self) -> int:
        return self.n_features * self.n_hidden + (self.n_features if self.bias else 0)

    def weight_blocks(self):
        blocks = [("weight", (self.n_hidden, self.n_features), self.n_features)]
        return blocks + ([("bias", (self.n_features,), self.n_hidden)] if self.bias else [])

    def unflatten(self, theta: torch.Tensor) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
        """theta (B, P) -> (W (B, n_hidden, n_features), b (B, n_features) or None), as views."""
        self.check_theta(theta)
        nm = self.n_features * self.n_hidden
        W = theta[:, :nm].unflatten(1, (self.n_hidden, self.n_features))
        return W, (theta[:, nm:] if self.bias else None)

    def flatten(self, W: torch.Tensor, b: Optional[torch.Tensor] = None) -> torch.Tensor:
        """(W (B, n_hidden, n_features), b (B, n_features)) -> theta (B, P)."""
        if W.dim() != 3 or tuple(W.shape[1:]) != (self.n_hidden, self.n_features):
            raise ValueError(f"W must be (B, {self.n_hidden}, {self.n_features}), got {tuple(W.shape)}")
        parts = [W.reshape(W.shape[0], self.n_hidden * self.n_features)]
        if self.bias:
            if b is None or tuple(b.shape) != (W.shape[0], self.n_features):
                raise ValueError(f"b must be (B, {self.n_features})")
            parts.append(b)
        return torch.cat(parts, dim=1)


def tms_quadrature(s: float, n_nodes: int = 16, dtype: torch.dtype = torch.float64,
                   n_features: int = 2, device="cpu", importance=None) -> Data:
    """The population of the toy model of superposition as a weighted quadrature dataset, the same
    for every theta: each of n_features features is 0 with probability s, else U[0, 1],
    independently; targets = inputs. ``importance`` (n_features,) >= 0, default all ones, weights
    feature i's squared error linearly, as in the TMS papers: L = E sum_i I_i (y_i - x_i)^2
    (``Data``'s importance; no factor 1/2).

    For every subset S of active features, a Gauss-Legendre tensor grid of n_nodes points per
    active feature on [0, 1]^|S| carries weight s^(n-|S|) (1-s)^|S| times the node weights, so
    sum_n w_n f(x_n) = E f(x) exactly for f polynomial of degree < 2 n_nodes in each active
    feature (x = 0 carries weight s^n). The TMS loss is such a polynomial only where no kink
    z_i(x) = 0 of y = relu(W^T W x + b) crosses the support: then loss, gradient and Hessian are
    exact. Where a kink crosses it (e.g. the antipodal points W = a (-1, 1), whose kink is the
    diagonal x_1 = x_2) the integrand is only piecewise polynomial and the sums are not exact
    (the transition s* of the seed comes out ~5e-4 off), and a grid node on the kink (the
    diagonal holds n_nodes of them) has no Hessian: the Hessian engine flags it
    (``hessian.kinks``, ``KinkWarning``). For two features, ``tms_population`` is exact at any
    theta and ``tms_population_hessian`` gives the population Hessian.
    """
    if isinstance(s, bool) or not isinstance(s, numbers.Real):
        raise TypeError(f"sparsity s must be a number, got {type(s).__name__}")
    if not 0 <= s <= 1:
        raise ValueError(f"sparsity s must be in [0, 1], got {s}")
    if n_nodes < 1 or n_features < 1:
        raise ValueError(f"n_nodes and n_features must be >= 1, got {n_nodes}, {n_features}")
    if (n_nodes + 1) ** n_features > QUADRATURE_MAX_POINTS:
        raise ValueError(f"{n_features} features with {n_nodes} nodes need "
                         f"{(n_nodes + 1) ** n_features} points; use fewer")
    nodes, node_w = np.polynomial.legendre.leggauss(n_nodes)
    nodes, node_w = (nodes + 1) / 2, node_w / 2
    xs, ws = [], []
    for mask in range(1 << n_features):
        active = [i for i in range(n_features) if mask >> i & 1]
        grids = np.meshgrid(*([nodes] * len(active)), indexing="ij")
        wgrid = np.ones(()) if not active else np.prod(np.meshgrid(*([node_w] * len(active)),
                                                                   indexing="ij"), axis=0)
        X = np.zeros((wgrid.size, n_features))
        for col, g in zip(active, grids):
            X[:, col] = g.ravel()
        xs.append(X)
        ws.append(wgrid.ravel() * s ** (n_features - len(active)) * (1 - s) ** len(active))
    X = torch.tensor(np.concatenate(xs), dtype=dtype, device=device)
    w = torch.tensor(np.concatenate(ws), dtype=dtype, device=device)
    return Data(X, X.clone(), weights=w, importance=importance)
