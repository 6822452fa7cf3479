"""reluscope.regions.patterns (activation_words, count_patterns) vs the brute-force reference."""
import functools

import pytest
import torch

from reluscope import reference
from reluscope import regions
from reluscope._ext import _core
from tests.utils import CPU_ISAS, DEVICES, DTYPES, assert_matches_reference
from tests.regions.test_segments import nets

F64 = torch.float64


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_count_patterns_matches_brute_force_and_is_a_lower_bound(dtype, device):
    net, theta, g = nets([2, 12, 12, 1], "relu", dtype, B=4)
    X = torch.rand(3000, 2, generator=g, dtype=dtype) * 2 - 1
    ours = regions.count_patterns(net, theta.to(device), X.to(device))
    assert_matches_reference(ours, reference.regions.count_patterns(net, theta, X))
    e = torch.eye(2, dtype=dtype)
    exact = regions.count_2d(net, theta, torch.zeros(2, dtype=dtype), e[0], e[1])
    assert bool((ours.cpu() <= exact).all())
    Xb = torch.rand(4, 500, 2, generator=g, dtype=dtype)
    assert_matches_reference(regions.count_patterns(net, theta.to(device), Xb.to(device)),
                             reference.regions.count_patterns(net, theta, Xb))


@pytest.mark.parametrize("device", DEVICES)
def test_count_patterns_many_words(device):
    net, theta, g = nets([3, 70, 70, 1], "relu", F64, B=2)
    X = torch.randn(400, 3, generator=g, dtype=F64)
    assert regions.activation_words(net, theta, X).shape == (2, 400, 3)
    assert_matches_reference(regions.count_patterns(net, theta.to(device), X.to(device)),
                             reference.regions.count_patterns(net, theta, X))


@pytest.mark.parametrize("isa", CPU_ISAS)
def test_count_patterns_every_cpu_vector_variant(isa, monkeypatch):
    """Whole and partial CPU tiles, three pattern words, shared and per-network samples."""
    monkeypatch.setenv("RELUSCOPE_CPU_ISA", isa)
    for dtype in DTYPES:
        net, theta, g = nets([3, 70, 70, 1], "leaky_relu", dtype, B=3)
        for X in (torch.randn(150, 3, generator=g, dtype=dtype),
                  torch.randn(3, 90, 3, generator=g, dtype=dtype)):
            assert_matches_reference(regions.count_patterns(net, theta, X),
                                     reference.regions.count_patterns(net, theta, X))


@pytest.mark.cuda
@pytest.mark.sanitize
@pytest.mark.parametrize("dtype", DTYPES)
def test_cuda_one_worker_per_network_samples_many_words(dtype, monkeypatch):
    """float32 and float64, per-network samples, three pattern words, and a workspace of one
    thread: every (network, sample) pair past the first goes through the grid-stride loop."""
    net, theta, g = nets([3, 70, 70, 1], "relu", dtype, B=3)
    X = torch.randn(3, 200, 3, generator=g, dtype=dtype)
    want = reference.regions.count_patterns(net, theta, X)
    monkeypatch.setattr(_core, "lane_workspace", functools.partial(_core.lane_workspace,
                                                                   max_workspace_bytes=1))
    assert_matches_reference(regions.count_patterns(net, theta.cuda(), X.cuda()), want)


def test_words_buffer_must_hold_every_pattern_bit():
    """The binding derives the word count from the network: a narrower buffer is an error, never
    a write past its rows."""
    net, theta, g = nets([3, 70, 70, 1], "relu", F64, B=2)
    X = torch.randn(5, 3, dtype=F64)
    for words in (1, 4):
        with pytest.raises(ValueError, match="words has size"):
            _core.region_patterns(net.spec, theta, X, torch.empty(2, 5, words, dtype=torch.int64))


def test_linear_network_has_one_pattern():
    net, theta, g = nets([2, 9, 9, 1], "identity", F64, B=3)
    assert bool((regions.count_patterns(net, theta, torch.randn(50, 2, dtype=F64)) == 1).all())


def test_unpack_patterns():
    words = torch.tensor([[5, 1]], dtype=torch.int64)  # bits 0, 2 and 64
    bits = regions.unpack_patterns(words, 66)
    assert bits.shape == (1, 66) and bits.nonzero()[:, 1].tolist() == [0, 2, 64]


def test_error_paths():
    net, theta, _ = nets([2, 4, 1], "relu", F64, B=2)
    with pytest.raises(ValueError, match="NaN"):
        regions.count_patterns(net, theta, torch.full((3, 2), float("nan"), dtype=F64))
    with pytest.raises(ValueError):
        regions.count_patterns(net, theta, torch.zeros(3, 3, 2, dtype=F64))
    with pytest.raises(ValueError, match="X must be"):
        regions.activation_words(net, theta, torch.zeros(3, 5, dtype=F64))
