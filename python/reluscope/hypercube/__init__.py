"""Exact sums over the hypercube {-1,+1}^n for batches of weight vectors w.

Vertex convention: vertex k in [0, 2^n) is the x with x_i = +1 iff bit i of k is set.

Layers, each importing only those above it in this list:
``vertices`` (the convention, subset tables) — ``weights`` (the families ``Uniform``, ``Product``,
``Ising``, ``Table``) — ``gaussian`` (``Gaussian`` data, the nonlinear Gaussian model, Monte Carlo
f) — ``_sweeps`` (the compiled sweeps; the only caller of the extension) — ``sums`` (``f``,
``mass``, ``delta``, ``moments``, ``log_partition``; tie rule and exactness) — ``dynamics``
(``flow``, ``ipr``).
"""
from .dynamics import FlowResult, flow, ipr
from .gaussian import (Gaussian, f_gaussian, f_monte_carlo, nonlinear_gaussian,
                       nonlinear_gaussian_covariance)
from .sums import METHODS, TIES, delta, f, log_partition, mass, moments, tie_tolerance
from .vertices import vertex_bits, vertices
from .weights import Ising, Product, Table, Uniform, Weights

__all__ = ["FlowResult", "Gaussian", "Ising", "METHODS", "Product", "TIES", "Table", "Uniform",
           "Weights", "delta", "f", "f_gaussian", "f_monte_carlo", "flow", "ipr", "log_partition",
           "mass", "moments", "nonlinear_gaussian", "nonlinear_gaussian_covariance",
           "tie_tolerance", "vertex_bits", "vertices"]
