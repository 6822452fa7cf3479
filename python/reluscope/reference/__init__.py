"""Pure-torch reference implementations. The tests compare every kernel with these; users can call
them by name, and every benchmark times them beside the kernels.

``forward(model, theta, X)``; ``hypercube.{f, mass, delta, moments}``;
``regions.{count_1d, count_2d, count_patterns}``.
"""
from . import hypercube, regions
from .forward import forward

__all__ = ["forward", "hypercube", "regions"]
