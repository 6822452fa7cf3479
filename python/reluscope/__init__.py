"""reluscope: batched Hessians, hypercube sums, linear-region counts and local learning
coefficients for thousands of small neural networks, with C++/CUDA kernels behind a torch API."""
from . import _fork  # noqa: F401 - registers the fork handler (reluscope/_fork.py)
from . import _vml_warmup  # noqa: F401 - torch's MKL math chosen once (reluscope/_vml_warmup.py)
from . import certify, hessian, hypercube, reference, regions, slt, theory
from .data import Data
from ._version import __version__
from .forward import forward
from .info import config, show_config
from .layer_stats import LayerMoments, layer_moments
from .hessian import tms_population_hessian
from .models import (ACTIVATIONS, KINKED, MLP, PIECEWISE_LINEAR, TMS, Model, tms_population,
                     tms_quadrature)

__all__ = ["ACTIVATIONS", "Data", "KINKED", "LayerMoments", "MLP", "Model", "PIECEWISE_LINEAR",
           "TMS", "__version__", "certify", "config", "forward", "hessian", "hypercube",
           "layer_moments", "reference",
           "regions", "show_config", "slt", "theory", "tms_population", "tms_population_hessian",
           "tms_quadrature"]
