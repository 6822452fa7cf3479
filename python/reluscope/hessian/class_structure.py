"""Papyan's class / cross-class decomposition of the cross-entropy Gauss-Newton matrix, for B
networks at once (``class_decomposition``).

With J_i = d logits / d theta (C x P) at sample i of class y_i, p_i = softmax, sample weight w_i
(times the class importance I_{y_i}), and diag(p) - p p^T = sum_c' p_c' (e_c' - p)(e_c' - p)^T:

  G = sum_i w_i J_i^T (diag p_i - p_i p_i^T) J_i = sum_i w_i sum_c' d_ic' d_ic'^T,
  d_ic' = sqrt(p_ic') J_i^T (e_c' - p_i).

Class means d_cc' = (sum_{i in c} w_i d_ic') / W_c, W_c = sum_{i in c} w_i, and
d_c = (1 / (C - 1)) sum_{c' != c} d_cc'. Since sum_{c' != c} (d_cc' - d_c) = 0, G is exactly

  G = G_true + G_class + G_cross + G_within,
  G_true   = sum_c W_c d_cc d_cc^T                                (c' = the true class; rank <= C)
  G_class  = (C - 1) sum_c W_c d_c d_c^T                          (the class means;     rank <= C)
  G_cross  = sum_c W_c sum_{c' != c} (d_cc' - d_c)(d_cc' - d_c)^T (cross-class;  rank <= C(C-2))
  G_within = sum_i w_i sum_c' (d_ic' - d_{y_i}c')(d_ic' - d_{y_i}c')^T   (within-class),

each positive semi-definite (V. Papyan, ICML 2019 — his code's d_cc', d_c and Gram matrices,
weighted here by W_c for unbalanced classes — and JMLR 2020's G_class / G_cross / G_within).
By Weyl's inequality at most C eigenvalues of G exceed lambda_max(G - G_class), and at most
rank(G_true + G_class + G_cross) <= C^2 exceed lambda_max(G_within): the class structure's
outliers above the within-class bulk.
"""
from __future__ import annotations

from typing import NamedTuple

import torch

from ..data import Data
from ..models.base import Model, check_model
from .. import _fused
from .explicit_operators import FactorOperator
from .tangent_kernel import jacobian

__all__ = ["ClassDecomposition", "class_decomposition"]


class ClassDecomposition(NamedTuple):
    """The four parts of the Gauss-Newton matrices (each a ``FactorOperator``, B x P x P, whose
    ``vectors`` are the docstring's scaled d's): G = true_class + class_means + cross_class +
    within_class."""
    true_class: FactorOperator
    class_means: FactorOperator
    cross_class: FactorOperator
    within_class: FactorOperator


def class_decomposition(model: Model, theta: torch.Tensor, data: Data) -> ClassDecomposition:
    """Papyan's decomposition (module docstring) of B networks' cross-entropy Gauss-Newton
    matrices, whose sum is ``GaussNewton(model, theta, data)``.

    model: C = d_out >= 2 outputs (the logits); theta (B, P) or (P,) (then the operators have
    B = 1); data: ``loss="cross_entropy"`` with integer labels (class probabilities have no class
    means: ValueError), shared or per-network inputs, any sample weights and class importance.
    Cost: one Jacobian pass, O(B N C P) time and memory (the per-sample d's; ValueError above
    ``HESSIAN_MAX_BYTES``). Not differentiable (theta requiring grad: NotImplementedError)."""
    check_model(model)
    if not isinstance(data, Data):
        raise TypeError(f"data must be a reluscope.Data, got {type(data).__name__}")
    if data.loss != "cross_entropy" or not data.has_labels:
        raise ValueError("class_decomposition takes loss='cross_entropy' with integer class "
                         f"labels, got loss={data.loss!r} with "
                         f"{'labels' if data.has_labels else 'float targets'}")
    C = model.d_out
    if C < 2:
        raise ValueError(f"class_decomposition needs at least 2 classes, the model has {C}")
    if isinstance(theta, torch.Tensor) and theta.requires_grad:
        raise NotImplementedError("class_decomposition is not differentiable: pass "
                                  "theta.detach()")
    J = jacobian(model, theta, data.X)                        # (B, N, C, P)
    single = J.dim() == 3
    if single:
        J = J[None]
    th = theta[None] if single else theta
    p = torch.softmax(_fused.outputs(model.spec, th, data.X), -1)   # (B, N, C)
    Y = data.targets(C)
    Y = Y.expand(J.shape[0], -1, -1) if Y.dim() == 2 else Y    # (B, N, C) one-hot
    w = data.w.expand(J.shape[0], -1) if data.w.dim() == 1 else data.w
    w = w * (Y @ data.importance_for(C))                     # w_i I_{y_i}
    eye = torch.eye(C, dtype=p.dtype, device=p.device)
    coef = p.sqrt()[..., :, None] * (eye - p[..., None, :])   # row c': sqrt(p_c')(e_c' - p)
    d = torch.einsum("bnkc,bncp->bnkp", coef, J)              # (B, N, C', P)
    Wc = torch.einsum("bnc,bn->bc", Y, w)                     # (B, C)
    means = torch.einsum("bnc,bnkp->bckp", Y * w[..., None], d) / \
        torch.where(Wc > 0, Wc, torch.ones_like(Wc))[..., None, None]   # d_cc' (B, C, C', P)
    diag = means.diagonal(dim1=1, dim2=2).transpose(1, 2)    # d_cc (B, C, P)
    d_c = (means.sum(2) - diag) / (C - 1)                     # (B, C, P)
    off = ~torch.eye(C, dtype=torch.bool, device=p.device)
    cross = (means - d_c[:, :, None]).masked_select(off[None, :, :, None]).view(
        J.shape[0], C, C - 1, -1)                             # d_cc' - d_c, c' != c
    root = Wc.sqrt()
    within = d - torch.einsum("bnc,bckp->bnkp", Y, means)     # d_ic' - d_{y_i}c'
    return ClassDecomposition(
        FactorOperator(root[..., None] * diag),
        FactorOperator(((C - 1) * Wc).sqrt()[..., None] * d_c),
        FactorOperator((root[..., None, None] * cross).flatten(1, 2)),
        FactorOperator((w.sqrt()[..., None, None] * within).flatten(1, 2)))
