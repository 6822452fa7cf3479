"""Exact theory to check measured quantities against.

``hessian_spectrum``: the Hessian at a critical point of energy eps as Marchenko-Pastur + Wigner,
freely added (Pennington & Bahri 2017): its density, edges, critical energy and fraction of negative
eigenvalues, and a sampler of the finite model. ``ntk``: the infinite-width NNGP and NTK of ReLU
MLPs in the NTK parameterisation (arc-cosine recursion) and the exact finite-width variance of a
two-layer network's NTK. ``criticality``: signal propagation at initialisation — the variance and
correlation maps for every activation, susceptibilities, fixed points, correlation length, tanh's
large-depth law at criticality, and ReLU's exact finite-width norm fluctuations."""
from .hessian_spectrum import (critical_energy, critical_energy_from_edge, density,
                               negative_fraction, sample_hessian, spectrum_edges)
from .criticality import (correlation_length, correlation_map, fixed_point, four_point_vertex,
                          relu_norm_ratio, susceptibilities, tanh_depth_law, variance_map)
from .catapult import uv_dynamics, uv_phase, uv_step
from .ntk import relu_kernels, relu_ntk_variance

__all__ = ["correlation_length", "correlation_map", "critical_energy", "critical_energy_from_edge",
           "density", "fixed_point", "four_point_vertex", "negative_fraction", "relu_kernels",
           "relu_norm_ratio", "relu_ntk_variance", "sample_hessian", "spectrum_edges",
           "susceptibilities", "tanh_depth_law", "uv_dynamics", "uv_phase", "uv_step",
           "variance_map"]
