"""Reference certificates of critical points in arbitrary-precision interval arithmetic
(``mpmath.iv``): the same calls as ``reluscope.certify``, computed independently of the kernels.

``enclose(model, theta, data, radius, *, prec=113)`` encloses the loss L, its gradient and its
Hessian over the box theta-hat + [-r, r]^P of each network (the ENCLOSURE CONTRACT of
``reluscope.certify.Enclosure``). Each parameter is the interval [c - r, c + r] (c and r float64,
taken exactly); one forward pass in second-order forward mode carries, per node, a value, a
gradient (P) and a Hessian (P x P) whose entries are mpmath intervals at ``prec`` bits with
outward rounding (entries that are exactly zero are not stored: the parameters of one unit touch
few others). For a unit a = sigma(z): value sigma(Z), gradient sigma'(Z) g_z, Hessian
sigma'(Z) H_z + sigma''(Z) g_z g_z^T, with Z the interval of z over the box, so every derivative is
enclosed over the whole box (the chain rule holds at every point of it, and every factor is an
interval containing its value there). Results go to float64 outward (lo rounded down, hi up).

Functions and their enclosures: exp, log, log1p are mpmath's interval functions (outward rounded,
as mpmath documents); tanh(z) = 1 - 2 / (e^{2z} + 1), sigmoid(z) = 1 / (1 + e^{-z}),
softplus(z) = log1p(e^z) (the smooth function everywhere: the kernels' threshold at z > 20 is a
float shortcut that this reference does not copy), each with z once so the value enclosure is tight;
their derivatives are polynomials in those intervals (sound, wider over a box). erf is not an
``mpmath.iv`` function: erf(x) at the two ends of Z (it is increasing) comes from its Taylor series
summed in interval arithmetic with 160 guard bits, the alternating tail bounded by its first
omitted term (the terms decrease from n >= x^2 on) for |x| < 10, and from
0 <= erfc(|x|) <= e^{-x^2} / (|x| sqrt(pi)) for |x| >= 10. relu / leaky_relu: where Z > 0 or Z < 0
one linear piece; where Z contains 0 (for a sample of non-zero weight) the network sets
``Flag.KINK`` and uses the hull of the pieces (value, slope; second derivative 0) -- then L is not
C^2 on the box and nothing built on it is claimed. Samples of weight 0 are skipped (they add an
exact 0). Losses as ``csrc/hessian/loss_math.h`` and ``reluscope.Data`` state them: mse
w sum_j I_j (y_j - t_j)^2, cross_entropy w (s LSE(y) - sum_j I_j t_j y_j) with s = sum_j I_j t_j
and LSE(y) = log sum_k e^{y_k}, bce_with_logits w sum_j I_j (softplus(y_j) - t_j y_j).
``Flag.NONFINITE``: some float64 end is infinite (mpmath itself does not overflow).

``critical_points(model, theta, data, *, prec=113, max_tries=6)`` -> ``Certificate``, per network:

a. E0 = enclose at radius 0: g0 (P intervals), H0. Flag KINK -> not_certified / kink; an end
   beyond the float64 range -> not_certified / nonfinite.
b. Every g0_i exactly [0, 0]: theta-hat is a critical point (exactly, for the real loss of the
   float64 theta-hat and data). The curvature test (below) on H0 gives minimum (strict local
   minimum: H0 positive definite), saddle (index_lower = k: H0 negative definite on a k-dim
   subspace) or critical_degenerate; radius 0, loss = E0's loss.
c. Otherwise Hm = mid(H0) (mpf); if its eigenvalues (``mpmath.eigsy``) have min |lambda| <=
   1e-12 max |lambda| -> not_certified / hessian_singular. C = Hm^{-1} (mpmath, approximate: the
   test is sound for any C). r0 = max_i (|C mid(g0)|_i + (|C| rad(g0))_i) (the Newton step
   plus g0's own width, so that a g0 centred on 0 still gets a positive box). For k = 0 ..
   max_tries-1: r = 2 r0 4^k + 1e-300 (float64; this epsilon-inflation doubles the step first,
   then quadruples the box; an r beyond float64 -> not_certified / existence_not_proved),
   E = enclose at radius r (E.kink -> not_certified / kink), X = [-r, r]^P
   and the Krawczyk operator K = -C g0 + (I - C H(X)) X with H(X) = E's Hessian, all in interval
   arithmetic. If every K_i lies strictly inside (-r, r), Krawczyk's existence and uniqueness
   test (R. Krawczyk 1969; R. E. Moore, SIAM J. Numer. Anal. 14, 1977) proves that the box
   theta-hat + X holds exactly one zero of grad L (and that every matrix of H(X) is nonsingular):
   the curvature test on H(X) gives minimum, saddle, or not_certified / curvature_unresolved;
   radius r, loss = E's loss (it contains L at the critical point). If every try fails, the
   mean-value form: grad L(theta-hat + x) = g(theta-hat) + int_0^1 H(theta-hat + t x) dt x lies in
   g0 + H(X) X for x in X. Row i of that excludes 0 about when |g0_i| > r sum_j |H_ij|, which
   never holds at the tried radii (r >= 2 max|delta| and g = Hm delta give |g_i| <= r/2 sum_j
   |Hm_ij|), so the test runs on its own radius r_nc = min(last r, min_i |mid g0_i| /
   (2 sum_j |mid H0_ij|)) (rows with a zero ratio left out: every row can exclude 0 there): E = enclose at r_nc;
   if E has no kink and some component of g0 + H(X) X excludes 0, grad L does not vanish on the box
   -> no_critical_point with radius r_nc and E's loss; else not_certified / existence_not_proved.
d. Curvature of an interval matrix Hbox (containing the Hessian at every point of the box): V =
   eigenvectors of mid(Hbox) (``mpmath.eigsy``, ascending eigenvalues), M = V^T Hbox V in interval
   arithmetic, eps_o = an upper bound of ||V^T V - I||_F computed in intervals; both tests need
   eps_o < 1 (then V is nonsingular). If every Gershgorin row of M has m_ii.lo - sum_{j != i}
   max|m_ij| > 0, every V^T H V is positive definite, so is every H in Hbox (Sylvester's law of
   inertia): minimum (at the unique critical point of the box: strict local minimum). Else, for k =
   k_neg (negative eigenvalues of mid(Hbox)) down to 1: if the leading k x k block of M (the k most
   negative eigenvectors V_k) has every Gershgorin row with m_ii.hi + sum_{j != i, j < k}
   max|m_ij| < 0, then x^T H x < 0 on the k-dim span of V_k for every H in Hbox, so every H has at
   least k negative eigenvalues (Courant-Fischer): saddle with index_lower = k. Else unresolved.
e. lambda_min over the box: Gershgorin on M gives lambda_min(V^T H V) in
   [min_i (m_ii.lo - rho_i), min_i m_ii.hi] (the upper end: Rayleigh quotients at the unit
   vectors); by Ostrowski's theorem lambda_min(V^T H V) = theta lambda_min(H) with theta in
   [lambda_min(V^T V), lambda_max(V^T V)] within [1 - eps_o, 1 + eps_o], so lambda_min(H) lies in
   that interval divided by [1 - eps_o, 1 + eps_o] (interval division; the whole line if
   eps_o >= 1).

What a verdict proves, and under which assumptions: statements about the exact real loss of the
float64 theta-hat and data (as ``Data`` converts them to float64 exactly) with exact real
activations and losses (the smooth softplus), assuming mpmath's interval arithmetic and its
interval exp / log / log1p / sqrt / pi round outward as documented (the erf enclosure is proved
above from series bounds on top of them). No IEEE 754 assumption: nothing here is computed in
float64 but the final outward conversion, which is exact comparisons in mpmath.

Certificate conventions: radius nan, loss and lambda_min (nan, nan), index_lower 0 for
not_certified; lambda_min (nan, nan) for no_critical_point (no curvature claim); index_lower 0 but
for saddles. Slow (Python, O(P^2) intervals per node per sample, O(P^3) per test): for tiny
networks (P <= ~15) and few samples (N <= ~50). ``prec`` sets mpmath's global ``iv.prec`` and
``mp.prec`` for the call (restored afterwards; not thread-safe).
"""
from .critical import critical_points
from .enclose import enclose

__all__ = ["critical_points", "enclose"]
