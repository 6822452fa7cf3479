"""The critical-point search of ``reproduce critical-points`` (``search``) and its bookkeeping:
each critical point counted once up to the tanh network's symmetries (``canonical``,
``distinct``)."""
from __future__ import annotations

import torch

from .. import hessian

F64 = torch.float64
PATIENCE = 30
SNAPSHOTS = (50, 100, 200, 400, 800)      # SGD steps (lr 0.05) at which trajectory points start
HOP = 0.5                                 # a hop's noise, relative to the point's mean |theta_i|
DISTINCT_TOL = 1e-4                       # same critical point: relative canonical distance


def search(net, data, gen, *, target, batches, starts, rounds, copies, minima, steps) -> dict:
    """Distinct critical points (``_Found``), in batches (at least one) until ``target`` of them
    are found or ``batches`` batches have run (the yield per search falls with phi — measured:
    8.0 % of the searches give a new distinct point at phi = 0.1, 3.1 % at phi = 0.8 — so a
    fixed number of searches gives thousands at small phi and hundreds at large phi). A batch:
    the finder from ``starts`` random initialisations, from the points along their SGD trajectories
    (``SNAPSHOTS``: early ones carry high energies), from ``minima`` Levenberg-Marquardt descents
    (minima), then ``rounds`` of hops: each new distinct critical point, perturbed ``copies``
    times by Gaussian noise of HOP times its mean |theta_i|, restarts the finder (measured at
    phi = 0.1 and 0.8: a hop round finds new distinct points 2-3x faster per second than fresh
    starts do; hops sample near the points found, so the energies found are those of the
    neighbourhoods of the first finds, a bias stated in the report). Searches whose ||grad L||
    does not halve in 30 steps stop (``patience``): measured at phi = 0.2, most of those never
    converge (they creep towards gradient-flat regions), and stopping them finds ~3.4x more
    critical points per second of search. The result's ``batches`` says how many ran, its
    ``root`` each point's lineage (the start it descends from: trajectory snapshots and hops
    share their start's root), for statistics that treat a lineage's points as correlated."""
    found, ran = _Found(net), 0
    while ran == 0 or (ran < batches and found.size() < target):
        _batch(found, net, data, gen, target=target, starts=starts, rounds=rounds,
               copies=copies, minima=minima, steps=steps)
        ran += 1
    return {**found.result(), "batches": torch.tensor(ran)}


def _batch(found, net, data, gen, *, target, starts, rounds, copies, minima, steps) -> None:
    """One batch of ``search``, its finds added to ``found``; the hop rounds stop once ``found``
    holds ``target`` points."""
    theta = net.init(starts, generator=gen, dtype=F64)
    pts, done = [theta], 0
    for at in SNAPSHOTS:
        theta = hessian.training_starts(net, theta, data, snapshots=1, every=at - done,
                                        lr=0.05)[0]
        pts.append(theta)
        done = at
    low, _ = hessian.levenberg_marquardt(net, net.init(minima, generator=gen, dtype=F64), data,
                                         steps=200)
    # lineages: a trajectory's start and snapshots share one root, each descent has its own
    roots = found.new_roots(starts + minima)
    roots = torch.cat([roots[:starts].repeat(len(pts)), roots[starts:]])
    new, new_roots = found.add(hessian.critical_points(net, torch.cat(pts + [low]), data,
                                                       steps=steps, patience=PATIENCE), roots)
    for _ in range(rounds):
        if not len(new) or found.size() >= target:
            break
        seeds = new.repeat(copies, 1)
        seeds = seeds + HOP * seeds.abs().mean(1, keepdim=True) * torch.randn(
            seeds.shape, generator=gen, dtype=F64)
        new, new_roots = found.add(hessian.critical_points(net, seeds, data, steps=steps,
                                                           patience=PATIENCE),
                                   new_roots.repeat(copies))


