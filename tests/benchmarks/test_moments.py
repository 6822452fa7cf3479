"""The moments benchmark suite runs (quick): both dtypes, both sides timed."""
from reluscope.benchmarks import moments


def test_quick_suite_times_both_sides():
    results = list(moments.run("cpu", quick=True))
    assert [r.dtype for r in results] == ["float64", "float32"]
    assert all(r.ours_s > 0 and r.reference_s > 0 for r in results)
