"""reluscope.hypercube.vertices: the vertex convention and the subset tables."""
import torch

import reluscope.hypercube as hc
from reluscope.hypercube.vertices import subset_products, subset_sums


def test_vertex_convention():
    x = hc.vertices(3)
    assert x.shape == (8, 3)
    assert x[5].tolist() == [1.0, -1.0, 1.0]  # 5 = 0b101
    assert torch.equal(hc.vertex_bits(torch.tensor([0, 7]), 3), torch.tensor([[-1] * 3, [1] * 3]))


def test_subset_tables_follow_the_convention():
    g = torch.Generator().manual_seed(0)
    w = torch.randn(2, 5, generator=g, dtype=torch.float64)
    # two sequential sums of 5 terms each: within 2 * 5 eps sum|w| of each other
    bound = 10 * torch.finfo(torch.float64).eps * w.abs().sum(1).max().item()
    torch.testing.assert_close(subset_sums(w), w @ hc.vertices(5).T, atol=bound, rtol=0)
    assert torch.equal(subset_sums(-w), -subset_sums(w))  # bitwise: the pair sweep relies on it
    q = torch.rand(5, generator=g, dtype=torch.float64)
    torch.testing.assert_close(subset_products(q), hc.Product(q).probabilities(), atol=1e-16,
                               rtol=0)
