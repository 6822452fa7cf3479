"""Exact linear-region counts of many piecewise-linear networks at once.

For an ``MLP`` with activation relu, leaky_relu or identity and a batch theta (B, P), calls of
the form (model, theta, inputs..., *, options):

* ``segments``: ``count_1d`` — pieces of each network along each segment [a_s, b_s] (exact);
  ``breakpoints_1d`` — the same with the breakpoints;
* ``slices``: ``count_2d`` — regions of each network on a rectangle of a 2-D slice (exact, polygon
  cutting); ``polygons_2d`` — the same with the regions as polygons;
* ``patterns``: ``count_patterns`` — distinct activation patterns among N samples (a lower bound);
  ``activation_words`` — the packed patterns;
* ``bounds``: Zaslavsky, Serra et al. and 2^N / 3^N upper bounds;
* ``constructions``: ``sawtooth`` — Telgarsky's sawtooth network with exactly 2^L pieces on [0, 1].

Every counter decides signs and crossings in float64, whatever the input dtype (float32 inputs are
converted exactly), so a count does not depend on the dtype the caller had; breakpoints and
vertices come back in the input dtype.

Tolerance rule (both counters; eps = machine epsilon of float64): a pre-activation within
64 eps (|b_j| + sum_i |W_ji| max|a|) of zero counts as exactly zero, so a neuron that only touches
zero, whose zero falls on an existing breakpoint / vertex, or whose hyperplane coincides with an
earlier one adds no region; zeros closer than 64 eps in t merge (1-D); pieces of area
<= eps^2 * rectangle area are dropped as slivers (2-D). Activation patterns are evaluated at piece
midpoints / polygon vertex averages (bit set iff z > 0). ``merge="linear"`` merges neighbouring
pieces whose output slopes g1, g2 agree: |g1 - g2| <= sqrt(eps) (max|g| + y_max (1/len1 + 1/len2)).
"""
from . import bounds
from .constructions import sawtooth
from .patterns import activation_words, count_patterns, unpack_patterns
from .segments import MERGES, Breakpoints, breakpoints_1d, count_1d
from .slices import Polygons, count_2d, polygons_2d

__all__ = ["Breakpoints", "MERGES", "Polygons", "activation_words", "bounds", "breakpoints_1d",
           "count_1d", "count_2d", "count_patterns", "polygons_2d", "sawtooth", "unpack_patterns"]
