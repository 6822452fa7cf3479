"""Seed 002: failure modes of training mildly over-parameterised two-layer networks.

Teacher: y = Σ_i a_i σ(w_i·x), sigmoid, no biases, width 4 with the seed's weights. Data: the
1681-point grid {-5, -4.75, ..., 5}², mean squared error. Students of width 4-7 are all trained
together with Adam, then refined by batched Levenberg-Marquardt (the seed refines with SLSQP, a
second-order method too), in rounds, for as long as a student's gradient is above the threshold;
then for every student: loss, gradient norm and Hessian spectrum, classified by
``hessian.classify`` (a saddle's index, its number of certainly negative eigenvalues, is the seed's
"level"): a smallest eigenvalue counts as negative or positive only outside its numerical
resolution at that gradient — the change of the Hessian over the Newton step to the nearby
critical point plus rounding — and is "unresolved" inside it (at ‖∇L‖ ~ 1e-6 the resolution is
far above the 1e-7 eigenvalues the seed discusses). Saddles are perturbed and re-optimised (LM),
as in the seed, and we count how many reach a minimum. A student whose gradient stays above the threshold
while its parameter norm grows in every round is on a descent path that escapes to infinity:
there is no critical point for it to reach at finite parameters. In the runs so far the growth
sits in two hidden units whose outgoing weights grow with opposite signs (a pair approximating a
derivative unit when their incoming weights are close); results.json records the pair and the
norm per round for each such student.

Then every student is classified again by proofs (``certified``, ``reluscope.certify``): after a
few Newton steps (``certified.polish``), a certified strict local minimum (proved non-global when
its loss enclosure lies above the teacher's loss), a certified saddle with a proved index lower
bound, a global minimum by its structure (``certify.teacher_match``: copies of teacher neurons,
zero-sum groups), a box proved to hold no critical point, or not certified with the reason; per
width the report counts how many threshold verdicts the proofs confirm, refute or leave open, and
checks that no proof contradicts the float64 spectrum beyond its band.
"""
from __future__ import annotations

import time
from collections import Counter
from typing import NamedTuple

import torch

from .. import MLP, Data, certify, forward, hessian, reference
from . import certified
from .teacher_student_plots import figures
from ..progress import track

TEACHER_W = [[0.6, 0.5], [-0.5, 0.5], [-0.2, -0.6], [0.1, -0.6]]
TEACHER_A = [1.0, -1.0, 1.0, -1.0]
# Classification thresholds (stated in the report); eigenvalue signs: hessian.classify's band.
GRAD_TOL = 1e-5      # converged: ‖∇L‖ below this
GLOBAL_LOSS = 1e-8   # global minimum: loss below this (the teacher reaches 0)
REFINE_ROUNDS, REFINE_STEPS = 4, 500  # extra LM for students not converged after the first pass
KINDS = ("global minimum", "local minimum", "saddle", "unresolved", "diverging", "not converged")


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


def kind(label: str, loss: float, diverging: bool) -> str:
    """A student's class from its ``hessian.classify`` label (at grad_tol GRAD_TOL) and loss: a
    resolved saddle; else a global minimum by its loss (every loss is >= 0); else a resolved
    local minimum; else unresolved."""
    if label == "not critical":
        return "diverging" if diverging else "not converged"
    if label == "saddle":
        return "saddle"
    if loss < GLOBAL_LOSS:
        return "global minimum"
    return "local minimum" if label == "minimum" else "unresolved"


class Students(NamedTuple):
    """``train_and_classify``'s result, per student (B,) (norms (rounds + 1, B))."""
    theta: torch.Tensor
    norms: torch.Tensor
    loss: torch.Tensor
    grad_norm: torch.Tensor
    lambda_min: torch.Tensor
    band: torch.Tensor       # resolution of lambda_min (hessian.classify)
    index: torch.Tensor      # eigenvalues below -band
    unresolved: torch.Tensor  # eigenvalues within the band
    diverging: torch.Tensor
    kinds: list


