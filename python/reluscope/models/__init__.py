"""Model descriptions shared by every engine: ``MLP`` and ``TMS`` (a batch of B networks of one
architecture is one tensor theta of shape (B, P)), the activations, and the TMS data population."""
from .base import ACTIVATIONS, KINKED, PIECEWISE_LINEAR, Layer, Model
from .mlp import MLP
from .tms import TMS, tms_quadrature
from .tms_population import tms_population

__all__ = ["ACTIVATIONS", "KINKED", "Layer", "MLP", "Model", "PIECEWISE_LINEAR", "TMS",
           "tms_population", "tms_quadrature"]
