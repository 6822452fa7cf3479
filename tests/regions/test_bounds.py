"""reluscope.regions.bounds: Zaslavsky, Serra et al. and the trivial bounds."""
import pytest
import torch

from reluscope import regions
from reluscope.regions import bounds


def test_bounds():
    assert bounds.zaslavsky(2, 4) == 1 + 4 + 6
    assert bounds.serra([2, 4, 1]) == bounds.zaslavsky(2, 4)
    assert bounds.serra([1, 2, 2, 1]) <= bounds.trivial([1, 2, 2, 1]) == 16
    assert bounds.trivial([1, 2, 2, 1], ternary=True) == 81
    net, theta = regions.sawtooth(5)
    F64 = torch.float64
    count = int(regions.count_1d(net, theta, torch.zeros(1, 1, dtype=F64),
                                 torch.ones(1, 1, dtype=F64)))
    assert count <= bounds.serra(net.widths)
    with pytest.raises(ValueError):
        bounds.serra([3])
    with pytest.raises(ValueError):
        bounds.zaslavsky(-1, 2)


def test_bound_arguments_must_be_integers():
    """zaslavsky(2.5, 3) used to fail inside math.comb; serra and trivial truncated 2.5 to 2."""
    with pytest.raises(ValueError, match="n_in must be an integer, got 2.5"):
        bounds.zaslavsky(2.5, 3)
    with pytest.raises(TypeError, match="n_hidden must be an integer, got str"):
        bounds.zaslavsky(2, "3")
    with pytest.raises(TypeError, match="n_in must be an integer, got bool"):
        bounds.zaslavsky(True, 3)
    assert bounds.zaslavsky(2.0, 4) == bounds.zaslavsky(2, 4) == 11
    for bound in (bounds.serra, bounds.trivial):
        with pytest.raises(ValueError, match="widths must be integers"):
            bound([2, 2.5, 1])
