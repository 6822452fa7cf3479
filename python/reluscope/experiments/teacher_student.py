"""Seed 002: failure modes of training mildly over-parameterised two-layer networks.

Teacher: y = Σ_i a_i σ(w_i·x), sigmoid, no biases, width 4 with the seed's weights. Data: the
1681-point grid {-5, -4.75, ..., 5}², mean squared error. Students of width 4-7 are all trained
together with Adam, then refined by batched Levenberg-Marquardt (the seed refines with SLSQP, a
second-order method too), in rounds, for as long as a student's gradient is above the threshold;
then for every student: loss, gradient norm and Hessian spectrum, classified with the thresholds
below (a saddle's index, its number of negative eigenvalues, is the seed's "level"); students with
a negative smallest eigenvalue are perturbed and re-optimised (LM), as in the seed, and we count
how many flip to a non-negative eigenvalue. A student whose gradient stays above the threshold
while its parameter norm grows in every round is on a descent path that escapes to infinity:
there is no critical point for it to reach at finite parameters. In the runs so far the growth
sits in two hidden units whose outgoing weights grow with opposite signs (a pair approximating a
derivative unit when their incoming weights are close); results.json records the pair and the
norm per round for each such student.
"""
from __future__ import annotations

import torch

from .. import MLP, Data, forward, hessian, reference
from ..progress import track

TEACHER_W = [[0.6, 0.5], [-0.5, 0.5], [-0.2, -0.6], [0.1, -0.6]]
TEACHER_A = [1.0, -1.0, 1.0, -1.0]
# Classification thresholds (stated in the report).
GRAD_TOL = 1e-5      # converged: ‖∇L‖ below this
GLOBAL_LOSS = 1e-8   # global minimum: loss below this (the teacher reaches 0)
EIG_TOL = 1e-7       # saddle: smallest eigenvalue below -EIG_TOL
REFINE_ROUNDS, REFINE_STEPS = 4, 500  # extra LM for students not converged after the first pass
KINDS = ("global minimum", "local minimum", "saddle", "diverging", "not converged")


def grid(dtype=torch.float64) -> torch.Tensor:
    t = torch.arange(-20, 21, dtype=dtype) / 4
    X1, X2 = torch.meshgrid(t, t, indexing="ij")
    return torch.stack([X1.ravel(), X2.ravel()], 1)


def student(width: int) -> MLP:
    return MLP([2, width, 1], "sigmoid", bias=False)


def params(width: int, W, a) -> torch.Tensor:
    """theta (1, P) of a student with incoming weights W (width, 2) and outgoing a (width,)."""
    net = student(width)
    return net.flatten([(torch.tensor([W], dtype=torch.float64), None),
                        (torch.tensor([[a]], dtype=torch.float64), None)])


def classify(loss: float, gnorm: float, lam: float, diverging: bool) -> str:
    if gnorm > GRAD_TOL:
        return "diverging" if diverging else "not converged"
    if lam < -EIG_TOL:
        return "saddle"
    return "global minimum" if loss < GLOBAL_LOSS else "local minimum"