def run(ctx) -> None:
    rep = ctx.report
    dev = ctx.device
    data = data_of_teacher(dev)
    X, T = data.X, data.T
    teacher = params(4, TEACHER_W, TEACHER_A).to(dev)
    rep.text(f"Thresholds: converged if ‖∇L‖ < {GRAD_TOL:g}. The sign of λ_min is claimed only "
             "outside its resolution (`hessian.classify`): band = ‖H(θ − s) − H(θ)‖₂ + rounding "
             "(2 P eps ‖H‖₂ at both points), s = H⁺∇L the Newton step to the nearby critical "
             "point (Weyl). Saddle if λ_min < −band (its index: the eigenvalues below −band); "
             f"else global minimum if loss < {GLOBAL_LOSS:g}; else local minimum if λ_min > band; "
             "else unresolved (this includes every point with a flat direction). Diverging if "
             f"‖∇L‖ stays above the threshold through {REFINE_ROUNDS} more rounds of "
             f"{REFINE_STEPS} LM steps while ‖θ‖ grows in every round (no critical point at finite "
             "parameters on its path).")

    # Exact anchors: the teacher itself, and a width-5 student that splits one teacher neuron in
    # two (a manifold of global minima: zero loss, zero gradient, one exactly flat direction).
    t_loss, t_grad = hessian.value_and_grad(student(4), teacher, data)
    t_eig = hessian.eigvalsh(hessian.Hessian(student(4), teacher, data))[0]
    t_cls = hessian.classify(student(4), teacher[0], data, grad_tol=GRAD_TOL)
    rep.check("teacher: loss", t_loss.item(), 0.0, 1e-20)
    rep.check("teacher: gradient norm", t_grad.norm().item(), 0.0, 1e-12)
    rep.check("teacher: smallest Hessian eigenvalue >= -1e-12", t_eig.min().item(), -1e-12, kind="ge")
    rep.check("teacher: a resolved minimum, λ_min − band > 0", (t_cls.lambda_min - t_cls.band).item(),
              0.0, kind="ge", note=f"λ_min {t_cls.lambda_min.item():.3g}, band {t_cls.band.item():.2g}")
    split = params(5, TEACHER_W + [TEACHER_W[0]], [0.3] + TEACHER_A[1:] + [0.7]).to(dev)
    s_loss, s_grad = hessian.value_and_grad(student(5), split, data)
    s_eig = hessian.eigvalsh(hessian.Hessian(student(5), split, data))[0]
    s_cls = hessian.classify(student(5), split[0], data, grad_tol=GRAD_TOL)
    rep.check("split-neuron width-5 student: loss", s_loss.item(), 0.0, 1e-20)
    rep.check("split-neuron width-5 student: gradient norm", s_grad.norm().item(), 0.0, 1e-12)
    rep.check("split-neuron width-5 student: flat direction |λ_min|", abs(s_eig.min().item()), 0.0, 1e-10)
    rep.check("split-neuron width-5 student: flat direction unresolved, band − |λ_min| >= 0",
              (s_cls.band - s_cls.lambda_min.abs()).item(), 0.0, kind="ge",
              note=f"label {s_cls.label!r}, band {s_cls.band.item():.2g}")
    t_cert = certify.critical_points(student(4), teacher[0], data)
    rep.check("teacher: certified strict local minimum (Krawczyk + definiteness over the box)",
              certify.Verdict(int(t_cert.verdict)).name, "minimum", kind="eq",
              note=f"radius {t_cert.radius.item():.1e}, L in [{t_cert.loss[0]:.1e}, "
                   f"{t_cert.loss[1]:.1e}], λ_min in [{t_cert.lambda_min[0]:.3g}, "
                   f"{t_cert.lambda_min[1]:.3g}]")
    s_cert = certify.critical_points(student(5), split[0], data)
    s_match = certify.teacher_match(student(5), split, student(4), teacher, tol=certified.MATCH_TOL)
    rep.check("split-neuron student: a global minimum by structure (teacher_match)",
              bool(s_match.matched[0]), True, kind="eq", note=f"gap {s_match.gap.max():.1e}")
    rep.check("split-neuron student: no point certificate on its flat manifold",
              certify.Reason(int(s_cert.reason)).name, "hessian_singular", kind="eq")

    runs = 24 if ctx.quick else 1000
    steps = 2500 if ctx.quick else 3000
    lr = 3e-2
    lm_steps = 300
    counts, record, unresolved, worst_ref_err = {}, {}, {}, 0.0
    for width in track([4, 5, 6, 7], "teacher-student: widths"):
        net = student(width)
        theta0 = net.init(runs, generator=ctx.generator(width), scheme="normal", dtype=torch.float64).to(dev)
        st = train_and_classify(net, theta0, data, steps=steps, lr=lr, lm_steps=lm_steps)
        theta, kinds, index = st.theta, st.kinds, st.index
        # The engine's smallest eigenvalue against the torch.func reference on a few students.
        ref = reference.hessian.hessian(net, theta[:4].cpu(), Data(X.cpu(), T.cpu()))
        ref_lam = torch.linalg.eigvalsh(ref)[:, 0]
        worst_ref_err = max(worst_ref_err, (st.lambda_min[:4].cpu() - ref_lam).abs().max().item())

        t0 = time.perf_counter()
        proved, cert, moved = certified.classify(net, theta, data, student(4), teacher,
                                                 st.diverging)
        rep.info(f"width {width}: certification time (s), polishing included",
                 time.perf_counter() - t0, note=f"{runs} students, {data.N} samples")
        comparison = certified.compare(kinds, proved, st.loss.cpu())
        rep.info(f"width {width}: certified classes",
                 ", ".join(f"{k}: {v}" for k, v in sorted(Counter(proved).items())))
        rep.info(f"width {width}: threshold classes vs proofs", "; ".join(
            f"{k}: {v}" for k, v in comparison.items()))
        rep.check(f"width {width}: proofs contradicted by the float64 spectrum beyond its band",
                  certified.contradictions(cert, st.index, st.unresolved), 0, kind="eq",
                  note="a proved minimum with a resolved negative eigenvalue, or a proved saddle "
                       "of index >= k with fewer than k eigenvalues below +band")
        chosen = [b for cls in ("local minimum (proved non-global)", "saddle (proved)",
                                "global minimum (structure)")
                  for b in [i for i, p in enumerate(proved) if p == cls][:3 if ctx.quick else 8]]
        curves = (certified.perturbation_curves(net, theta[chosen], data, ctx.generator(7),
                                                lm_steps).T.tolist() if chosen else [])
        flipped = _perturb_and_reoptimise(net, theta, data, kinds, ctx, lm_steps)
        counts[width] = {k: kinds.count(k) for k in KINDS}
        counts[width]["saddles re-optimised to a minimum by perturbation"] = flipped
        levels = sorted({int(i) for i, k in zip(index, kinds) if k == "saddle"})
        counts[width]["saddles by index"] = ", ".join(
            f"{lv}: {sum(1 for i, k in zip(index, kinds) if k == 'saddle' and int(i) == lv)}"
            for lv in levels) or "none"
        unresolved[width] = kinds.count("unresolved") / runs
        record[width] = {"loss": st.loss.tolist(), "grad_norm": st.grad_norm.tolist(),
                         "lambda_min": st.lambda_min.tolist(), "band": st.band.tolist(),
                         "index": index.tolist(), "index_unresolved": st.unresolved.tolist(),
                         "class": kinds, "certified": proved, "comparison": comparison,
                         "certified_radius": cert.radius.tolist(), "polished_by": moved.tolist(),
                         "perturbed": {"students": chosen, "eps": list(certified.EPS_GRID),
                                       "loss": curves},
                         "certified_index": cert.index_lower.tolist(), "norm_per_round": st.norms.T.tolist(),
                         "diverging_units": [_diverging_units(net, theta[b]) if k == "diverging"
                                             else None for b, k in enumerate(kinds)]}
        rep.info(f"width {width}: {runs} students", ", ".join(f"{k}: {v}" for k, v in counts[width].items()))
        rep.info(f"width {width}: fraction unresolved", unresolved[width],
                 note="|λ_min| within its resolution at the student's gradient")
        rep.check(f"width {width}: students neither converged nor escaping to infinity",
                  counts[width]["not converged"], 0, kind="eq",
                  note="escaping: ‖θ‖ grew in every refinement round, gradient still above threshold")
    rep.check("λ_min: engine vs torch.func reference (max abs diff)", worst_ref_err, 0.0, 1e-8)
    rep.data["counts"] = counts
    rep.data["unresolved_fraction"] = unresolved
    rep.data["students"] = record
    rep.text("| width | " + " | ".join(counts[4]) + " |\n|---|" + "---|" * len(counts[4]) + "\n" +
             "\n".join(f"| {w} | " + " | ".join(str(v) for v in c.values()) + " |"
                       for w, c in counts.items()))
    figures(rep, record)


