"""Pure-torch reference implementations. The tests compare every kernel with these; users can call
them by name, and every benchmark times them beside the kernels. Each function takes exactly the
arguments of the engine function of the same name:

``forward(model, theta, X)``; ``hessian.{loss, value_and_grad, hvp, gnvp, hessian,
gauss_newton}(model, theta, data[, V])``; ``hypercube.{f, mass, delta, moments}``;
``regions.{count_1d, count_2d, count_patterns}``; ``slt.{sgld, llc}``;
``certify.{enclose, critical_points}`` (mpmath interval arithmetic at high precision, not torch).
"""
from . import certify, hessian, hypercube, regions, slt
from .forward import forward, layer_moments

__all__ = ["certify", "forward", "hessian", "hypercube", "layer_moments", "regions", "slt"]
