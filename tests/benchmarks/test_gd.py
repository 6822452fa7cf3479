"""The gd benchmark suite runs (quick) and times both sides on the same work."""
from reluscope.benchmarks import gd


def test_quick_suite_times_both_sides():
    (r,) = list(gd.run("cpu", quick=True))
    assert r.suite == "gd" and r.sizes["B"] == 20 and r.sizes["every"] == 10
    assert r.ours_s > 0 and r.reference_s > 0 and r.ratio > 0
    assert "scaled" in r.extra["reference"]
