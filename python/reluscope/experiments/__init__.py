"""The seeds' experiments, reproduced with reluscope's public API (``reluscope reproduce``).

One readable module per experiment (``tms``, ``teacher_student``, ``localization``, ``regions``);
each has ``run(ctx) -> None`` filling ``ctx.report`` (``report``); ``runner`` runs them.
"""
from .runner import EXPERIMENTS, Context, check_requirements, run

__all__ = ["Context", "EXPERIMENTS", "check_requirements", "run"]
