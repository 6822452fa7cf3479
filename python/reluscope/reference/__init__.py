"""Pure-torch reference implementations. The tests compare every kernel with these; users can call
them by name, and every benchmark times them beside the kernels."""
from .forward import forward
from .hypercube import hypercube_delta, hypercube_f, hypercube_mass, hypercube_moments

__all__ = ["forward", "hypercube_delta", "hypercube_f", "hypercube_mass", "hypercube_moments"]
