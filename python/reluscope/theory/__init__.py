"""Exact random-matrix theory to check measured spectra against: ``hessian_spectrum``, the
Hessian at a critical point of energy eps as Marchenko-Pastur + Wigner, freely added (Pennington
& Bahri 2017): its density, edges, critical energy and fraction of negative eigenvalues, and a
sampler of the finite model."""
from .hessian_spectrum import (critical_energy, critical_energy_from_edge, density,
                               negative_fraction, sample_hessian, spectrum_edges)

__all__ = ["critical_energy", "critical_energy_from_edge", "density", "negative_fraction",
           "sample_hessian", "spectrum_edges"]
