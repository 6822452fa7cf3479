"""reluscope.progress: sparse lines on a pipe (start, end, at most one per interval and per tenth
in between), nothing when disabled. Time is a fake clock, so no test depends on the machine."""
import re

import pytest

import reluscope.progress as progress


@pytest.fixture
def clock(monkeypatch):
    """A clock the test advances by hand (progress reads time.perf_counter only)."""
    now = [1000.0]
    monkeypatch.setattr(progress.time, "perf_counter", lambda: now[0])
    return now


def run(clock, updates: int, seconds_each: float) -> None:
    bar = progress.Progress(updates, "work")
    for _ in range(updates):
        clock[0] += seconds_each
        bar.update(1, "x")


def counts(lines: list[str]) -> list[int]:
    """The done counts of the progress lines ("work [###   ] 30/100 30.0s x" -> 30)."""
    return [int(re.search(r"\] (\d+)/", line).group(1)) for line in lines]


def test_a_fast_loop_prints_its_start_and_end_only(clock, capsys):
    run(clock, 100, 0.01)
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == "work started: 100 to do"
    assert len(lines) == 2 and lines[1].startswith("work [") and "100/100" in lines[1]


def test_a_slow_loop_prints_once_per_tenth(clock, capsys):
    run(clock, 100, 60.0)  # a minute per update: every tenth is past the 30 s interval
    lines = capsys.readouterr().err.splitlines()
    assert counts(lines[1:]) == list(range(10, 101, 10))


def test_at_most_one_line_per_interval(clock, capsys):
    run(clock, 100, 1.0)  # a second per update: a line every 30 s, each past a new tenth
    lines = capsys.readouterr().err.splitlines()
    assert counts(lines[1:]) == [30, 60, 90, 100]


def test_updates_past_the_end_print_nothing(clock, capsys):
    bar = progress.Progress(2, "work")
    for _ in range(5):
        bar.update()
    assert len(capsys.readouterr().err.splitlines()) == 2


def test_track_and_disabled(capsys):
    assert list(progress.track(range(5), "t", enabled=False)) == list(range(5))
    assert capsys.readouterr().err == ""
    assert list(progress.track(iter([1, 2]), "t", total=2)) == [1, 2]
    assert "2/2" in capsys.readouterr().err
