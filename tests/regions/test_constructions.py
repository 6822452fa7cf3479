"""reluscope.regions.constructions: Telgarsky's sawtooth has exactly 2^L pieces."""
import pytest
import torch

from reluscope import reference
from reluscope import regions

F64 = torch.float64


@pytest.mark.parametrize("L", [1, 2, 3, 7, 12, 20])
def test_sawtooth_has_2_to_the_L_pieces(L):
    net, theta = regions.sawtooth(L, F64)
    a, b = torch.zeros(1, 1, dtype=F64), torch.ones(1, 1, dtype=F64)
    bp = regions.breakpoints_1d(net, theta, a, b)
    assert int(bp.counts) == 2 ** L
    assert torch.equal(bp.values * 2 ** L, torch.arange(1, 2 ** L, dtype=F64))
    assert int(regions.count_1d(net, theta, a, b, merge="linear")) == 2 ** L
    if L <= 7:
        assert int(reference.regions.count_1d(net, theta, a, b)) == 2 ** L


def test_sawtooth_float32_small_L():
    for L in (1, 4, 8):
        net, theta = regions.sawtooth(L, torch.float32)
        assert int(regions.count_1d(net, theta, torch.zeros(1, 1), torch.ones(1, 1))) == 2 ** L


def test_sawtooth_errors():
    with pytest.raises(ValueError, match="L must be"):
        regions.sawtooth(0)
