"""reluscope: batched Hessians, hypercube sums and linear-region counts for thousands of small
neural networks, with C++/CUDA kernels behind a torch API."""
__version__ = "0.1.0"

from . import hessian, hypercube, reference, regions
from .forward import forward
from .info import config, show_config
from .models import ACTIVATIONS, MLP, PIECEWISE_LINEAR, TMS, Model

__all__ = ["ACTIVATIONS", "MLP", "Model", "PIECEWISE_LINEAR", "TMS", "config", "forward",
           "hessian", "hypercube", "reference", "regions", "show_config"]
