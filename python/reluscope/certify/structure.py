"""Symmetry-induced global minima of two-layer students of a known teacher (``teacher_match``).

A two-layer network (``MLP([d, h, m], activation)``) computes, with u_i = (w_i, b_i) the incoming
weights of hidden neuron i (and its bias, when the model has biases), x~ = (x, 1) (or x) and
a_i in R^m its outgoing weights,

    f(x) = c + sum_i a_i sigma(u_i . x~)          (c: the output bias, or 0 without biases).

For the activations taken here, sigma(-z) = kappa - sigma(z) (sigmoid: kappa = 1, since
sigma(-z) = 1 - sigma(z); tanh and erf: kappa = 0, they are odd) and |sigma| <= 1. A student
neuron with u_i = -u equals a_i kappa - a_i sigma(u . x~): a *sign-flipped copy* of u adds the
constant kappa a_i and the coefficient -a_i on sigma(u . x~). Grouping the student's neurons by
their incoming weights up to sign gives, with rho_i = -1 for flipped members and +1 otherwise,

    f_student = c + kappa sum_{i flipped} a_i + sum_groups (sum_{i in g} rho_i a_i) sigma(u_g . x~)

so the student computes the teacher's function when, for every teacher neuron t, the signed
outgoing weights of its copies sum to a_t; for every group that copies no teacher neuron (a
*zero-sum group*; a dead neuron, a_i = 0, is one on its own) they sum to 0; and the constants
cancel: c + kappa sum_{i flipped} a_i = c_teacher (without output biases, with sigmoid: the
outgoing weights of all flipped neurons sum to 0). These are the symmetry-induced global minima
(Simsek et al. 2021, and the sigmoid identity of the teacher-student study). The conditions are
sufficient; they are also necessary where the functions sigma(u_g . x~) of distinct groups and the
constant 1 are linearly independent as functions on R^d (for tanh, with nonzero u_g: Sussmann
1992; sigmoid reduces to tanh by sigma(z) = (1 + tanh(z / 2)) / 2). On a finite dataset they are
sufficient only.

Rigour: the symmetric point is a float64 point; its outgoing weights satisfy the linear conditions
only up to float64 rounding. ``gap`` is therefore computed, not assumed. Exactly (reals, on the
float64 values of the symmetric point and the teacher), f_symmetric - f_teacher = r_0 +
sum_g r_g sigma(u_g . x~), r the residuals of the conditions (constant, and one per teacher neuron
and per zero-sum group; the snapped u are the float64 values of the teacher's neurons or of the
group's leader, or their exact negations). Each r is a sum of float64 terms with coefficients 0,
+-1 or kappa in {0, 1}, so each term is exact and math.fsum returns r correctly rounded (and,
from the sign of the remainder, which side of the exact sum it lies on); with |sigma| <= 1,
sup_x |f_symmetric(x) - f_teacher(x)|_j <= sum |r_j|, bounded upward the same way. This holds
for every input x in R^d and needs no bound on libm (no activation is evaluated).
``loss_bound`` multiplies (sum_n w_n, bounded upward) by sum_j I_j gap_j^2 in exact rational
arithmetic and rounds the product up.
"""
from __future__ import annotations

import math
from fractions import Fraction
from typing import NamedTuple, Optional

import torch

from .._validate import as_float_tensor, check_finite
from ..data import Data
from ..models.base import Model, check_model
from ..models.mlp import MLP
from ._exact import abs_sums_up, sum_up, up

__all__ = ["TeacherMatch", "teacher_match"]

#: kappa of sigma(-z) = kappa - sigma(z) for the activations teacher_match takes (|sigma| <= 1).
REFLECTION = {"sigmoid": 1.0, "tanh": 0.0, "erf": 0.0}


