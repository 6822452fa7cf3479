"""The timing harness: warm-up, the calls per timing (MIN_TIMING_S), medians, turns."""
import time

import pytest

from reluscope.benchmarks.harness import compare, median_times


class Calls:
    """A function that counts its calls and sleeps `seconds` in each."""

    def __init__(self, seconds: float):
        self.seconds, self.n = seconds, 0

    def __call__(self):
        self.n += 1
        time.sleep(self.seconds)


def test_short_calls_are_timed_in_a_row_long_ones_once():
    short, long = Calls(0.001), Calls(0.03)
    t_short, t_long = median_times([short, long], "cpu", repeats=3, warmup=1, min_time=0.02)
    # the warm-up call took >= 1 ms: at most 20 calls per timing, at least 1 + 3 x 2 in all
    assert 1 + 3 * 2 <= short.n <= 1 + 3 * 20
    assert long.n == 1 + 3          # 30 ms >= min_time: one call per timing
    assert 0.001 <= t_short < 0.02  # per call, not per timing
    assert 0.03 <= t_long < 0.3


def test_without_warm_up_the_given_calls():
    fn = Calls(0.0)
    median_times([fn], "cpu", repeats=4, warmup=0, inner=3)
    assert fn.n == 4 * 3


def test_min_time_zero_keeps_inner():
    fn = Calls(0.0)
    median_times([fn], "cpu", repeats=2, warmup=2, inner=5, min_time=0.0)
    assert fn.n == 2 + 2 * 5


def test_compare_reports_the_ratio():
    r = compare("s", "case", Calls(0.002), Calls(0.02), "cpu", None, {}, repeats=3)
    assert r.ratio == pytest.approx(r.reference_s / r.ours_s)
    assert r.ratio > 2