def run(ctx) -> None:
    rep = ctx.report
    dev = ctx.device
    data = data_of_teacher(dev)
    X, T = data.X, data.T
    teacher = params(4, TEACHER_W, TEACHER_A).to(dev)
    rep.text(f"Thresholds: converged if ‖∇L‖ < {GRAD_TOL:g}; saddle if λ_min < −{EIG_TOL:g} "
             f"(its index: the number of eigenvalues below −{EIG_TOL:g}); global minimum if loss < "
             f"{GLOBAL_LOSS:g}, local minimum otherwise; diverging if ‖∇L‖ stays above the "
             f"threshold through {REFINE_ROUNDS} more rounds of {REFINE_STEPS} LM steps while ‖θ‖ "
             "grows in every round (no critical point at finite parameters on its path).")

    # Exact anchors: the teacher itself, and a width-5 student that splits one teacher neuron in
    # two (a manifold of global minima: zero loss, zero gradient, one exactly flat direction).
    t_loss, t_grad = hessian.value_and_grad(student(4), teacher, data)
    t_eig = hessian.eigvalsh(hessian.Hessian(student(4), teacher, data))[0]
    rep.check("teacher: loss", t_loss.item(), 0.0, 1e-20)
    rep.check("teacher: gradient norm", t_grad.norm().item(), 0.0, 1e-12)
    rep.check("teacher: smallest Hessian eigenvalue >= -1e-12", t_eig.min().item(), -1e-12, kind="ge")
    split = params(5, TEACHER_W + [TEACHER_W[0]], [0.3] + TEACHER_A[1:] + [0.7]).to(dev)
    s_loss, s_grad = hessian.value_and_grad(student(5), split, data)
    s_eig = hessian.eigvalsh(hessian.Hessian(student(5), split, data))[0]
    rep.check("split-neuron width-5 student: loss", s_loss.item(), 0.0, 1e-20)
    rep.check("split-neuron width-5 student: gradient norm", s_grad.norm().item(), 0.0, 1e-12)
    rep.check("split-neuron width-5 student: flat direction |λ_min|", abs(s_eig.min().item()), 0.0, 1e-10)

    runs = 24 if ctx.quick else 1000
    steps = 2500 if ctx.quick else 3000
    lr = 3e-2
    lm_steps = 300
    counts, record, worst_ref_err = {}, {}, 0.0
    for width in track([4, 5, 6, 7], "teacher-student: widths"):
        net = student(width)
        theta0 = net.init(runs, generator=ctx.generator(width), scheme="normal", dtype=torch.float64).to(dev)
        theta, norms, loss, gnorm, lam, index, diverging = train_and_classify(
            net, theta0, data, steps=steps, lr=lr, lm_steps=lm_steps)
        # The engine's smallest eigenvalue against the torch.func reference on a few students.
        ref = reference.hessian.hessian(net, theta[:4].cpu(), Data(X.cpu(), T.cpu()))
        ref_lam = torch.linalg.eigvalsh(ref)[:, 0]
        worst_ref_err = max(worst_ref_err, (lam[:4].cpu() - ref_lam).abs().max().item())

        kinds = classes(loss, gnorm, lam, diverging)
        flipped = _perturb_and_reoptimise(net, theta, data, lam, ctx, lm_steps)
        counts[width] = {k: kinds.count(k) for k in KINDS}
        counts[width]["λ_min < 0 students flipped by perturbation"] = flipped
        levels = sorted({int(i) for i, k in zip(index, kinds) if k == "saddle"})
        counts[width]["saddles by index"] = ", ".join(
            f"{lv}: {sum(1 for i, k in zip(index, kinds) if k == 'saddle' and int(i) == lv)}"
            for lv in levels) or "none"
        record[width] = {"loss": loss.tolist(), "grad_norm": gnorm.tolist(), "lambda_min": lam.tolist(),
                         "index": index.tolist(), "class": kinds,
                         "norm_per_round": norms.T.tolist(),
                         "diverging_units": [_diverging_units(net, theta[b]) if k == "diverging"
                                             else None for b, k in enumerate(kinds)]}
        rep.info(f"width {width}: {runs} students", ", ".join(f"{k}: {v}" for k, v in counts[width].items()))
        rep.check(f"width {width}: students neither converged nor escaping to infinity",
                  counts[width]["not converged"], 0, kind="eq",
                  note="escaping: ‖θ‖ grew in every refinement round, gradient still above threshold")
    rep.check("λ_min: engine vs torch.func reference (max abs diff)", worst_ref_err, 0.0, 1e-8)
    rep.data["counts"] = counts
    rep.data["students"] = record
    rep.text("| width | " + " | ".join(counts[4]) + " |\n|---|" + "---|" * len(counts[4]) + "\n" +
             "\n".join(f"| {w} | " + " | ".join(str(v) for v in c.values()) + " |"
                       for w, c in counts.items()))
    _figure(rep, record)


def data_of_teacher(device="cpu") -> Data:
    """The seed's dataset: the 1681-point grid labelled by the width-4 teacher."""
    X = grid().to(device)
    return Data(X, forward(student(4), params(4, TEACHER_W, TEACHER_A).to(device), X)[0])


def train_and_classify(net, theta0, data, *, steps: int, lr: float, lm_steps: int):
    """Adam (steps, lr), then LM (lm_steps), then LM in rounds while the gradient is above
    GRAD_TOL; returns theta, the norms per round, and per student loss, gradient norm, smallest
    Hessian eigenvalue, index and whether it escapes to infinity (``classes`` names them)."""
    theta, _ = hessian.fit(net, theta0, data, lr=lr, steps=steps, progress=False)
    theta, _ = hessian.levenberg_marquardt(net, theta, data, steps=lm_steps)
    theta, norms = refine(net, theta, data)
    loss, grad = hessian.value_and_grad(net, theta, data)
    spectrum = hessian.eigvalsh(hessian.Hessian(net, theta, data))
    return (theta, norms, loss, grad.norm(dim=1), spectrum[:, 0], (spectrum < -EIG_TOL).sum(1),
            escapes(norms))


