"""Certified critical points: proofs, per network, that a box around theta-hat holds exactly one
critical point of the loss and whether it is a strict local minimum or a saddle, for B networks at
once (interval arithmetic with outward rounding; an interval math header behind the CPU and CUDA
launchers).

Modules: ``_types`` (verdicts, reasons, enclosures, certificates).
"""
from ._types import Certificate, Enclosure, Flag, Reason, Verdict

__all__ = ["Certificate", "Enclosure", "Flag", "Reason", "Verdict"]