class TeacherMatch(NamedTuple):
    """``teacher_match``'s result per student (B,), h the student's hidden width, m its outputs.

    group: (B, h) int64, the teacher neuron student neuron i copies (w_i = +-w_t within tol), or
        -1 for a neuron in a zero-sum group (including dead neurons, a_i = 0, copying no one).
    zero_sum: (B, h) int64, for neurons with group -1 the index of the first neuron (the leader)
        of their zero-sum group, whose incoming weights the group takes; -1 for copies.
    flipped: (B, h) bool, the neuron copies -w (of its teacher neuron, or of its group's leader).
    matched: (B,) bool, distance <= tol and gap <= tol (max over outputs): the student is within
        tol of a symmetric point that computes the teacher's function.
    symmetric_point: (B, P) float64, the student snapped onto its structure: every copy's incoming
        weights set to the teacher's (or their negation), every zero-sum member's to its leader's
        (or their negation), then the outgoing weights (and output bias) moved by the least-squares
        (minimum Euclidean norm) correction onto the affine set of the conditions.
    distance: (B,) float64, max_k |theta_k - symmetric_point_k|.
    gap: (B, m) float64, a certified upper bound on sup over all x in R^d of
        |f_symmetric(x) - f_teacher(x)| per output (0 when the conditions hold exactly; at least
        the residual of an unsatisfiable condition, e.g. |a_t| for a teacher neuron nobody copies).
    loss_bound: (B, 2) float64 [0, U] or None when no ``data`` is given: the MSE loss of the
        student at symmetric_point on data's inputs, weights w_n and importance I_j with the
        teacher's exact outputs as targets, L = sum_n w_n sum_j I_j (f_sym(x_n) - f_teacher(x_n))^2,
        lies in [0, U], U = (sum_n w_n) sum_j I_j gap_j^2 rounded up.
    """

    group: torch.Tensor
    zero_sum: torch.Tensor
    flipped: torch.Tensor
    matched: torch.Tensor
    symmetric_point: torch.Tensor
    distance: torch.Tensor
    gap: torch.Tensor
    loss_bound: Optional[torch.Tensor]


