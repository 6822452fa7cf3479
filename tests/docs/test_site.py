"""The documentation site (docs/): it builds with warnings as errors, the gallery runs, every
internal link of the built pages resolves, and the index, an API page and a gallery page render
in a real headless browser (Debian's chromium and chromium-driver, driven by Selenium) with their
images and no console errors. Screenshots go to docs/_build/screenshots/ (not committed)."""
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
PAGES = {"index": "index.html", "api": "api/hessian.html",
         "gallery": "auto_examples/plot_students_spectra.html"}

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """Build the site once: sphinx -W --keep-going (every warning an error), gallery executed."""
    pytest.importorskip("sphinx", reason="the docs extra is not installed")
    out = tmp_path_factory.mktemp("site")
    r = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-E", "-q",
                        "-b", "html", str(DOCS), str(out)], capture_output=True, text=True,
                       timeout=600, env={**os.environ, "MPLBACKEND": "Agg"})
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return out


def test_site_builds_and_every_internal_link_resolves(site):
    pages = sorted(site.rglob("*.html"))
    assert len(pages) > 15
    for page in pages:
        for target in re.findall(r'(?:href|src)="([^"#?]+)(?:[?#][^"]*)?"', page.read_text()):
            if not re.match(r"^[a-z]+:", target):        # http:, https:, mailto:, data:
                assert (page.parent / target).exists(), f"{page.relative_to(site)}: {target}"
    gallery = (site / PAGES["gallery"]).read_text()
    assert "sphx-glr-single-img" in gallery         # the example ran and made its figure


def test_types_link_to_torch_numpy_scipy_and_the_performance_tables_are_generated(site):
    """Intersphinx resolves the docstrings' types (offline: conf.py's local inventories), and
    the performance page holds a row per case of every committed bench record."""
    api = (site / "api" / "hessian.html").read_text()
    assert 'href="https://pytorch.org/docs/stable/tensors.html#torch.Tensor"' in api
    engines = (site / "engines.html").read_text()
    for url in ("https://docs.scipy.org/doc/scipy/reference/generated/scipy.sparse.linalg.",
                "https://numpy.org/doc/stable/reference/generated/numpy.ndarray.html"):
        assert f'href="{url}' in engines
    perf = (site / "performance.html").read_text()
    records = sorted((DOCS.parent / "bench" / "results").glob("*bench*.json"))
    cases = sum(len(json.loads(p.read_text())["results"]) for p in records)
    assert perf.count("<tr") == cases + len(records)      # + one header row per table


def _browser():
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if chromium is None or driver is None:
        pytest.skip("Debian's chromium and chromium-driver are not installed (.ci/run installs "
                    "them)")
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,1600",
                 "--disable-dev-shm-usage"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(driver), options=options)


def test_pages_render_in_a_headless_browser(site):
    shots = DOCS / "_build" / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    browser = _browser()
    try:
        for name, page in PAGES.items():
            browser.get((site / page).as_uri())
            assert "reluscope" in browser.title
            images = browser.execute_script(
                "return Array.from(document.images).map(i => [i.src, i.complete && "
                "i.naturalWidth > 0]);")
            broken = [src for src, ok in images if not ok]
            assert not broken, f"{page}: images that did not load: {broken}"
            if name == "gallery":
                assert len(images) >= 1
            errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
            assert not errors, f"{page}: console errors {errors}"
            text = browser.find_element("tag name", "body").text
            assert {"index": "Getting started", "api": "dense_hessian",
                    "gallery": "Hessian spectra of 1000 students"}[name] in text
            browser.save_screenshot(str(shots / f"{name}.png"))
    finally:
        browser.quit()


def test_every_gallery_image_has_its_vector_version(site):
    """Each gallery figure's PNG comes with a PDF of the same figure, linked under it."""
    pages = sorted((site / "auto_examples").glob("plot_*.html"))
    assert len(pages) >= 6
    for page in pages:
        html = page.read_text()
        pngs = re.findall(r'src="[^"]*(sphx_glr_plot_\w+?_\d{3})\.png"', html)
        pdfs = re.findall(r'href="([^"]*(sphx_glr_plot_\w+?_\d{3})\.pdf")', html)
        assert pngs and sorted(set(pngs)) == sorted({name for _, name in pdfs}), page.name
        for href, _ in pdfs:
            pdf = page.parent / href.rstrip('"')
            assert pdf.read_bytes()[:5] == b"%PDF-", href
