"""certify.critical_points: per network, a proof about the box theta-hat + [-r, r]^P — exactly one
critical point there and it is a strict local minimum, or a saddle with at least k negative
curvatures; or theta-hat itself critical with an unresolved Hessian sign; or no critical point in
the box — or ``not_certified`` with the reason.

What is proved (for exact real arithmetic on the float64 theta-hat and data; B networks at once):
1. Enclosures (``_kernel.enclose``, interval arithmetic with outward rounding, libm's error
   widened): g0 contains grad L(theta-hat); H(X) contains the Hessian of L at every point of the
   box X; L(X) the loss on X. A sample at a ReLU kink that can move inside X stops the proof (L is
   not twice differentiable there): ``Reason.kink``.
2. Existence and uniqueness, Krawczyk's test (Krawczyk 1969; Moore, Kearfott & Cloud, Introduction
   to Interval Analysis, Thm 8.2): for any matrix C, if
   K = theta-hat - C g0 + (I - C H(X)) (X - theta-hat) lies in the interior of X, then grad L has
   exactly one zero theta* in X. C is the inverse of the float Hessian at theta-hat (its
   eigendecomposition), so C need not be exact. Radii tried (epsilon inflation):
   r_k = 2 r0 4^k + 1e-300, k < max_tries, r0 = max_i sum_j |C_ij| (|mid g0_j| + rad g0_j).
3. Curvature over X (so at theta*): V = eigenvectors of the midpoint of H(X), M = V^T H(X) V in
   interval arithmetic. All Gershgorin intervals of M positive => every H in H(X) is positive
   definite (Sylvester's law of inertia; V is then nonsingular) => theta* is a strict local
   minimum. For the k most negative midpoint eigenvectors V_k: all Gershgorin intervals of
   V_k^T H(X) V_k negative => every H in H(X) has >= k negative eigenvalues (Courant-Fischer) =>
   theta* is a saddle (not a minimum) of index >= k; the largest such k is reported.
4. lambda_min over X: Gershgorin on M encloses lambda_min(M); with e >= ||V^T V - I||_F,
   lambda_min(H) = lambda_min(M) / s for some s in [1 - e, 1 + e] (Ostrowski).
5. Without existence: if some component of g0 + H(X) (X - theta-hat) (mean-value form) excludes 0,
   no critical point lies in X: ``no_critical_point``. The test runs on the box of radius
   min(r_last, min_i |mid g0_i| / (2 sum_j |mid H0_ij|)) (over g0_i != 0): at the Krawczyk
   radii (>= twice the Newton step) every row contains 0.
6. If g0 is exactly [0, 0] (every term of the gradient exactly 0, e.g. at theta = 0 of TMS),
   theta-hat itself is critical: step 3 on the Hessian at theta-hat; a sign not resolved there gives
   ``critical_degenerate`` (radius 0).
Rounding in steps 2-5: ``_interval`` (a-priori bounds, round-to-nearest, IEEE binary64).
"""
from __future__ import annotations

import math
from typing import Callable

import torch

from ..data import Data
from ..models.base import Model
from . import _interval as iv
from ._types import Certificate, Enclosure, Flag, Reason, Verdict

#: The Hessian at theta-hat counts as singular when min |eig| <= SINGULAR * max |eig| (then no C
#: can make Krawczyk's operator contract: the test would fail at every radius).
SINGULAR = 1e-12
#: Added to every radius tried (a box for a zero Newton step).
TINY = 1e-300

EncloseFn = Callable[[torch.Tensor], Enclosure]


def critical_points(model: Model, theta: torch.Tensor, data: Data, *, max_tries: int = 6
                    ) -> Certificate:
    """Certify the critical points near theta-hat of B networks.

    model: MLP or TMS; theta: (B, P) or (P,) (float32 or float64: used as the exact float64 point);
    data: ``reluscope.Data`` (loss mse, cross_entropy or bce_with_logits). max_tries: radii tried in
    Krawczyk's test (each a pass over the data, O(N P^2) per network).

    Returns a ``Certificate`` of (B,) tensors (squeezed for a single theta): verdict (``Verdict``),
    radius, loss and lambda_min enclosures (B, 2), index_lower, reason (``Reason``). Sound: a
    verdict other than ``not_certified`` is a proof under the module docstring's assumptions.
    """
    from ._kernel import enclose

    if isinstance(max_tries, bool) or not isinstance(max_tries, int) or max_tries < 1:
        raise ValueError(f"max_tries must be a positive int, got {max_tries!r}")
    single = isinstance(theta, torch.Tensor) and theta.ndim == 1
    th = theta[None] if single else theta
    cert = decide(lambda r: enclose(model, th, data, r), th, max_tries)
    return Certificate(*(t[0] for t in cert)) if single else cert


