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
   eigendecomposition), so C need not be exact. Radii tried (epsilon inflation), k < max_tries:
   r_0 = 2 max_i sum_j |C_ij| |g_j| + 1e-300 (g the float gradient), then
   r_{k+1} = max(4 r_k, 2 max_i sum_j |C_ij| (|mid g0_j| + rad g0_j)) with g0 the last pass's
   rigorous enclosure of the gradient at theta-hat. C, r_0 and the no-critical-point radius come
   from the float64 engine's gradient and Hessian at theta-hat: choices, not part of the proof.
   The tries stop early where a row sum of |I - C H(X)| reaches 1 (no larger box can pass).
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
import warnings
from typing import Callable

import torch

from ..data import Data
from ..models.base import Model, check_model
from . import _interval as iv
from .._certificate import Certificate, Enclosure, Flag, Reason, Verdict

#: The Hessian at theta-hat counts as singular when min |eig| <= SINGULAR * max |eig| (then no C
#: can make Krawczyk's operator contract: the test would fail at every radius).
SINGULAR = 1e-12
#: Added to every radius tried (a box for a zero Newton step).
TINY = 1e-300

#: enclose(radius (b,), rows (b,) int64) -> Enclosure of those networks: loss and Hessian over the
#: box, gradient at its centre theta-hat (``_kernel.enclose(..., grad_at_centre=True)``).
EncloseFn = Callable[[torch.Tensor, torch.Tensor], Enclosure]
#: point() -> (grad (B, P), Hessian (B, P, P)) at theta-hat in float64, not rigorous: it only
#: chooses C and the radii (any choice keeps the proofs sound).
PointFn = Callable[[], tuple]


def critical_points(model: Model, theta: torch.Tensor, data: Data, *, max_tries: int = 6
                    ) -> Certificate:
    """Certify the critical points near theta-hat of B networks.

    model: MLP or TMS; theta: (B, P) or (P,) (float32 or float64: used as the exact float64 point);
    data: ``reluscope.Data`` (loss mse, cross_entropy or bce_with_logits). max_tries: radii tried in
    Krawczyk's test. Cost: one float64 Hessian at theta-hat, then one interval pass over the data
    (O(N P^2) per network) per radius tried, for the networks still open; a network whose float
    Hessian is singular pays one interval pass at the point.

    Returns a ``Certificate`` of (B,) tensors (squeezed for a single theta): verdict (``Verdict``),
    radius, loss and lambda_min enclosures (B, 2), index_lower, reason (``Reason``). Sound: a
    verdict other than ``not_certified`` is a proof under the module docstring's assumptions.
    """
    from .. import hessian
    from ._kernel import enclose

    check_model(model)
    if isinstance(max_tries, bool) or not isinstance(max_tries, int) or max_tries < 1:
        raise ValueError(f"max_tries must be a positive int, got {max_tries!r}")
    single = isinstance(theta, torch.Tensor) and theta.ndim == 1
    th = theta[None] if single else theta
    th = th.to(torch.float64) if isinstance(th, torch.Tensor) else th
    data64 = _float64(data, model)

    def point():
        with warnings.catch_warnings():  # kinks: the interval passes flag them (Reason.kink)
            warnings.simplefilter("ignore", hessian.KinkWarning)
            g = hessian.value_and_grad(model, th, data64)[1]
            return g, hessian.dense_hessian(model, th, data64)

    def enc(r, rows):
        sub = data if len(rows) == th.shape[0] else data.models(rows)
        return enclose(model, th[rows], sub, r, grad_at_centre=True)

    cert = decide(enc, point, th, max_tries)
    return Certificate(*(t[0] for t in cert)) if single else cert


def _float64(data: Data, model: Model) -> Data:
    """data in float64 (exact), for the float engine's estimates at theta-hat."""
    if not isinstance(data, Data):
        raise TypeError(f"data must be a reluscope.Data, got {type(data).__name__}")
    if data.X.dtype == torch.float64:
        return data
    d_out = model.layers[-1].d_out
    return Data(data.X.double(), data.targets(d_out).double(), weights=data.w.double(),
                importance=data.importance_for(d_out).double(), loss=data.loss)


