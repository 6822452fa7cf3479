"""The ntk benchmark suite runs (quick): both cases, both dtypes, both sides timed."""
from reluscope.benchmarks import ntk


def test_quick_suite_times_both_sides():
    results = list(ntk.run("cpu", quick=True))
    assert [r.sizes["widths"] for r in results] == [[2, 64, 1], [8, 128, 128, 1]] * 2
    assert {r.dtype for r in results} == {"float64", "float32"}
    assert all(r.ours_s > 0 and r.reference_s > 0 for r in results)