def decide(enclose: EncloseFn, theta: torch.Tensor, max_tries: int) -> Certificate:
    """Steps 2-6 of the module docstring, given ``enclose(radius (B,)) -> Enclosure`` on theta."""
    if not isinstance(theta, torch.Tensor) or theta.ndim != 2:
        raise ValueError("theta must be a (B, P) or (P,) tensor")
    B, P = theta.shape
    dev = theta.device
    f64 = dict(dtype=torch.float64, device=dev)
    nan2 = torch.full((B, 2), math.nan, **f64)
    verdict = torch.zeros(B, dtype=torch.int64, device=dev)
    reason = torch.zeros(B, dtype=torch.int64, device=dev)
    radius = torch.full((B,), math.nan, **f64)
    loss, lam = nan2.clone(), nan2.clone()
    index = torch.zeros(B, dtype=torch.int64, device=dev)
    open_ = torch.ones(B, dtype=torch.bool, device=dev)

    def settle(mask, v, why=Reason.none, r=None, L=None, lm=None, k=None):
        nonlocal open_
        mask = mask & open_
        verdict[mask] = int(v)
        reason[mask] = int(why)
        if r is not None:
            radius[mask] = r[mask]
        if L is not None:
            loss[mask] = L[mask]
        if lm is not None:
            lam[mask] = lm[mask]
        if k is not None:
            index[mask] = k[mask]
        open_ = open_ & ~mask

    E0 = enclose(torch.zeros(B, **f64))
    settle((E0.flags & int(Flag.NONFINITE)) != 0, Verdict.not_certified, Reason.nonfinite)
    settle((E0.flags & int(Flag.KINK)) != 0, Verdict.not_certified, Reason.kink)
    gc, gr = iv.from_bounds(E0.grad)
    H0c, H0r = iv.from_bounds(E0.hess)

    # step 6: theta-hat is exactly critical
    exact = (E0.grad == 0).all(-1).all(-1) & open_
    if exact.any():
        v, k, lm = curvature(H0c, H0r)
        zero = torch.zeros(B, **f64)
        settle(exact & (v == Verdict.minimum), Verdict.minimum, r=zero, L=E0.loss, lm=lm)
        settle(exact & (v == Verdict.saddle), Verdict.saddle, r=zero, L=E0.loss, lm=lm, k=k)
        settle(exact, Verdict.critical_degenerate, r=zero, L=E0.loss, lm=lm)

    # step 2: Krawczyk with C = H(theta-hat)^-1 (float), epsilon-inflated radii
    lam0, V0 = torch.linalg.eigh(torch.where(open_[:, None, None], H0c, torch.eye(P, **f64)))
    amax = lam0.abs().amax(1)
    singular = lam0.abs().amin(1) <= SINGULAR * amax
    settle(singular, Verdict.not_certified, Reason.hessian_singular)
    inv = torch.where(open_[:, None], 1 / lam0, torch.zeros_like(lam0))
    C = (V0 * inv[:, None, :]) @ V0.transpose(1, 2)
    r0 = (C.abs() @ (gc.abs() + gr)[..., None])[..., 0].amax(1)  # >= |C g|_inf for g in g0
    r = None
    for k in range(max_tries):
        r = 2 * r0 * 4.0 ** k + TINY
        settle(~torch.isfinite(r), Verdict.not_certified, Reason.existence_not_proved)
        if not open_.any():
            break
        E = enclose(torch.where(open_, r, torch.zeros_like(r)))
        settle((E.flags & int(Flag.NONFINITE)) != 0, Verdict.not_certified, Reason.nonfinite)
        settle((E.flags & int(Flag.KINK)) != 0, Verdict.not_certified, Reason.kink)
        Hc, Hr = iv.from_bounds(E.hess)
        inside = krawczyk(C, gc, gr, Hc, Hr, r) & open_
        if inside.any():
            v, idx, lm = curvature(Hc, Hr)
            settle(inside & (v == Verdict.minimum), Verdict.minimum, r=r, L=E.loss, lm=lm)
            settle(inside & (v == Verdict.saddle), Verdict.saddle, r=r, L=E.loss, lm=lm, k=idx)
            settle(inside, Verdict.not_certified, Reason.curvature_unresolved)
    if r is not None and open_.any():
        # step 5: at the radius of the Krawczyk tries every row of the mean-value form contains 0
        # (|g_i| <= r/2 sum_j |H_ij| there), so the test runs at the radius where every row
        # (with g_i != 0) can exclude it
        ratio = gc.abs() / (2 * H0c.abs().sum(-1))
        ratio = torch.where(ratio > 0, ratio, torch.full_like(ratio, torch.inf)).amin(1)
        r_nc = torch.minimum(r, ratio)
        E = enclose(torch.where(open_, r_nc, torch.zeros_like(r_nc)))
        Hc, Hr = iv.from_bounds(E.hess)
        free = (gradient_excludes_zero(gc, gr, Hc, Hr, r_nc) & (E.flags == 0)
                & torch.isfinite(r_nc))
        settle(free, Verdict.no_critical_point, r=r_nc, L=E.loss)
    settle(open_, Verdict.not_certified, Reason.existence_not_proved)
    return Certificate(verdict, radius, loss, lam, index, reason)


