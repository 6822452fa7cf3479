"""Exact theory to check measured quantities against.

``hessian_spectrum``: the Hessian at a critical point of energy eps as Marchenko-Pastur + Wigner,
freely added (Pennington & Bahri 2017): its density, edges, critical energy and fraction of negative
eigenvalues, and a sampler of the finite model. ``ntk``: the infinite-width NNGP and NTK of ReLU
MLPs in the NTK parameterisation (arc-cosine recursion) and the exact finite-width variance of a
two-layer network's NTK."""
from .hessian_spectrum import (critical_energy, critical_energy_from_edge, density,
                               negative_fraction, sample_hessian, spectrum_edges)
from .ntk import relu_kernels, relu_ntk_variance

__all__ = ["critical_energy", "critical_energy_from_edge", "density", "negative_fraction",
           "relu_kernels", "relu_ntk_variance", "sample_hessian", "spectrum_edges"]
