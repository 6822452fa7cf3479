"""The example gallery's image scraper (docs/conf.py names it by its import path, which keeps
the configuration picklable): sphinx-gallery's matplotlib scraper for the PNG shown on the page,
plus each figure as PDF beside its PNG, linked under it — the vector version of every gallery
image."""
from pathlib import Path


def png_and_pdf(block, block_vars, gallery_conf):
    import matplotlib.pyplot as plt
    from sphinx_gallery.scrapers import matplotlib_scraper

    paths = block_vars["image_path_iterator"]     # the PNGs' names, numbered from len + 1
    src = Path(gallery_conf["src_dir"])
    links = []
    for k, num in enumerate(plt.get_fignums()):
        pdf = Path(paths.image_path.format(len(paths) + k + 1)).with_suffix(".pdf")
        plt.figure(num).savefig(pdf)
        links.append(f":download:`vector version (PDF) </{pdf.relative_to(src).as_posix()}>`")
    rst = matplotlib_scraper(block, block_vars, gallery_conf)
    return rst + "".join(f"\n\n{link}" for link in links) + ("\n\n" if links else "")
