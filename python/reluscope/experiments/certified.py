"""The teacher-student students classified by proofs (``reluscope.certify``) beside the seed's
threshold classes: per student a certified class, and per width how many threshold verdicts the
proofs confirm, refute or leave open.

Certified classes (each a proof under ``certify.critical``'s assumptions, except "not certified"):
- "global minimum (structure)": ``teacher_match`` — the student is within MATCH_TOL of a symmetric
  point whose function equals the teacher's (gap <= MATCH_TOL), so its loss there is at most the
  teacher's own; holds on flat manifolds, where no point certificate applies.
- "local minimum (proved non-global)": a certified strict local minimum whose loss enclosure lies
  above the loss of the teacher embedded in the student (dead extra neurons), enclosed at that
  point: a lower loss exists, so the minimum is not global.
- "minimum (loss not separated)": a certified strict local minimum whose loss enclosure reaches the
  teacher's loss.
- "saddle (proved)": a certified critical point with >= 1 proved negative curvature.
- "degenerate critical point"; "no critical point in its box" (a box around the polished
  student, often tiny: its radius is recorded).
- "diverging": as the threshold classes say (no critical point at finite parameters on its path).
- "not certified: <reason>".
"""
from __future__ import annotations

from collections import Counter

import torch

from .. import certify, hessian
from ..certify import Reason, Verdict

MATCH_TOL = 1e-6


def teacher_in_student(width: int, teacher: torch.Tensor, unflatten, flatten) -> torch.Tensor:
    """The width-4 teacher (1, P_4) as a width-`width` student: extra neurons with outgoing weight
    0 (their incoming weights: copies of neuron 0, any value works)."""
    (W, _), (A, _) = unflatten(teacher)
    extra = width - W.shape[1]
    W = torch.cat([W, W[:, :1].expand(1, extra, W.shape[2])], 1)
    A = torch.cat([A, torch.zeros(1, A.shape[1], extra, dtype=A.dtype, device=A.device)], 2)
    return flatten([(W, None), (A, None)])


def polish(net, theta: torch.Tensor, data, steps: int = 4) -> torch.Tensor:
    """A few float64 Newton steps theta <- theta - H^-1 grad (batched), each kept only where it
    lowers the gradient norm: the certificate's box is then centred nearer the critical point
    (Krawczyk needs the Hessian's change over the box below its smallest |eigenvalue|). Newton
    converges to saddles too, so no class is favoured."""
    for _ in range(steps):
        g = hessian.value_and_grad(net, theta, data)[1]
        H = hessian.dense_hessian(net, theta, data)
        step = torch.linalg.solve_ex(H, g[..., None])[0][..., 0]
        cand = theta - torch.where(torch.isfinite(step), step, torch.zeros_like(step))
        better = (hessian.value_and_grad(net, cand, data)[1].norm(dim=1) < g.norm(dim=1))
        theta = torch.where(better[:, None], cand, theta)
    return theta


def classify(net, theta, data, teacher_net, teacher, diverging
             ) -> tuple[list, certify.Certificate, torch.Tensor]:
    """Certified class per student (B,) and the certificate, which is about the box around the
    Newton-polished student (``polish``), and that student's distance to it (B,) (max-norm)."""
    student = theta
    theta = polish(net, theta, data)
    cert = certify.critical_points(net, theta, data)
    match = certify.teacher_match(net, theta, teacher_net, teacher, tol=MATCH_TOL)
    embedded = teacher_in_student(net.widths[1], teacher, teacher_net.unflatten, net.flatten)
    from ..certify._kernel import enclose
    floor = enclose(net, embedded, data, torch.zeros(1, dtype=torch.float64,
                                                     device=theta.device)).loss[0, 1].item()
    out = []
    for b in range(theta.shape[0]):
        v, lo = int(cert.verdict[b]), cert.loss[b, 0].item()
        if bool(match.matched[b]):
            out.append("global minimum (structure)")
        elif bool(diverging[b]):
            out.append("diverging")
        elif v == Verdict.minimum:
            out.append("local minimum (proved non-global)" if lo > floor
                       else "minimum (loss not separated)")
        elif v == Verdict.saddle:
            out.append("saddle (proved)")
        elif v == Verdict.critical_degenerate:
            out.append("degenerate critical point")
        elif v == Verdict.no_critical_point:
            out.append("no critical point in its box")
        else:
            out.append(f"not certified: {Reason(int(cert.reason[b])).name}")
    return out, cert, (theta - student).abs().amax(1)


#: threshold class -> the certified classes that confirm it / refute it (anything else: open)
CONFIRMS = {"global minimum": {"global minimum (structure)"},
            "local minimum": {"local minimum (proved non-global)"},
            "saddle": {"saddle (proved)"},
            "diverging": {"diverging"}}
REFUTES = {"global minimum": {"local minimum (proved non-global)", "saddle (proved)"},
           "local minimum": {"saddle (proved)", "global minimum (structure)"},
           "saddle": {"local minimum (proved non-global)", "minimum (loss not separated)",
                      "global minimum (structure)"},
           "unresolved": set(), "diverging": set(), "not converged": set()}


def compare(threshold: list, certified: list, loss: torch.Tensor) -> dict:
    """Per threshold class: confirmed / refuted / open counts, and the same for the threshold
    'local minima' with loss below 1e-4 (the seed's doubted ones)."""
    out = {}
    for cls in REFUTES:
        idx = [b for b, k in enumerate(threshold) if k == cls]
        if not idx:
            continue
        c = Counter("confirmed" if certified[b] in CONFIRMS.get(cls, ()) else
                    "refuted" if certified[b] in REFUTES[cls] else "open" for b in idx)
        out[cls] = {k: c.get(k, 0) for k in ("confirmed", "refuted", "open")}
    low = [b for b, k in enumerate(threshold) if k == "local minimum" and loss[b] < 1e-4]
    if low:
        c = Counter(certified[b] for b in low)
        out["local minimum, loss < 1e-4"] = dict(c)
    return out


def contradictions(cert: certify.Certificate, negative: torch.Tensor,
                   unresolved: torch.Tensor) -> int:
    """Proofs the float64 spectrum at theta-hat contradicts beyond its resolution band (each
    would be a bug): a proved minimum with a resolved negative eigenvalue, or a proved saddle of
    index >= k with fewer than k eigenvalues below +band."""
    v = cert.verdict.cpu()
    bad_min = (v == Verdict.minimum) & (negative.cpu() > 0)
    bad_sad = (v == Verdict.saddle) & (cert.index_lower.cpu() > negative.cpu() + unresolved.cpu())
    return int(bad_min.sum() + bad_sad.sum())


EPS_GRID = (1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0)


def perturbation_curves(net, theta, data, generator, lm_steps: int, eps=EPS_GRID
                        ) -> torch.Tensor:
    """The seed's test of a point: the loss after perturbing it by eps times a unit Gaussian
    direction and re-optimising (Levenberg-Marquardt, lm_steps), for each eps (len(eps), B). At
    a strict minimum the loss comes back for small eps and jumps once eps leaves its basin; at a
    saddle it drops already for small eps."""
    d = torch.randn(theta.shape, generator=generator, dtype=theta.dtype).to(theta.device)
    d = d / d.norm(dim=1, keepdim=True)
    out = []
    for e in eps:
        cand, _ = hessian.levenberg_marquardt(net, theta + e * d, data, steps=lm_steps)
        out.append(hessian.loss(net, cand, data))
    return torch.stack(out)
