"""Singular learning theory for B models at once: SGLD chains localised at theta* (``sgld``) and
the local learning coefficient (``llc``), every step one fused gradient kernel call on all models
and chains together; ``theory``: exact learning coefficients to check them against."""
from .._langevin import LLCResult, SGLDResult, estimate
from .llc import llc
from .sgld import PRECONDITIONERS, sgld
from .theory import deep_linear_llc, deep_linear_problem, gaussian_llc, minimal_singular_llc

__all__ = ["LLCResult", "PRECONDITIONERS", "SGLDResult", "deep_linear_llc", "deep_linear_problem", "estimate",
           "gaussian_llc", "llc", "minimal_singular_llc", "sgld"]