def teacher_match(model: Model, theta: torch.Tensor, teacher_model: Model,
                  teacher_theta: torch.Tensor, data: Optional[Data] = None, *,
                  tol: float = 1e-6) -> TeacherMatch:
    """Group the neurons of B two-layer students by the teacher neurons they copy and snap each
    student onto the nearest symmetry-induced global minimum of that structure.

    Args:
        model: the students, ``MLP([d, h, m], activation, bias)`` with activation sigmoid, tanh
            or erf (the identity sigma(-z) = kappa - sigma(z) and |sigma| <= 1 are used).
        theta: (B, P) float32/float64 students (converted exactly to float64).
        teacher_model: ``MLP([d, h_t, m], activation, bias)``, same d, m, activation and bias;
            its neurons pairwise more than 2 tol apart up to sign (the teacher in reduced form:
            the grouping is then unique).
        teacher_theta: (P_t,), (1, P_t) shared by all students, or (B, P_t) one per student.
        data: optional ``Data`` with loss "mse" and m outputs; only its sample weights (N,) or
            (B, N) and importance enter ``loss_bound`` (the bound holds for any inputs).
        tol: >= 0. Neuron i copies teacher neuron t when max|u_i - u_t| <= tol (flipped:
            max|u_i + u_t| <= tol), u = incoming weights and bias; the remaining neurons form
            zero-sum groups greedily: in index order, each neuron not yet grouped leads a group
            of the ungrouped neurons within tol of its u (or of -u). Also the threshold of
            ``matched`` on distance and gap.

    Returns:
        ``TeacherMatch`` (its docstring gives the shapes and what each field means), on theta's
        device. Cost: O(B h (h + h_t) d) for the grouping, a batched (h + h_t + 1) x (h + 1)
        pseudo-inverse, and an exact O(B (h + h_t) m) residual sum in Python.

    Raises:
        TypeError: a model that is not an MLP. NotImplementedError: another activation (relu,
        leaky_relu: positive homogeneity adds a rescaling symmetry not covered here; identity,
        quadratic, softplus: no reflection identity with a bounded activation). ValueError: not
        two layers, mismatched architectures, bad shapes, NaN/inf, tol, a teacher not in
        reduced form, data not MSE or of the wrong outputs / models.
    """
    _check_models(model, teacher_model)
    if (not isinstance(tol, (int, float)) or isinstance(tol, bool) or not math.isfinite(tol)
            or tol < 0):
        raise ValueError(f"tol must be a finite number >= 0, got {tol!r}")
    theta = as_float_tensor(theta, "theta")
    if theta.dim() != 2 or theta.shape[1] != model.num_params:
        raise ValueError(f"theta must have shape (B, {model.num_params}) for {model!r}, "
                         f"got {tuple(theta.shape)}")
    check_finite(theta, "theta")
    B = theta.shape[0]
    tt = as_float_tensor(teacher_theta, "teacher_theta", like=theta)
    if tt.dim() == 1:
        tt = tt[None]
    if tt.dim() != 2 or tt.shape[1] != teacher_model.num_params or tt.shape[0] not in (1, B):
        raise ValueError(f"teacher_theta must have shape ({teacher_model.num_params},), "
                         f"(1, {teacher_model.num_params}) or ({B}, {teacher_model.num_params}) "
                         f"for {teacher_model!r} and B = {B} students, got "
                         f"{tuple(teacher_theta.shape)}")
    if tt.device != theta.device:
        raise ValueError(f"teacher_theta is on {tt.device} but theta is on {theta.device}")
    check_finite(tt, "teacher_theta")
    theta, tt = theta.double(), tt.double().expand(B, -1)
    weights = _data_weights(data, model, B)
    kappa = REFLECTION[model.activation]

    u, a, c = _neurons(model, theta)       # (B, h, k), (B, h, m), (B, m) or None
    ut, at, ct = _neurons(teacher_model, tt)
    h, ht = u.shape[1], ut.shape[1]
    _check_reduced(ut, tol)

    # Copies of teacher neurons: at most one t within tol up to sign (teacher separated by 2 tol).
    dp, tp = _dist(u, ut, -1.0).min(-1)
    dm, tm = _dist(u, ut, 1.0).min(-1)
    copy, flip_copy = dp <= tol, (dp > tol) & (dm <= tol)
    group = torch.where(copy, tp, torch.where(flip_copy, tm, -1))
    flipped = flip_copy.clone()
    # Zero-sum groups among the others, greedily by leader in index order.
    zero_sum = torch.full_like(group, -1)
    free = group < 0
    sp, sm = _dist(u, u, -1.0) <= tol, _dist(u, u, 1.0) <= tol   # (B, h, h): [leader, member]
    for i in range(h):
        take = free[:, i, None] & free & (sp[:, i] | sm[:, i])
        zero_sum = torch.where(take, i, zero_sum)
        flipped = torch.where(take, ~sp[:, i], flipped)
        free = free & ~take

    # Snap the incoming weights: the teacher's (copies) or the leader's (zero-sum groups).
    sign = 1.0 - 2.0 * flipped.double()
    src = torch.where((group >= 0)[..., None], _take(ut, group.clamp(min=0)),
                      _take(u, zero_sum.clamp(min=0)))
    u_sym = sign[..., None] * src

    # The conditions M v = Y on v = (a_1..a_h, c): one row per teacher neuron, per possible
    # zero-sum leader, and the constant; least-squares correction v - M^+ (M v - Y).
    R, n = ht + h + 1, h + (c is not None)
    row = torch.where(group >= 0, group, ht + zero_sum)
    M = theta.new_zeros(B, R, n)
    M.scatter_(1, row[:, None, :], sign[:, None, :])
    M[:, R - 1, :h] = kappa * flipped.double()
    Y = theta.new_zeros(B, R, a.shape[2])
    Y[:, :ht] = at
    v = a if c is None else torch.cat([a, c[:, None]], 1)
    if c is not None:
        M[:, R - 1, h] = 1.0
        Y[:, R - 1] = ct
    v_sym = v - torch.linalg.pinv(M) @ (M @ v - Y)

    a_sym = v_sym[:, :h]
    params = [(u_sym[..., :model.d_in], u_sym[..., model.d_in] if c is not None else None),
              (a_sym.transpose(1, 2), v_sym[:, h] if c is not None else None)]
    symmetric_point = model.flatten(params)
    distance = (theta - symmetric_point).abs().amax(1)
    gap_up = abs_sums_up(M, v_sym, Y)  # per b: m floats
    gap = theta.new_tensor(gap_up).reshape(B, a.shape[2])
    matched = (distance <= tol) & (gap.amax(1) <= tol)
    loss_bound = None
    if weights is not None:
        w_sum, imp = weights
        U = [up(Fraction(w_sum[b if len(w_sum) > 1 else 0]) *
                 sum((i * Fraction(g) ** 2 for i, g in zip(imp, gb)), Fraction(0)))
             for b, gb in enumerate(gap_up)]
        loss_bound = torch.stack([theta.new_zeros(B), theta.new_tensor(U)], 1)
    return TeacherMatch(group, zero_sum, flipped, matched, symmetric_point, distance, gap,
                        loss_bound)


