"""The teacher-student experiment's figures: the seed's smallest-eigenvalue-vs-loss scatter per
student width, coloured by threshold class and by certified class."""
from __future__ import annotations


def figures(rep, record) -> None:
    """The seed's scatter (smallest eigenvalue vs loss per student, by width), twice: coloured by
    the threshold classes and by the certified classes (``certified``)."""
    threshold = {"global minimum": "C2", "local minimum": "C0", "saddle": "C3",
                 "unresolved": "C4", "diverging": "C1", "not converged": "0.6"}
    proved = {"global minimum (structure)": "C2", "local minimum (proved non-global)": "C0",
              "minimum (loss not separated)": "C9", "saddle (proved)": "C3",
              "degenerate critical point": "C5", "no critical point in its box": "C8",
              "diverging": "C1", "not certified": "0.75"}
    _scatter(rep, record, "class", threshold, "lambda_min_vs_loss.png", "Smallest Hessian "
             "eigenvalue vs final loss for every student, by width, coloured by threshold class "
             "(as in the seed's scatter plot).")
    _scatter(rep, record, "certified", proved, "lambda_min_vs_loss_certified.png", "The same "
             "students coloured by what is proved about them (reluscope.certify; grey: not "
             "certified, any reason).")
    _perturbed(rep, record, proved)


def _scatter(rep, record, key: str, colors: dict, name: str, caption: str) -> None:
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 4, figsize=(16, 4.2), sharey=True)
    floor = 1e-20  # exact zero losses are drawn here (log axis), as the axis label says
    for ax, (width, r) in zip(axes, record.items()):
        # the last classes (not certified / not converged) first: the proved ones draw on top
        for kind, c in reversed(list(colors.items())):
            pts = [(l, e) for l, e, k in zip(r["loss"], r["lambda_min"], r[key])
                   if k.split(":")[0] == kind]
            if pts:
                L, E = zip(*pts)
                ax.scatter([max(l, floor) for l in L], E, s=12, color=c)
        ax.set_xscale("log")
        ax.set_yscale("symlog", linthresh=1e-8)
        ax.set_title(f"student width {width}")
        ax.set_xlabel("final loss (< 1e-20 drawn at 1e-20)")
    axes[0].set_ylabel("smallest Hessian eigenvalue")
    handles = [plt.Line2D([], [], marker="o", ls="", color=c, label=k) for k, c in colors.items()]
    fig.legend(handles=handles, loc="lower center", ncol=4, fontsize=9)
    fig.subplots_adjust(bottom=0.3)
    rep.figure(fig, name, caption)


def _perturbed(rep, record, colors: dict) -> None:
    """The seed's 'loss after perturbing by eps and re-optimising' curves, for up to 8 students
    (3 in a quick run) of each certified class that has them, per width."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 4, figsize=(16, 4.2), sharey=True)
    floor = 1e-20
    for ax, (width, r) in zip(axes, record.items()):
        p = r["perturbed"]
        for b, losses in zip(p["students"], p["loss"]):
            ax.plot(p["eps"], [max(v, floor) for v in losses], "-o", ms=3, lw=1,
                    color=colors[r["certified"][b].split(":")[0]])
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(f"student width {width}")
        ax.set_xlabel("perturbation eps (unit Gaussian dir.)")
    axes[0].set_ylabel("loss after re-optimising (LM)")
    used = {c for r in record.values() for b in r["perturbed"]["students"]
            for c in [r["certified"][b]]}
    handles = [plt.Line2D([], [], marker="o", color=c, label=k) for k, c in colors.items()
               if k in used]
    fig.legend(handles=handles, loc="lower center", ncol=4, fontsize=9)
    fig.subplots_adjust(bottom=0.3)
    rep.figure(fig, "loss_after_perturbation.png", "The seed's perturbation test on certified "
               "students: loss after perturbing by eps and re-optimising, per student, coloured "
               "by certified class (up to 8 per class and width; 3 in a quick run).")
