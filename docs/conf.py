"""Sphinx configuration of reluscope's documentation site (``docs/``): MyST pages, the API from
the docstrings (autodoc + napoleon) and an executed example gallery (sphinx-gallery). Build:
``python -m sphinx -W --keep-going -b html docs docs/_build/html``."""
import sys
import zlib
from pathlib import Path

import reluscope   # the installed package (pip install ".[docs]"); in a dev tree PYTHONPATH=python
from reluscope.benchmarks.table import markdown

_HERE = Path(__file__).parent
sys.path.insert(0, str(_HERE / "_ext"))   # gallery_pdf, the gallery's scraper

# The benchmark tables of performance.md, generated from the committed records at every build.
(_HERE / "_generated").mkdir(exist_ok=True)
(_HERE / "_generated" / "bench_tables.md").write_text(
    markdown(sorted((_HERE.parent / "bench" / "results").glob("*bench*.json"))))

project = "reluscope"
author = "the reluscope developers"
copyright = "2026, the reluscope developers"
release = reluscope.__version__
version = ".".join(release.split(".")[:2])

extensions = ["myst_parser", "sphinx.ext.autodoc", "sphinx.ext.napoleon",
              "sphinx.ext.mathjax", "sphinx.ext.intersphinx", "sphinx_gallery.gen_gallery"]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
# examples/: sphinx-gallery's sources; _generated/: pages included by others
exclude_patterns = ["_build", "examples", "_generated", "_ext"]
myst_enable_extensions = ["dollarmath"]
myst_heading_anchors = 3

# Intersphinx to torch, numpy and scipy: each project's published inventory when the network
# answers, else (offline builds, CI) a local one written here with the objects the docstrings'
# types name — so a build never depends on the network and the links resolve either way.
_OFFLINE_TARGETS = {
    "torch": ("https://pytorch.org/docs/stable/", [
        ("torch.Tensor", "py:class", "tensors.html#torch.Tensor"),
        ("torch.dtype", "py:class", "tensor_attributes.html#torch.dtype"),
        ("torch.device", "py:class", "tensor_attributes.html#torch.device"),
        ("torch.Generator", "py:class", "generated/torch.Generator.html#torch.Generator"),
        ("torch.linalg.eigh", "py:function",
         "generated/torch.linalg.eigh.html#torch.linalg.eigh"),
        ("torch.func.vmap", "py:function", "generated/torch.func.vmap.html#torch.func.vmap"),
        ("torch.compile", "py:function", "generated/torch.compile.html#torch.compile")]),
    "numpy": ("https://numpy.org/doc/stable/", [
        ("numpy.ndarray", "py:class", "reference/generated/numpy.ndarray.html#numpy.ndarray")]),
    "scipy": ("https://docs.scipy.org/doc/scipy/", [
        ("scipy.sparse.linalg.LinearOperator", "py:class",
         "reference/generated/scipy.sparse.linalg.LinearOperator.html"
         "#scipy.sparse.linalg.LinearOperator"),
        ("scipy.sparse.linalg.eigsh", "py:function",
         "reference/generated/scipy.sparse.linalg.eigsh.html#scipy.sparse.linalg.eigsh")]),
}


def _write_inventory(path: Path, project: str, entries) -> None:
    """A Sphinx inventory (version 2: a header, then zlib-compressed "name domain:role priority
    uri display" lines) of the given objects."""
    lines = "".join(f"{name} {role} 1 {uri} -\n" for name, role, uri in entries)
    path.write_bytes(f"# Sphinx inventory version 2\n# Project: {project}\n# Version: \n"
                     "# The remainder of this file is compressed using zlib.\n".encode()
                     + zlib.compress(lines.encode()))


intersphinx_mapping = {}
for _name, (_url, _entries) in _OFFLINE_TARGETS.items():
    _write_inventory(_HERE / "_generated" / f"{_name}.inv", _name, _entries)
    intersphinx_mapping[_name] = (_url, (None, f"_generated/{_name}.inv"))
intersphinx_timeout = 10

autodoc_member_order = "bysource"
autodoc_typehints = "description"
napoleon_google_docstring = True
napoleon_numpy_docstring = False

html_theme = "furo"
html_title = f"reluscope {release}"

sphinx_gallery_conf = {
    "image_scrapers": ("gallery_pdf.png_and_pdf",),   # _ext/gallery_pdf.py
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
