"""Pure-torch reference implementations. The tests compare every kernel with these; users can call
them by name, and every benchmark times them beside the kernels.

``forward(model, theta, X)``; ``hessian.{loss, value_and_grad, hvp, gnvp, hessian, ...}``; ``hypercube.{f, mass, delta, moments}``;
``regions.{count_1d, count_2d, count_patterns}``.
"""
from . import hessian, hypercube, regions
from .forward import forward

__all__ = ["forward", "hessian", "hypercube", "regions"]
