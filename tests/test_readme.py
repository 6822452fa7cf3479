"""Files that must agree: the README's quick start and .ci/run; the examples of the README and of
the docs pages and the package; the links between them."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def section(page: str, heading: str) -> str:
    """The text of the "## heading..." section of a markdown page (README.md, docs/*.md)."""
    return (ROOT / page).read_text().split("## " + heading, 1)[1].split("\n## ", 1)[0]


def test_links_between_the_pages_resolve():
    """Every relative link and image of the README and the docs pages names a file that exists."""
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", page.read_text()):
            if not target.startswith(("http://", "https://")):
                assert (page.parent / target).exists(), f"{page.name}: {target}"


def quick_start_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```(?:bash|sh)\n(.*?)\n```", section, flags=re.S)


def test_quick_start_has_exactly_two_commands():
    commands = quick_start_commands()
    assert len(commands) == 2
    assert all("\n" not in c for c in commands)
    assert "reluscope reproduce" in commands[0] and "pytest" in commands[1]


def test_ci_runs_the_readme_test_command():
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    assert quick_start_commands()[1] in ci_lines


def test_readme_loss_convention_is_the_data_docstring():
    """The loss convention is written once, in ``Data``'s docstring; the engines page quotes it."""
    import inspect

    from reluscope import Data

    doc = inspect.cleandoc(Data.__doc__)
    block = doc[doc.index("The loss of model b"):].strip()
    assert f"```\n{block}\n```" in (ROOT / "docs" / "engines.md").read_text()


def test_torch_page_examples_run():
    """The torch page's gradient-norm penalty and classification spectrum examples, as written."""
    import torch

    blocks = re.findall(r"```python\n(.*?)\n```", section("docs/torch.md", "Inside torch"),
                        flags=re.S)
    assert len(blocks) == 2
    scope: dict = {}
    exec(blocks[0], scope)
    assert scope["theta"].grad is not None and torch.isfinite(scope["L"]).all()
    exec(blocks[1], scope)
    H, G = scope["H"], scope["G"]
    assert H.shape == G.shape == (100, 99)
    assert (G[:, 0] > -1e-10).all()  # the Gauss-Newton matrix is PSD


def test_scaling_page_own_sweep_task_runs(tmp_path, monkeypatch):
    """The scaling page's example of a user's own sweep task, as written (local engine)."""
    blocks = re.findall(r"```python\n(.*?)\n```", section("docs/scaling.md", "Scaling out"),
                        flags=re.S)
    assert len(blocks) == 1
    monkeypatch.chdir(tmp_path)
    scope: dict = {"__name__": "readme_example"}
    exec(blocks[0].replace("print(summarize", "result = (summarize"), scope)
    assert scope["result"][8]["n"] == 2000
    assert (tmp_path / "runs" / "index" / "manifest.json").exists()


def test_certify_example_runs_and_says_what_it_prints():
    """The engines page's certified-critical-points example, as written, and the values its comments
    state: the teacher a certified minimum with those enclosures, a width-3 student's minimum split
    into a proved saddle of the width-4 student, the split-neuron student matched by structure and
    not point-certified."""
    import torch

    from reluscope import certify

    blocks = re.findall(r"```python\n(.*?)\n```",
                        section("docs/engines.md", "Certified critical points"), flags=re.S)
    assert len(blocks) == 1
    lines = blocks[0].splitlines()
    scope: dict = {}
    exec("\n".join(lines[:-2]), scope)
    c = scope["c"]
    assert c.verdict.tolist() == [certify.Verdict.minimum]
    assert "radius 5.0e-09" in blocks[0] and f"{c.radius.item():.1e}" == "5.0e-09"
    assert f"[{c.loss[0, 0]:.1e}, {c.loss[0, 1]:.1e}]" == "[-1.7e-320, 5.4e-16]"
    assert f"[{c.lambda_min[0, 0]:.1e}, {c.lambda_min[0, 1]:.1e}]" == "[2.9e-07, 9.9e-07]"
    s = scope["s"]
    assert (s.narrow.verdict.item(), s.certificate.verdict.item(), s.certificate.index_lower.item()
            ) == (certify.Verdict.minimum, certify.Verdict.saddle, 1)
    assert f"loss {s.narrow.loss[0, 0]:.2e}" == f"loss {s.narrow.loss[0, 1]:.2e}" == "loss 1.76e-04"
    lam = s.certificate.lambda_min[0]
    assert f"lambda_min in [{lam[0]:.1e}, {lam[1]:.1e}]" in blocks[0] and lam[1] < 0
    assert "loss 1.76e-04" in blocks[0]
    matched = eval(lines[-2].split("#")[0], scope)
    assert torch.equal(matched, torch.tensor([True])) and "tensor([True])" in lines[-2]
    reason = eval(lines[-1].split("#")[0], scope)
    assert certify.Reason(int(reason)).name == "hessian_singular" in lines[-1]
