"""Exact sums over the hypercube {-1,+1}^n for batches of weight vectors w.

Vertex convention: vertex k in [0, 2^n) is the x with x_i = +1 iff bit i of k is set.

Weight families ``Uniform``, ``Product``, ``Ising``, ``Table`` (and ``Gaussian`` as the smooth
contrast); quantities ``f``, ``mass``, ``delta``, ``moments``; the localisation dynamics ``flow``;
the nonlinear Gaussian data model ``nonlinear_gaussian`` and ``f_monte_carlo``. Tie rule and
exactness guarantees: see ``reluscope.hypercube.sums``.
"""
from .data import f_monte_carlo, nonlinear_gaussian, nonlinear_gaussian_covariance
from .dynamics import FlowResult, f_gaussian, flow, ipr
from .sums import delta, f, mass, moments, tie_tolerance
from .weights import Gaussian, Ising, Product, Table, Uniform, vertices

__all__ = ["FlowResult", "Gaussian", "Ising", "Product", "Table", "Uniform", "delta", "f",
           "f_gaussian", "f_monte_carlo", "flow", "ipr", "mass", "moments", "nonlinear_gaussian",
           "nonlinear_gaussian_covariance", "tie_tolerance", "vertices"]
