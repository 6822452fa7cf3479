"""The one route from an architecture to the kernels' compiled description (``_core.NetSpec``):
the layer table flattened to ints (``Model.flat_layers``, also how a torch custom op receives a
model) is parsed and checked in C++, and each distinct table is compiled once, in one cache."""
from __future__ import annotations

import atexit
from typing import Sequence

from .._ext import _core

_SPECS: dict = {}
# The cache holds nanobind objects: emptied before the interpreter tears the extension down, so
# nanobind finds no live instance at exit.
atexit.register(_SPECS.clear)


def spec_of(flat_layers: Sequence[int], n_params: int, slope: float) -> _core.NetSpec:
    """The NetSpec of a flattened layer table (rows of ``_core.layer_fields`` ints), compiled
    once per (table, P, slope)."""
    key = (tuple(flat_layers), int(n_params), float(slope))
    spec = _SPECS.get(key)
    if spec is None:
        spec = _SPECS[key] = _core.NetSpec(list(key[0]), key[1], key[2])
    return spec
