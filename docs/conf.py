"""Sphinx configuration of reluscope's documentation site (``docs/``): MyST pages, the API from
the docstrings (autodoc + napoleon) and an executed example gallery (sphinx-gallery). Build:
``python -m sphinx -W --keep-going -b html docs docs/_build/html``."""
from pathlib import Path

import reluscope   # the installed package (pip install ".[docs]"); in a dev tree PYTHONPATH=python
from reluscope.benchmarks.table import markdown

# The benchmark tables of performance.md, generated from the committed records at every build.
_HERE = Path(__file__).parent
(_HERE / "_generated").mkdir(exist_ok=True)
(_HERE / "_generated" / "bench_tables.md").write_text(
    markdown(sorted((_HERE.parent / "bench" / "results").glob("*bench*.json"))))

project = "reluscope"
author = "the reluscope developers"
copyright = "2026, the reluscope developers"
release = reluscope.__version__
version = ".".join(release.split(".")[:2])

extensions = ["myst_parser", "sphinx.ext.autodoc", "sphinx.ext.napoleon",
              "sphinx.ext.mathjax", "sphinx_gallery.gen_gallery"]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
# examples/: sphinx-gallery's sources; _generated/: pages included by others
exclude_patterns = ["_build", "examples", "_generated"]
myst_enable_extensions = ["dollarmath"]
myst_heading_anchors = 3

autodoc_member_order = "bysource"
autodoc_typehints = "description"
napoleon_google_docstring = True
napoleon_numpy_docstring = False

html_theme = "furo"
html_title = f"reluscope {release}"

sphinx_gallery_conf = {
    "examples_dirs": "examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "remove_config_comments": True,
}


def _plain_text(app, what, name, obj, options, lines):
    """The docstrings are plain text written for ``help()``: maths in ASCII (|x| for absolute
    values and norms, * for products, theta*) and items whose description continues on indented
    lines ("name: text" then "    more text"). Neither is reStructuredText: | and * are
    escaped, and a continuation line joins the line it continues (after napoleon, which has
    already turned the Args/Returns sections into field lists)."""
    out, para_indent = [], 0
    for line in lines:
        text = line.replace("\\", "\\\\").replace("|", "\\|").replace("*", "\\*")
        indent = len(text) - len(text.lstrip())
        if out and text.strip() and out[-1].strip() and indent > para_indent:
            out[-1] = out[-1].rstrip() + " " + text.strip()
            continue
        out.append(text)
        para_indent = indent
    lines[:] = out


def setup(app):
    app.connect("autodoc-process-docstring", _plain_text)