def decide(enclose: EncloseFn, point: PointFn, theta: torch.Tensor, max_tries: int
           ) -> Certificate:
    """Steps 2-6 of the module docstring for the networks theta (B, P)."""
    if not isinstance(theta, torch.Tensor) or theta.ndim != 2:
        raise ValueError("theta must be a (B, P) or (P,) tensor")
    B, P = theta.shape
    dev = theta.device
    f64 = dict(dtype=torch.float64, device=dev)
    out = {"verdict": torch.zeros(B, dtype=torch.int64, device=dev),
           "reason": torch.zeros(B, dtype=torch.int64, device=dev),
           "radius": torch.full((B,), math.nan, **f64),
           "loss": torch.full((B, 2), math.nan, **f64),
           "lambda_min": torch.full((B, 2), math.nan, **f64),
           "index_lower": torch.zeros(B, dtype=torch.int64, device=dev)}
    open_ = torch.ones(B, dtype=torch.bool, device=dev)

    def settle(rows, v, why=Reason.none, **values):
        """Settle the still open networks among rows (int64); values are aligned with rows."""
        keep = open_[rows]
        rows = rows[keep]
        out["verdict"][rows] = int(v)
        out["reason"][rows] = int(why)
        for name, val in values.items():
            out[name][rows] = val[keep]
        open_[rows] = False

    def settle_flags(rows, E):
        settle(rows[(E.flags & int(Flag.NONFINITE)) != 0], Verdict.not_certified,
               Reason.nonfinite)
        settle(rows[(E.flags & int(Flag.KINK)) != 0], Verdict.not_certified, Reason.kink)

    def settle_exact(rows, E):
        """Step 6: networks whose gradient enclosure at theta-hat is exactly [0, 0]."""
        exact = (E.grad == 0).all(-1).all(-1)
        if not exact.any():
            return
        rows, E = rows[exact], Enclosure(*(t[exact] for t in E))
        v, k, lm = curvature(*iv.from_bounds(E.hess))
        zero = torch.zeros(len(rows), **f64)
        for verdict in (Verdict.minimum, Verdict.saddle):
            m = v == verdict
            settle(rows[m], verdict, radius=zero[m], loss=E.loss[m], lambda_min=lm[m],
                   index_lower=k[m])
        settle(rows, Verdict.critical_degenerate, radius=zero, loss=E.loss, lambda_min=lm)

    g_f, H_f = point()
    finite = torch.isfinite(g_f).all(1) & torch.isfinite(H_f).all(-1).all(-1)
    eye = torch.eye(P, **f64)
    lam0, V0 = torch.linalg.eigh(torch.where(finite[:, None, None], (H_f + H_f.mT) / 2, eye))
    singular = ~finite | (lam0.abs().amin(1) <= SINGULAR * lam0.abs().amax(1))

    # a float Hessian singular (or not finite) at theta-hat: no Krawczyk box; theta-hat itself
    # may still be exactly critical (one interval pass at the point)
    rows = singular.nonzero()[:, 0]
    if len(rows):
        E = enclose(torch.zeros(len(rows), **f64), rows)
        settle_flags(rows, E)
        settle_exact(rows, E)
        settle(rows, Verdict.not_certified, Reason.hessian_singular)

    # step 2: Krawczyk with C = the float H(theta-hat)^-1, epsilon-inflated radii
    inv = torch.where(singular[:, None], torch.zeros_like(lam0), 1 / lam0)
    C = (V0 * inv[:, None, :]) @ V0.mT
    g_f = torch.where(finite[:, None], g_f, torch.zeros_like(g_f))
    # radii: 2 r0 + 1e-300, then 4 times the last one or twice the Newton step's reach from the
    # last pass's rigorous gradient at theta-hat, whichever is larger (a float gradient of 0
    # says nothing about the enclosure's width)
    r_next = 2 * (C.abs() @ g_f.abs()[..., None])[..., 0].amax(1) + TINY
    last = torch.full((B,), math.nan, **f64)
    trying = open_.clone()  # open, and a larger box may still pass Krawczyk's test
    for k in range(max_tries):
        rows = (open_ & trying).nonzero()[:, 0]
        r = r_next[rows]
        settle(rows[~torch.isfinite(r)], Verdict.not_certified, Reason.existence_not_proved)
        rows, r = rows[torch.isfinite(r)], r[torch.isfinite(r)]
        if not len(rows):
            break
        last[rows] = r
        E = enclose(r, rows)
        settle_flags(rows, E)
        settle_exact(rows, E)
        gc, gr = iv.from_bounds(E.grad)
        Hc, Hr = iv.from_bounds(E.hess)
        reach = (C[rows].abs() @ (gc.abs() + gr)[..., None])[..., 0].amax(1)
        r_next[rows] = torch.maximum(4 * r, 2 * reach)
        inside, stuck = krawczyk(C[rows], gc, gr, Hc, Hr, r)
        trying[rows[stuck]] = False
        if inside.any():
            rows, r, E, Hc, Hr = rows[inside], r[inside], Enclosure(*(t[inside] for t in E)), \
                Hc[inside], Hr[inside]
            v, idx, lm = curvature(Hc, Hr)
            for verdict in (Verdict.minimum, Verdict.saddle):
                m = v == verdict
                settle(rows[m], verdict, radius=r[m], loss=E.loss[m], lambda_min=lm[m],
                       index_lower=idx[m])
            settle(rows, Verdict.not_certified, Reason.curvature_unresolved)

    # step 5 on a box where every row of the mean-value form (with g_i != 0) can exclude 0: at the
    # Krawczyk radii (>= twice the Newton step) every row contains 0
    rows = (open_ & ~last.isnan()).nonzero()[:, 0]
    if len(rows):
        ratio = g_f[rows].abs() / (2 * H_f[rows].abs().sum(-1))
        ratio = torch.where(ratio > 0, ratio, torch.full_like(ratio, math.inf)).amin(1)
        r = torch.minimum(last[rows], ratio)
        E = enclose(r, rows)
        gc, gr = iv.from_bounds(E.grad)
        free = gradient_excludes_zero(gc, gr, *iv.from_bounds(E.hess), r) & (E.flags == 0)
        settle(rows[free], Verdict.no_critical_point, radius=r[free], loss=E.loss[free])
    settle(open_.nonzero()[:, 0], Verdict.not_certified, Reason.existence_not_proved)
    return Certificate(out["verdict"], out["radius"], out["loss"], out["lambda_min"],
                       out["index_lower"], out["reason"])


def krawczyk(C, gc, gr, Hc, Hr, r) -> tuple[torch.Tensor, torch.Tensor]:
    """(B,) whether K = -C g0 + (I - C H(X)) [-r, r]^P lies strictly inside (-r, r)^P, and (B,)
    whether no larger box can pass: a row sum of |I - C H(X)| >= 1 (H over a larger box contains
    H(X), so the row sum only grows, and |C g0| + rho r < r needs rho < 1)."""
    kc, kr = iv.matmul(C, gc[..., None], gr[..., None])
    Mc, Mr = iv.matmul(C, Hc, Hr)
    Dc, Dr = iv.identity_minus(Mc, Mr)
    P = C.shape[-1]
    rho = iv.up((Dc.abs() + Dr).sum(-1), P + 2)
    reach = iv.up(kc[..., 0].abs() + kr[..., 0] + iv.up(rho * r[:, None], 1), 2)
    inside = (reach < r[:, None]).all(1) & torch.isfinite(reach).all(1)
    return inside, ~inside & ~(rho < 1).all(1)


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
