"""reluscope.progress: a line per tenth on a pipe, nothing when disabled."""
import reluscope.progress as progress


def test_prints_about_every_tenth_when_not_a_terminal(capsys):
    bar = progress.Progress(100, "work")
    for _ in range(100):
        bar.update(1, "x")
    lines = capsys.readouterr().err.splitlines()
    assert 10 <= len(lines) <= 11 and lines[-1].startswith("work [") and "100/100" in lines[-1]


def test_track_and_disabled(capsys):
    assert list(progress.track(range(5), "t", enabled=False)) == list(range(5))
    assert capsys.readouterr().err == ""
    assert list(progress.track(iter([1, 2]), "t", total=2)) == [1, 2]
    assert "2/2" in capsys.readouterr().err