def classes(loss, gnorm, lam, diverging) -> list[str]:
    return [classify(*v) for v in zip(loss.tolist(), gnorm.tolist(), lam.tolist(),
                                      diverging.tolist())]


def refine(net, theta, data, rounds: int = REFINE_ROUNDS, steps: int = REFINE_STEPS):
    """Levenberg-Marquardt, in rounds, for the students whose gradient norm is still above
    GRAD_TOL. Returns theta and every student's parameter norm before each round and at the end,
    (rounds + 1, B) (a student that converged keeps its norm from then on)."""
    norms = [theta.norm(dim=1)]
    for _ in range(rounds):
        todo = hessian.value_and_grad(net, theta, data)[1].norm(dim=1) > GRAD_TOL
        if bool(todo.any()):
            theta = theta.clone()
            theta[todo], _ = hessian.levenberg_marquardt(net, theta[todo], data, steps=steps)
        norms.append(theta.norm(dim=1))
    return theta, torch.stack(norms)


def escapes(norms: torch.Tensor) -> torch.Tensor:
    """(B,) the parameter norm grew in every round, and by at least 10 % in all: a descent path
    that goes to infinity (a student that converged stops growing)."""
    return (norms[1:] > norms[:-1]).all(0) & (norms[-1] > 1.1 * norms[0])


def _diverging_units(net, theta) -> dict:
    """The two hidden units with the largest outgoing weights, which carry the divergence."""
    (W, _), (A, _) = net.unflatten(theta[None])
    a = A[0, 0]
    i, j = a.abs().argsort(descending=True)[:2].tolist()
    return {"units": [i, j], "outgoing": [a[i].item(), a[j].item()],
            "incoming_distance": (W[0, i] - W[0, j]).norm().item()}


def _perturb_and_reoptimise(net, theta, data, lam, ctx, lm_steps: int, eps: float = 0.1,
                            tries: int = 3) -> int:
    """Seed's test of saddles: perturb each negative-eigenvalue point by eps * (unit Gaussian
    direction), re-optimise, repeat up to `tries` times; count points whose λ_min turns >= 0."""
    idx = (lam < -EIG_TOL).nonzero().flatten()
    if len(idx) == 0:
        return 0
    th = theta[idx]
    flipped = torch.zeros(len(idx), dtype=torch.bool, device=th.device)
    g = ctx.generator(99)
    for _ in range(tries):
        d = torch.randn(th.shape, generator=g, dtype=th.dtype).to(th.device)
        cand = th + eps * d / d.norm(dim=1, keepdim=True)
        cand, _ = hessian.levenberg_marquardt(net, cand, data, steps=lm_steps)
        new_lam = hessian.extreme_eigs(hessian.Hessian(net, cand, data), k=1, which="smallest").values[:, 0]
        flipped |= new_lam >= -EIG_TOL
        th = torch.where(flipped[:, None], th, cand)
    return int(flipped.sum())


def _figure(rep, record) -> None:
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 4, figsize=(16, 4.2), sharey=True)
    colors = {"global minimum": "C2", "local minimum": "C0", "saddle": "C3", "diverging": "C1",
              "not converged": "0.6"}
    floor = 1e-20  # exact zero losses are drawn here (log axis), as the axis label says
    for ax, (width, r) in zip(axes, record.items()):
        for kind, c in colors.items():
            pts = [(l, e) for l, e, k in zip(r["loss"], r["lambda_min"], r["class"]) if k == kind]
            if pts:
                L, E = zip(*pts)
                ax.scatter([max(l, floor) for l in L], E, s=12, color=c)
        ax.set_xscale("log")
        ax.set_yscale("symlog", linthresh=1e-8)
        ax.set_title(f"student width {width}")
        ax.set_xlabel("final loss (losses below 1e-20 drawn at 1e-20)")
    axes[0].set_ylabel("smallest Hessian eigenvalue")
    handles = [plt.Line2D([], [], marker="o", ls="", color=c, label=k) for k, c in colors.items()]
    fig.legend(handles=handles, loc="lower center", ncol=len(colors), fontsize=9)
    fig.subplots_adjust(bottom=0.25)
    rep.figure(fig, "lambda_min_vs_loss.png", "Smallest Hessian eigenvalue vs final loss for every "
               "student, by width, coloured by class (as in the seed's scatter plot).")
