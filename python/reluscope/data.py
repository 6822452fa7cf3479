"""``Data``: a weighted dataset (inputs, targets, sample weights, output importance), validated
once and shared by the engines that take data (the Hessian engine, training)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import torch

from ._validate import as_float_tensor, check_finite, check_ndim, same_dtype_device

__all__ = ["Data"]


@dataclass
class Data:
    """A (weighted) dataset, validated once.

    Attributes:
        X: inputs, (N, d0) shared by all models or (B, N, d0) per model.
        T: targets, (N, d_out) or (B, N, d_out).
        weights: (N,) sample weights w_n; default 1/N.
        importance: (d_out,) per-output importance u; default 1.

    The loss is L_b = sum_n w_n || u ⊙ (y(x_n; theta_b) - t_n) ||^2; ``w`` and ``u2`` hold the
    weights and the squared importance the kernels read.
    """

    X: torch.Tensor
    T: torch.Tensor
    weights: Optional[torch.Tensor] = None
    importance: Optional[torch.Tensor] = None
    w: torch.Tensor = field(init=False, repr=False)
    u2: torch.Tensor = field(init=False, repr=False)

    def __post_init__(self) -> None:
        X = as_float_tensor(self.X, "X")
        T = as_float_tensor(self.T, "T")
        weights = None if self.weights is None else as_float_tensor(self.weights, "weights")
        importance = None if self.importance is None else as_float_tensor(self.importance,
                                                                           "importance")
        same_dtype_device(X, "X", T=T, weights=weights, importance=importance)
        check_ndim(X, "X", (2, 3), "(N, d0) or (B, N, d0)")
        check_ndim(T, "T", (2, 3), "(N, d_out) or (B, N, d_out)")
        N = X.shape[-2]
        if N == 0:
            raise ValueError(f"X has no samples: shape {tuple(X.shape)}")
        if T.shape[-2] != N or (X.dim() == 3 and T.dim() == 3 and T.shape[0] != X.shape[0]):
            raise ValueError(f"T {tuple(T.shape)} does not match X {tuple(X.shape)}")
        if weights is None:
            w = X.new_full((N,), 1.0 / N)
        else:
            w = weights
            if w.shape != (N,):
                raise ValueError(f"weights must be ({N},), got {tuple(w.shape)}")
        if importance is None:
            u2 = T.new_ones(T.shape[-1])
        else:
            u = importance
            if u.shape != (T.shape[-1],):
                raise ValueError(f"importance must be ({T.shape[-1]},), got {tuple(u.shape)}")
            u2 = u * u
        for name, t in (("X", X), ("T", T), ("weights", w), ("importance", u2)):
            check_finite(t, name)
        self.X, self.T = X.contiguous(), T.contiguous()
        self.w, self.u2 = w.contiguous(), u2.contiguous()

    @property
    def N(self) -> int:
        return self.X.shape[-2]