def data_of_teacher(device="cpu") -> Data:
    """The seed's dataset: the 1681-point grid labelled by the width-4 teacher."""
    X = grid().to(device)
    return Data(X, forward(student(4), params(4, TEACHER_W, TEACHER_A).to(device), X)[0])


def train_and_classify(net, theta0, data, *, steps: int, lr: float, lm_steps: int) -> Students:
    """Adam (steps, lr), then LM (lm_steps), then LM in rounds while the gradient is above
    GRAD_TOL; then every student classified (``hessian.classify``, ``kind``)."""
    theta, _ = hessian.fit(net, theta0, data, lr=lr, steps=steps, progress=False)
    theta, _ = hessian.levenberg_marquardt(net, theta, data, steps=lm_steps)
    theta, norms = refine(net, theta, data)
    loss = hessian.loss(net, theta, data)
    c = hessian.classify(net, theta, data, grad_tol=GRAD_TOL)
    diverging = escapes(norms)
    kinds = [kind(*v) for v in zip(c.label, loss.tolist(), diverging.tolist())]
    return Students(theta, norms, loss, c.grad_norm, c.lambda_min, c.band, c.index.negative,
                    c.index.unresolved, diverging, kinds)


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


def _perturb_and_reoptimise(net, theta, data, kinds, ctx, lm_steps: int, eps: float = 0.1,
                            tries: int = 3) -> int:
    """Seed's test of saddles: perturb each saddle by eps * (unit Gaussian direction),
    re-optimise (LM), repeat up to `tries` times; count the saddles that reach a minimum (global
    by loss, or local with λ_min resolved positive, as ``kind`` says)."""
    idx = torch.tensor([b for b, k in enumerate(kinds) if k == "saddle"], dtype=torch.long)
    if len(idx) == 0:
        return 0
    th = theta[idx.to(theta.device)]
    flipped = torch.zeros(len(idx), dtype=torch.bool, device=th.device)
    g = ctx.generator(99)
    for _ in range(tries):
        d = torch.randn(th.shape, generator=g, dtype=th.dtype).to(th.device)
        cand = th + eps * d / d.norm(dim=1, keepdim=True)
        cand, _ = hessian.levenberg_marquardt(net, cand, data, steps=lm_steps)
        c = hessian.classify(net, cand, data, grad_tol=GRAD_TOL)
        now = [kind(lb, ls, False) for lb, ls in zip(c.label, hessian.loss(net, cand, data).tolist())]
        flipped |= torch.tensor([k in ("global minimum", "local minimum") for k in now],
                                device=th.device)
        th = torch.where(flipped[:, None], th, cand)
    return int(flipped.sum())
