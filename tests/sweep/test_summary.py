"""reluscope.sweep.summary: the figure's width axis has integer ticks; a sweep without a width
column is a clear error."""
import pytest

from reluscope.sweep import ShardPlan, run_sweep, summarize
from tests.sweep.tasks_for_tests import no_width

pytest.importorskip("matplotlib")


def summary_of(widths) -> dict:
    return {w: {"n": 10, "class": {"a": (0.5, 0.2, 0.8), "b": (0.5, 0.2, 0.8)}} for w in widths}


@pytest.mark.parametrize("widths", [[4, 5], [4, 5, 6, 7], [8, 16, 32], list(range(2, 41))])
def test_width_ticks_are_integers(widths):
    import matplotlib.pyplot as plt

    from reluscope.sweep.summary import make_figure

    fig = make_figure(summary_of(widths))
    ticks = [t for t in fig.axes[0].get_xticks() if min(widths) <= t <= max(widths)]
    plt.close(fig)
    assert ticks and all(float(t).is_integer() for t in ticks), ticks
    if len(widths) <= 12:
        assert ticks == widths


def test_a_sweep_without_widths_is_a_clear_error(tmp_path):
    run_sweep(no_width, ShardPlan(4, 2), str(tmp_path), progress=False)
    with pytest.raises(ValueError, match="summarize groups by a 'width' column, which the sweep "
                                         r"in .* does not have \(its columns: item, x\)"):
        summarize(str(tmp_path))