def krawczyk(C, gc, gr, Hc, Hr, r) -> torch.Tensor:
    """(B,) whether K = -C g0 + (I - C H(X)) [-r, r]^P lies strictly inside (-r, r)^P."""
    kc, kr = iv.matmul(C, gc[..., None], gr[..., None])
    Mc, Mr = iv.matmul(C, Hc, Hr)
    Dc, Dr = iv.identity_minus(Mc, Mr)
    P = C.shape[-1]
    spread = iv.up((Dc.abs() + Dr).sum(-1), P + 2) * r[:, None]
    reach = iv.up(kc[..., 0].abs() + kr[..., 0] + iv.up(spread, 1), 2)
    return (reach < r[:, None]).all(1) & torch.isfinite(reach).all(1)


def gradient_excludes_zero(gc, gr, Hc, Hr, r) -> torch.Tensor:
    """(B,) whether some component of g0 + H(X) [-r, r]^P excludes 0 (no critical point in X)."""
    P = Hc.shape[-1]
    spread = iv.up((Hc.abs() + Hr).sum(-1), P + 2) * r[:, None]
    reach = iv.up(gr + iv.up(spread, 1), 2)
    return ((gc.abs() > reach) & torch.isfinite(reach)).any(1)


def curvature(Hc: torch.Tensor, Hr: torch.Tensor):
    """Step 3-4 on the interval matrices (Hc ± Hr) (B, P, P): (verdict (B,) int64 — minimum,
    saddle or not_certified —, index lower bound (B,), lambda_min enclosure (B, 2))."""
    B, P, _ = Hc.shape
    f64 = dict(dtype=torch.float64, device=Hc.device)
    finite = torch.isfinite(Hc).all(-1).all(-1) & torch.isfinite(Hr).all(-1).all(-1)
    Hs = torch.where(finite[:, None, None], (Hc + Hc.transpose(1, 2)) / 2, torch.eye(P, **f64))
    mu, V = torch.linalg.eigh(Hs)
    Tc, Tr = iv.rmatmul(Hc, Hr, V)                      # H V
    Mc, Mr = iv.matmul(V.transpose(1, 2), Tc, Tr)       # V^T H V
    lo, hi = iv.gershgorin(Mc, Mr)
    verdict = torch.zeros(B, dtype=torch.int64, device=Hc.device)
    verdict[(lo > 0).all(1) & finite] = int(Verdict.minimum)
    index = torch.zeros(B, dtype=torch.int64, device=Hc.device)
    n_neg = (mu < 0).sum(1)
    for k in range(int(n_neg.max()) if B else 0, 0, -1):  # eigh: ascending, most negative first
        Vk = V[:, :, :k]
        Sc, Sr = iv.rmatmul(Hc, Hr, Vk)
        Nc, Nr = iv.matmul(Vk.transpose(1, 2), Sc, Sr)
        _, nhi = iv.gershgorin(Nc, Nr)
        ok = (nhi < 0).all(1) & (index == 0) & (k <= n_neg) & finite
        index[ok] = k
    verdict[(index > 0) & (verdict == 0)] = int(Verdict.saddle)
    # lambda_min(M) in [min lo, min m_ii.hi]; lambda_min(H) = lambda_min(M) / s, s in [1 - e, 1 + e]
    dhi = iv.to_bounds(Mc.diagonal(0, 1, 2), Mr.diagonal(0, 1, 2))[..., 1]
    m_lo, m_hi = lo.amin(1), dhi.amin(1)
    e = iv.orthogonality_defect(V)
    s_lo, s_hi = 1 - e, 1 + e
    inf = torch.full_like(m_lo, torch.inf)
    cand_lo = torch.stack([m_lo / s_lo, m_lo / s_hi], 1).amin(1)
    cand_hi = torch.stack([m_hi / s_lo, m_hi / s_hi], 1).amax(1)
    lam = torch.stack([torch.nextafter(torch.nextafter(cand_lo, -inf), -inf),
                       torch.nextafter(torch.nextafter(cand_hi, inf), inf)], 1)
    bad = ~finite | (s_lo <= 0) | lam.isnan().any(1)
    lam[bad] = torch.tensor([-math.inf, math.inf], **f64)
    return verdict, index, lam
