"""reluscope.benchmarks.runner: a line on stderr as each case is measured, not only the table at
the end (a long ``reluscope bench`` run shows where it is)."""
import types

from reluscope.benchmarks import runner
from reluscope.benchmarks.harness import Result


def test_a_line_per_case_as_it_ends(monkeypatch, capsys):
    seen_before_second_case = []

    def run(device, quick):
        yield Result("fake", "case one", device, "float64", {}, 0.002, 0.5)
        seen_before_second_case.append(capsys.readouterr().err)
        yield Result("fake", "case two", device, "float32", {}, 3.0, None)

    monkeypatch.setitem(runner.SUITES, "fake", "fake")
    monkeypatch.setattr(runner.importlib, "import_module",
                        lambda name: types.SimpleNamespace(run=run))
    results = runner.run_suites(["fake"], "cpu", quick=True)
    assert [r.name for r in results] == ["case one", "case two"]
    first = seen_before_second_case[0].splitlines()
    assert first[0] == "[bench] fake on cpu (quick) ..."
    assert first[1].startswith("[bench]   case one (float64): ours 2 ms, reference 500 ms [")
    assert capsys.readouterr().err.startswith("[bench]   case two (float32): ours 3 s, "
                                              "reference — [")
