"""Batched operators given explicitly (``reluscope.hessian.operators`` has the interface):

- ``DenseOperator``: explicit matrices (B, P, P), e.g. to compare an algorithm with eigh.
- ``FactorOperator``: F^T F from R vectors per network (low rank; ``class_decomposition``).
"""
from __future__ import annotations

import torch

from .operators import BatchedLinearOperator

__all__ = ["DenseOperator", "FactorOperator"]


class DenseOperator(BatchedLinearOperator):
    """Explicit symmetric matrices A (B, P, P) as an operator."""

    def __init__(self, A: torch.Tensor):
        if A.dim() != 3 or A.shape[1] != A.shape[2]:
            raise ValueError(f"A must be (B, P, P), got {tuple(A.shape)}")
        self.A = A
        self.shape, self.dtype, self.device = tuple(A.shape), A.dtype, A.device

    def matmat(self, V: torch.Tensor) -> torch.Tensor:
        return V @ self.A.transpose(1, 2)

    def network(self, b: int) -> "DenseOperator":
        b = self._check_network(b)
        return DenseOperator(self.A[b:b + 1])

    def to_dense(self) -> torch.Tensor:
        return 0.5 * (self.A + self.A.transpose(1, 2))

    def diagonal(self) -> torch.Tensor:
        return self.A.diagonal(dim1=1, dim2=2)


class FactorOperator(BatchedLinearOperator):
    """A_b = F_b^T F_b from R vectors per operator, F (B, R, P): positive semi-definite, rank <=
    R. Products O(R P) per direction; ``eigvalsh`` from the R x R Gram matrices F F^T when R < P
    (the same nonzero eigenvalues), memory O(B R P)."""

    def __init__(self, vectors: torch.Tensor):
        if vectors.dim() != 3:
            raise ValueError(f"vectors must be (B, R, P), got {tuple(vectors.shape)}")
        self.vectors = vectors
        B, _, P = vectors.shape
        self.shape, self.dtype, self.device = (B, P, P), vectors.dtype, vectors.device

    def matmat(self, V: torch.Tensor) -> torch.Tensor:
        return (V @ self.vectors.transpose(1, 2)) @ self.vectors

    def network(self, b: int) -> "FactorOperator":
        b = self._check_network(b)
        return FactorOperator(self.vectors[b:b + 1])

    def to_dense(self) -> torch.Tensor:
        return self.vectors.transpose(1, 2) @ self.vectors

    def eigvalsh(self) -> torch.Tensor:
        """(B, min(R, P)) ascending: the largest min(R, P) eigenvalues of each A_b (the others
        are 0)."""
        F = self.vectors
        small = F @ F.transpose(1, 2) if F.shape[1] < F.shape[2] else self.to_dense()
        return torch.linalg.eigvalsh(0.5 * (small + small.transpose(1, 2)))
