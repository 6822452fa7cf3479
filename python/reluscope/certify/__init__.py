"""Certified critical points: proofs, per network, that a box around theta-hat holds exactly one
critical point of the loss and whether it is a strict local minimum or a saddle, for B networks at
once (interval arithmetic with outward rounding; an interval math header behind the CPU and CUDA
launchers); and the structure of symmetry-induced global minima of two-layer students.

Modules: ``critical`` (``critical_points``: Krawczyk's test and the curvature tests, what is
proved), ``embedding`` (``split_neuron``: saddles of wider networks at the images of certified
critical points, where the Hessian is singular), ``_interval`` (rigorous midpoint-radius linear
algebra), ``structure`` (``teacher_match``), ``tms_population``
(``tms_population_critical_points``: the phase-transition talk's population loss, in closed form);
the result types (verdicts, reasons, enclosures, certificates) live in ``reluscope._certificate``,
shared with ``reference.certify``.
"""
from .._certificate import Certificate, Enclosure, Flag, Reason, Verdict
from .critical import critical_points
from .embedding import SplitCertificate, split_neuron
from .structure import TeacherMatch, teacher_match
from .tms_population import tms_population_critical_points

__all__ = ["Certificate", "Enclosure", "Flag", "Reason", "SplitCertificate", "TeacherMatch",
           "Verdict", "critical_points", "split_neuron", "teacher_match",
           "tms_population_critical_points"]
