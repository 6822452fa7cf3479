"""The fast part of the fuzz harness (tests/fuzz.py): every engine's valid call and every mutation
of its arguments, float64 and float32, one set of random data, in child processes. No case may
crash, hang, return a wrong result or raise an unclear exception. The long part, with ten sets of
random data: python bench/fuzz.py."""
from tests import fuzz


def test_no_crash_hang_wrong_or_unclear_result():
    records = fuzz.run_all(fuzz.cases(seeds=(0,)), timeout=60)
    s = fuzz.summary(records)
    bad = fuzz.failures(records)
    assert not bad, (s["total"], bad[:20])
    assert s["total"]["ok"] > 0 and s["total"]["error"] > 0
