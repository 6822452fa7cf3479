"""Microbenchmarks: every kernel timed beside its torch reference in the same run.

Each suite is a module here (``forward``, ``hessian``, ``autograd``, ``slt``, ``hypercube``,
``regions``, ``certify``, ``critical_points``, ``ntk``, ``gd``, ``moments``, ``cpu_sharing``)
with ``run(device, quick)`` yielding each ``Result`` as it is measured (the runner prints a line
per case); ``harness`` times and reports; ``runner`` has ``main``.
"""
from .runner import SUITES, add_arguments, main, run_suites

__all__ = ["SUITES", "add_arguments", "main", "run_suites"]
