"""``summarize``: a sweep's results per width — for every text column (e.g. the class) the
fraction of each value with its 95% Wilson interval, for every numeric column the mean and its
standard error — printed as a table, optionally drawn."""
from __future__ import annotations

import math
from typing import Optional

import numpy as np

from .results import read_results

Z95 = 1.959963984540054


def wilson(k: int, n: int) -> tuple[float, float]:
    """95% Wilson score interval of a proportion k / n."""
    p, z2 = k / n, Z95 ** 2
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = Z95 * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def summarize(out_dir: str, figure: Optional[str] = None, *, partial: bool = False) -> dict:
    """{width: {column: {value: (fraction, lo, hi)} or (mean, standard error)}} over the shards
    of the sweep in out_dir (all of them; ``partial=True``: the intact ones, with a warning
    saying how many items are missing — see ``read_results``); draws the text columns' fractions
    to ``figure`` if given. The task must have a ``width`` column."""
    table = read_results(out_dir, partial=partial).to_pydict()
    if "width" not in table:
        raise ValueError(f"summarize groups by a 'width' column, which the sweep in {out_dir} "
                         f"does not have (its columns: {', '.join(table)})")
    width = np.asarray(table.pop("width"))
    table.pop("item")
    summary: dict = {}
    for w in sorted(set(width.tolist())):
        rows = width == w
        n = int(rows.sum())
        per = summary[int(w)] = {"n": n}
        for name, values in table.items():
            v = np.asarray(values, dtype=object)[rows]
            if isinstance(v[0], str):
                per[name] = {c: (k / n, *wilson(k, n)) for c, k in
                             sorted(zip(*np.unique(v.astype(str), return_counts=True)))}
            elif np.isscalar(v[0]):
                x = v.astype(float)
                per[name] = (float(x.mean()), float(x.std(ddof=1) / math.sqrt(n)) if n > 1 else 0.0)
    if figure:
        draw(summary, figure)
    return summary


def lines(summary: dict) -> list[str]:
    out = []
    for w, per in summary.items():
        out.append(f"width {w}: {per['n']} items")
        for name, s in per.items():
            if name == "n":
                continue
            if isinstance(s, dict):
                out += [f"  {name} = {c}: {f:.4f} [{lo:.4f}, {hi:.4f}]" for c, (f, lo, hi) in
                        s.items()]
            else:
                out.append(f"  {name}: mean {s[0]:.6g} ± {s[1]:.2g} (s.e.)")
    return out


def draw(summary: dict, path: str) -> None:
    """The text columns' fractions per width, with their intervals, to the image file path."""
    fig = make_figure(summary)  # first: it says which extra brings matplotlib
    import matplotlib.pyplot as plt

    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def make_figure(summary: dict):
    """The matplotlib Figure of :func:`draw`: fractions against width, ticks at integer widths
    (at every width when there are at most 12, else integers chosen by matplotlib)."""
    try:
        import matplotlib
    except ImportError:
        raise ImportError("the summary figure needs matplotlib: pip install 'reluscope[plot]'"
                          ) from None

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    widths = list(summary)
    texts = sorted({(name, c) for per in summary.values() for name, s in per.items()
                    if isinstance(s, dict) for c in s})
    fig, ax = plt.subplots(figsize=(7, 4))
    for name, c in texts:
        pts = [summary[w].get(name, {}).get(c, (0.0, 0.0, 0.0)) for w in widths]
        ax.errorbar(widths, [p[0] for p in pts], yerr=[[p[0] - p[1] for p in pts],
                                                       [p[2] - p[0] for p in pts]],
                    marker="o", capsize=3, label=c)
    ax.set(xlabel="width", ylabel="fraction (95% Wilson interval)")
    if len(widths) <= 12:
        ax.set_xticks(widths)
    else:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if texts:
        ax.legend(fontsize=8)
    return fig
