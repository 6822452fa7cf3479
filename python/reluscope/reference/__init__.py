"""Pure-torch reference implementations. The tests compare every kernel with these; users can call
them by name, and every benchmark times them beside the kernels."""
from .forward import forward

__all__ = ["forward", "regions"]
from . import regions