def _check_models(model, teacher_model) -> None:
    for name, m in (("model", model), ("teacher_model", teacher_model)):
        check_model(m, name)
        if not isinstance(m, MLP):
            raise TypeError(f"{name} must be a two-layer reluscope.MLP, got {m!r}")
        if len(m.widths) != 3:
            raise ValueError(f"{name} must have two layers, MLP([d, h, m], ...), got {m!r}")
        if m.activation not in REFLECTION:
            raise NotImplementedError(
                f"teacher_match takes activations {sorted(REFLECTION)} (bounded, with "
                f"sigma(-z) = kappa - sigma(z)), got {m.activation!r} in {name}")
    for attr in ("activation", "bias"):
        if getattr(model, attr) != getattr(teacher_model, attr):
            raise ValueError(f"student and teacher differ in {attr}: {model!r} vs "
                             f"{teacher_model!r}")
    if (model.d_in, model.d_out) != (teacher_model.d_in, teacher_model.d_out):
        raise ValueError(f"student and teacher differ in inputs or outputs: {model!r} vs "
                         f"{teacher_model!r}")


def _data_weights(data, model, B):
    """(sum_n w_n rounded up per model (1 or B floats), importance as Fractions) or None."""
    if data is None:
        return None
    if not isinstance(data, Data):
        raise TypeError(f"data must be a reluscope.Data or None, got {type(data).__name__}")
    if data.loss != "mse":
        raise ValueError(f"loss_bound is the MSE loss: data.loss must be 'mse', got {data.loss!r}")
    if data.imp.shape[0] != model.d_out:
        raise ValueError(f"data has {data.imp.shape[0]} outputs but the model gives {model.d_out}")
    w = data.w.double().cpu()
    if w.dim() == 2 and w.shape[0] != B:
        raise ValueError(f"data has weights for {w.shape[0]} models, theta for {B}")
    rows = w.tolist() if w.dim() == 2 else [w.tolist()]
    w_sum = [sum_up(r) for r in rows]
    return w_sum, [Fraction(i) for i in data.imp.double().cpu().tolist()]


def _neurons(model: MLP, theta: torch.Tensor):
    """u (B, h, d[+1]) incoming weights [and bias], a (B, h, m), c (B, m) or None."""
    (W, b), (A, c) = model.unflatten(theta)
    u = W if b is None else torch.cat([W, b[..., None]], 2)
    return u, A.transpose(1, 2), c


def _dist(u: torch.Tensor, v: torch.Tensor, s: float) -> torch.Tensor:
    """(B, h, h') max_k |u_i + s v_j|."""
    return (u[:, :, None] + s * v[:, None]).abs().amax(-1)


def _take(u: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """u[b, idx[b, i]] for (B, h', k) u and (B, h) idx."""
    return torch.gather(u, 1, idx[..., None].expand(-1, -1, u.shape[2]))


def _check_reduced(ut: torch.Tensor, tol: float) -> None:
    """ValueError when two teacher neurons are within 2 tol of each other up to sign."""
    h = ut.shape[1]
    off = ~torch.eye(h, dtype=torch.bool, device=ut.device)
    close = ((_dist(ut, ut, -1.0) <= 2 * tol) | (_dist(ut, ut, 1.0) <= 2 * tol)) & off
    if bool(close.any()):
        b, t, s = (int(v) for v in close.nonzero()[0])
        raise ValueError(f"teacher neurons {t} and {s} (teacher {b}) are within 2 tol = "
                         f"{2 * tol:g} of each other up to sign: merge them (reduced form) or "
                         f"lower tol")
