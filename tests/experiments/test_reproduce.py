"""`reluscope reproduce`: every experiment's --quick run passes its own rows and writes its
outputs; bad arguments give a one-line error."""
import json
import subprocess
import sys

import pytest

from reluscope.experiments import EXPERIMENTS


def reproduce(*args):
    return subprocess.run([sys.executable, "-m", "reluscope.cli", "reproduce", *args],
                          capture_output=True, text=True, timeout=900)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(EXPERIMENTS))
def test_quick_run_passes_and_writes_outputs(name, tmp_path):
    r = reproduce(name, "--quick", "--out", str(tmp_path))
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    out = tmp_path / name
    record = json.loads((out / "results.json").read_text())
    assert record["passed"] and record["rows"]
    assert any(row["status"] == "PASS" for row in record["rows"])
    assert all(row["status"] != "FAIL" for row in record["rows"])
    assert "| check | ours | reference |" in (out / "report.md").read_text()
    assert record["figures"] and all((out / f).stat().st_size > 1000 for f in record["figures"])
    assert all((out / f).with_suffix(".pdf").read_bytes()[:5] == b"%PDF-"   # vector beside it
               for f in record["figures"])
    assert "PASS" in r.stdout


@pytest.mark.parametrize("args, message", [
    (["nonsense"], "invalid choice"),
    (["tms", "--device", "tpu"], "--device must be cpu or cuda"),
    (["tms", "--out", "/proc/reluscope-cannot-write"], "cannot write to --out"),
])
def test_bad_arguments_give_one_line(args, message):
    r = reproduce(*args)
    assert r.returncode == 2
    assert message in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr


def test_cuda_without_gpu_is_a_one_line_error():
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is visible")
    r = reproduce("tms", "--device", "cuda")
    assert r.returncode == 2 and "no CUDA GPU" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_tms_newton_uses_the_exact_population():
    """`reproduce tms` has no private population or finite-difference Hessian: its Newton step
    uses rs.tms_population and rs.tms_population_hessian, and lands on the seed's family-B point
    a(s) (-1, 1) to rounding (the old finite-difference Hessian: ~1e-6)."""
    import math

    import torch

    from reluscope.experiments import tms as experiment

    assert not hasattr(experiment, "kink_aligned_data")
    assert not hasattr(experiment, "population_hessian")
    a = math.sqrt((3 + 5 * 0.5) / (2 * (1 + 3 * 0.5)))
    start = torch.tensor([[-1.01 * a, 0.99 * a]], dtype=torch.float64)
    theta, gnorm = experiment.newton(experiment.TMS(2, 1, bias=False), start, 0.5, steps=10)
    assert gnorm.item() < experiment.GNORM
    assert (theta - torch.tensor([[-a, a]], dtype=torch.float64)).abs().max() < 1e-12


def test_tms_contour_figure_has_a_marker_legend():
    """The contour figure says what its markers mean: one legend entry per type of critical
    point in the table, with that type's marker."""
    pytest.importorskip("matplotlib")
    from reluscope.experiments import tms as experiment

    figures = []

    class Report:
        def figure(self, fig, name, caption):
            figures.append((name, fig))

    table = [{"s": 0.2, "w": [0.7, 0.7], "loss": 0.1, "type": "minimum", "family": "A"},
             {"s": 0.2, "w": [0.0, 0.9], "loss": 0.2, "type": "saddle", "family": "axis"}]
    experiment._figures(Report(), experiment.TMS(2, 1, bias=False), table, 0.4178)
    fig = dict(figures)["loss_contours.png"]
    legend = fig.axes[0].get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["minimum", "saddle"]
    assert [h.get_marker() for h in legend.legend_handles] == ["o", "x"]
