"""The critical-points benchmark suite runs (quick) and times both sides on the same work."""
from reluscope.benchmarks import critical_points


def test_quick_suite_times_both_sides():
    r, *eigh = list(critical_points.run("cpu", quick=True))
    assert [e.sizes["P"] for e in eigh] == [32, 64, 128]
    assert all(e.ours_s > 0 and e.reference_s > 0 for e in eigh)
    assert r.suite == "critical-points" and r.sizes["B"] == 50 and r.sizes["steps"] == 10
    assert r.ours_s > 0 and r.reference_s > 0 and r.ratio > 0
    assert "scaled" in r.extra["reference"]