class _Found:
    """The critical points of one dataset found so far, kept once per point up to the network's
    symmetries (``canonical``): converged (||grad L|| <= 1.5e-8), not gradient-flat; those with a
    resolved index (no eigenvalue within the band) are the critical points of the law; those with
    no eigenvalue certainly negative, resolved or not, are the minimisers (a resolved minimum, or
    a point with eigenvalues inside the band whose signs the computation does not resolve —
    measured at phi = 0.8: mostly saturated tanh units, |theta_i| up to ~35, eigenvalues ~1e-8)."""

    def __init__(self, net):
        self.net = net
        self.counts = {"tried": 0, "converged": 0, "gradient_flat": 0, "unresolved": 0,
                       "duplicates": 0}
        self.points = {"theta": [], "energy": [], "index": [], "root": []}
        self.minima = {"theta": [], "energy": [], "unresolved": []}
        self.roots = 0

    def new_roots(self, k: int) -> torch.Tensor:
        """k fresh lineage ids (int64)."""
        self.roots += k
        return torch.arange(self.roots - k, self.roots)

    def add(self, r, roots: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Adds a ``CriticalPointSearch`` whose searches descend from the lineages ``roots``
        (one per search); returns the new distinct critical points (k, P) and their roots (k,)."""
        c = self.counts
        c["tried"] += len(r.converged)
        c["converged"] += int(r.converged.sum())
        c["gradient_flat"] += int(r.gradient_flat.sum())
        c["unresolved"] += int((r.converged & (r.index.unresolved > 0)).sum())
        ok = r.converged & (r.index.unresolved == 0)
        fresh = distinct(self.net, r.theta[ok], _cat(self.points["theta"], r.theta))
        c["duplicates"] += int(ok.sum()) - len(fresh)
        new = ok.nonzero()[:, 0][fresh]
        for k, v in (("theta", r.theta), ("energy", r.energy), ("index", r.index.negative),
                     ("root", roots)):
            self.points[k].append(v[new])
        low = r.converged & (r.index.negative == 0)
        fresh = distinct(self.net, r.theta[low], _cat(self.minima["theta"], r.theta))
        rows = low.nonzero()[:, 0][fresh]
        for k, v in (("theta", r.theta), ("energy", r.energy),
                     ("unresolved", r.index.unresolved)):
            self.minima[k].append(v[rows])
        return r.theta[new], roots[new]

    def size(self) -> int:
        """The distinct critical points found so far."""
        return sum(len(t) for t in self.points["energy"])

    def result(self) -> dict:
        pts = {k: _cat(v, None) for k, v in self.points.items()}
        mins = {k: _cat(v, None) for k, v in self.minima.items()}
        return {"energy": pts["energy"], "alpha": pts["index"] / self.net.num_params,
                "index": pts["index"], "theta": pts["theta"], "root": pts["root"].long(),
                "minima_energy": mins["energy"], "minima_unresolved": mins["unresolved"],
                **{k: torch.tensor(v) for k, v in self.counts.items()}}


def _cat(parts: list, like):
    """torch.cat of a list of tensors; an empty list: a (0, ...) tensor like ``like``'s rows."""
    if parts:
        return torch.cat(parts)
    return like[:0] if like is not None else torch.zeros(0, dtype=F64)


def canonical(net, theta: torch.Tensor) -> torch.Tensor:
    """theta (B, P) of y = W2 tanh(W1 x) (no bias) in a canonical form under the network's
    symmetries: each hidden unit's sign flipped so that its incoming weight of largest |.| is
    positive (tanh is odd: (w_in, w_out) -> (-w_in, -w_out) is the same network), then the units
    sorted by their first incoming weight (permutations). Two parameter vectors of the same
    network function map to the same form (ties in either rule have measure zero)."""
    (W1, _), (W2, _) = net.unflatten(theta)
    sign = torch.sign(W1.gather(2, W1.abs().argmax(2, keepdim=True)))       # (B, hidden, 1)
    W1, W2 = W1 * sign, W2 * sign.mT
    order = W1[:, :, 0].argsort(1)
    W1 = torch.take_along_dim(W1, order[:, :, None], 1)
    W2 = torch.take_along_dim(W2, order[:, None, :], 2)
    return torch.cat([W1.flatten(1), W2.flatten(1)], 1)


def distinct(net, theta: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
    """Indices of the rows of theta (k, P) that are neither within DISTINCT_TOL (relative) of a
    row of ``known`` (j, P) nor of an earlier row of theta, in ``canonical`` form. The tolerance
    sits in a measured gap: at phi = 0.4, converged points' relative distance to their nearest
    other point is below 1e-7 (the same point reached twice) or above 1e-2 (a different one)."""
    if not len(theta):
        return torch.zeros(0, dtype=torch.long)
    c, ref = canonical(net, theta), canonical(net, known) if len(known) else theta[:0]
    tol = DISTINCT_TOL * (1 + c.norm(dim=1))
    dup = c.new_zeros(len(c), dtype=torch.bool)
    if len(ref):
        dup = (torch.cdist(c, ref) <= tol[:, None]).any(1)
    near = torch.cdist(c, c) <= tol[:, None]
    earlier = torch.ones_like(near).tril(-1)
    keep = []
    for i in range(len(c)):           # a row is a duplicate of an earlier kept row
        if not dup[i] and not (near[i] & earlier[i])[keep].any():
            keep.append(i)
    return torch.tensor(keep, dtype=torch.long)
