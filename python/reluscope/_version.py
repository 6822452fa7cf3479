"""The package version (one place: the root package and reluscope.info read it).

A built package (pip, a wheel) carries ``_build_version.py``, written from the git tags at build
time (see pyproject's ``[tool.setuptools_scm]``). A source checkout used directly
(``PYTHONPATH=python``) has none and reports ``0+source``.
"""
try:
    from ._build_version import __version__
except ImportError:
    __version__ = "0+source"
