"""Batched linear operators: B symmetric P x P matrices applied to directions, without forming
them. The spectral algorithms (``reluscope.hessian.spectrum``) take any of them.

- ``Hessian``: H of the loss (exact Pearlmutter products from the fused kernel).
- ``GaussNewton``: its Gauss-Newton part H0 = sum_n J_n^T (d2l/dy2) J_n (PSD).
- ``Residual``: the rest, H1 = H - H0 (the sigma'' and residual terms).
- ``DenseOperator``, ``FactorOperator``: explicit matrices and low-rank factors
  (``explicit_operators``).

Every operator gives network b's alone (``network(b)``) and, for scipy's eigsh / cg / lobpcg,
a ``scipy.sparse.linalg.LinearOperator`` of it (``to_scipy(b)``; scipy is optional).
"""
from __future__ import annotations

import numbers
from typing import Optional

import torch

from .._validate import HESSIAN_MAX_BYTES
from ..data import Data
from ..models.base import Model
from .. import _fused

__all__ = ["BatchedLinearOperator", "GaussNewton", "HESSIAN_MAX_BYTES", "Hessian", "Residual"]


class BatchedLinearOperator:
    """B symmetric P x P operators A_b, applied batch-wise.

    Subclasses implement ``matmat``; everything else derives from it. ``A @ V`` is ``matvec`` for
    V (B, P) and ``matmat`` for V (B, K, P).
    """

    #: (B, P, P)
    shape: tuple[int, int, int]
    dtype: torch.dtype
    device: torch.device

    def matmat(self, V: torch.Tensor) -> torch.Tensor:
        """(B, K, P) -> (B, K, P): row k of result b is A_b V[b, k]."""
        raise NotImplementedError

    def matvec(self, v: torch.Tensor) -> torch.Tensor:
        """(B, P) -> (B, P): A_b v[b]."""
        return self.matmat(v[:, None])[:, 0]

    def __matmul__(self, V: torch.Tensor) -> torch.Tensor:
        return self.matvec(V) if V.dim() == 2 else self.matmat(V)

    def directions_per_call(self) -> int:
        """How many unit vectors ``to_dense`` and ``diagonal`` apply per ``matmat`` call."""
        return self.shape[1]

    def shared_matmat(self, E: torch.Tensor) -> torch.Tensor:
        """(K, P) directions shared by all B operators -> (B, K, P)."""
        return self.matmat(E.expand(self.shape[0], -1, -1).contiguous())

    #: whether ``_unit_columns`` hold each off-diagonal entry in one of its two columns only
    #: (column p: entries q of layers above p's, or of p's with q >= p; the others 0)
    _unit_triangle = False

    def _unit_columns(self, k0: int, K: int) -> torch.Tensor:
        """(B, K, P): the products with the unit vectors e_k0 ... e_{k0+K-1}."""
        E = torch.zeros(K, self.shape[1], dtype=self.dtype, device=self.device)
        E[:, k0:k0 + K].fill_diagonal_(1)
        return self.shared_matmat(E)

    def _unit_products(self, diagonal_only: bool) -> torch.Tensor:
        P = self.shape[1]
        step = max(1, min(P, self.directions_per_call()))
        blocks = []
        for k0 in range(0, P, step):
            block = self._unit_columns(k0, min(step, P - k0))
            blocks.append(block.diagonal(offset=k0, dim1=1, dim2=2) if diagonal_only else block)
        if len(blocks) == 1 and not diagonal_only:  # one call's (B, P, P): no copy
            return blocks[0]
        return torch.cat(blocks, dim=1)

    def to_dense(self) -> torch.Tensor:
        """The matrices (B, P, P), symmetrised (products with the P unit vectors, in chunks;
        each entry computed once where ``_unit_triangle``). Raises ValueError when (B, P, P)
        would exceed HESSIAN_MAX_BYTES."""
        B, P, _ = self.shape
        need = B * P * P * torch.empty((), dtype=self.dtype).element_size()
        if need > HESSIAN_MAX_BYTES:
            raise ValueError(f"a dense (B, P, P) = ({B}, {P}, {P}) result needs "
                             f"{need / 2**30:.1f} GiB, over HESSIAN_MAX_BYTES = "
                             f"{HESSIAN_MAX_BYTES / 2**30:.1f} GiB; use products or "
                             "extreme_eigs(method='lanczos')")
        A = self._unit_products(diagonal_only=False)
        S = A + A.transpose(1, 2)   # one (B, P, P) allocation, not two
        if not self._unit_triangle:
            return S.mul_(0.5)
        S.diagonal(dim1=1, dim2=2).mul_(0.5)   # off the diagonal one of A_pq, A_qp is 0
        return S

    def diagonal(self) -> torch.Tensor:
        """The diagonals (B, P), from the unit-vector products (only the diagonal is kept)."""
        return self._unit_products(diagonal_only=True)

    def _check_network(self, b) -> int:
        B = self.shape[0]
        if isinstance(b, bool) or not isinstance(b, numbers.Integral) or not -B <= b < B:
            raise ValueError(f"b must be an integer network index in [0, {B}), got {b!r}")
        return int(b) % B

    def network(self, b: int) -> "BatchedLinearOperator":
        """Network b's operator alone (B = 1). This generic form applies the whole batch with
        zero directions elsewhere; the engine's operators restrict the batch instead."""
        return _OneNetwork(self, self._check_network(b))

    def to_scipy(self, b: int = 0):
        """Network b's P x P operator as a ``scipy.sparse.linalg.LinearOperator`` (numpy in and
        out, in the operator's dtype; symmetric, so rmatvec = matvec), for scipy's eigsh, cg,
        lobpcg... Each product is one call of ``network(b)`` on the operator's device. Needs
        scipy (ImportError with the install line otherwise)."""
        try:
            from scipy.sparse.linalg import LinearOperator
        except ImportError:
            raise ImportError("to_scipy needs scipy: pip install scipy") from None
        one = self.network(b)
        P = self.shape[1]

        def matmat(X):
            V = torch.as_tensor(X, dtype=self.dtype).to(self.device).reshape(P, -1)
            return one.matmat(V.T.contiguous()[None])[0].T.cpu().numpy()

        def matvec(x):
            return matmat(x)[:, 0]

        numpy_dtype = torch.empty((), dtype=self.dtype).numpy().dtype
        return LinearOperator((P, P), matvec=matvec, rmatvec=matvec, matmat=matmat,
                              rmatmat=matmat, dtype=numpy_dtype)


class _OneNetwork(BatchedLinearOperator):
    """Network b of a batched operator as a batch of one (zero directions for the others)."""

    def __init__(self, op: BatchedLinearOperator, b: int):
        self.op, self.b = op, b
        P = op.shape[1]
        self.shape, self.dtype, self.device = (1, P, P), op.dtype, op.device

    def matmat(self, V: torch.Tensor) -> torch.Tensor:
        full = V.new_zeros((self.op.shape[0],) + tuple(V.shape[1:]))
        full[self.b] = V[0]
        return self.op.matmat(full)[self.b:self.b + 1]


class _KernelOperator(BatchedLinearOperator):
    """Products from the fused kernel in one mode, for B models at theta on data (theta (P,) is
    one model, B = 1, with ``single`` set)."""

    mode: _fused.Mode

    def __init__(self, model: Model, theta: torch.Tensor, data: Data):
        self.inputs = _fused.check_inputs(model, theta, data)
        self.theta, self.single = self.inputs.theta, self.inputs.single
        self.model, self.data = model, data
        B, P = self.theta.shape
        self.shape, self.dtype, self.device = (B, P, P), self.theta.dtype, self.theta.device
        self._unit_triangle = _fused.param_layers(model.spec) is not None   # not: tied weights

    def _run(self, V: Optional[torch.Tensor], units: Optional[tuple] = None) -> torch.Tensor:
        return _fused.run(self.inputs, self.mode, V, kinks=False, units=units).products

    def _unit_columns(self, k0: int, K: int) -> torch.Tensor:
        if not self._unit_triangle:
            return super()._unit_columns(k0, K)
        return self._run(None, units=(k0, K))

    def matmat(self, V: torch.Tensor) -> torch.Tensor:
        V = _fused.check_directions(self.theta, V)
        if V.dim() != 3:
            raise ValueError(f"matmat takes V (B, K, P), got {tuple(V.shape)}")
        return self._run(V)

    def shared_matmat(self, E: torch.Tensor) -> torch.Tensor:
        return self._run(E)

    def directions_per_call(self) -> int:
        return _fused.plan(self.model.spec, self.theta, self.data.N, self.mode).max_directions

    def network(self, b: int) -> "_KernelOperator":
        b = self._check_network(b)
        rows = torch.tensor([b], device=self.theta.device)
        return type(self)(self.model, self.theta[b:b + 1], self.data.models(rows))


class Hessian(_KernelOperator):
    """The loss Hessians H_b of B models at theta (B, P) on data: exact Pearlmutter products
    (forward once, one R-forward and R-backward per direction). For ReLU nets, the Hessian of
    the piecewise-smooth loss; models with a sample on a kink that moves with theta have none
    (``on_kink``): their products use relu'(0) = 0 and come with a ``KinkWarning``."""

    mode = _fused.Mode.hvp

    @property
    def kinks(self) -> torch.Tensor:
        """(B,) int64: per model, the samples on a kink that moves with theta
        (``hessian.kinks``); one forward pass, on first use."""
        if not hasattr(self, "_kinks"):
            self._kinks = _fused.kink_counts(self.inputs)
        return self._kinks

    @property
    def on_kink(self) -> torch.Tensor:
        """(B,) bool: the models whose Hessian does not exist here (``kinks`` > 0)."""
        return self.kinks > 0

    def _run(self, V: Optional[torch.Tensor], units: Optional[tuple] = None) -> torch.Tensor:
        if getattr(self, "_warned", False):  # checked once per operator, at its first product
            return super()._run(V, units)
        self._warned = True
        if hasattr(self, "_kinks"):
            if bool(self._kinks.any()):
                _fused.warn_kinks(self._kinks)
            return super()._run(V, units)
        sums = _fused.run(self.inputs, self.mode, V, kinks=True, units=units)  # counted in the
        self._kinks = sums.kinks                # same pass, with the warning where there are any
        return sums.products


class GaussNewton(_KernelOperator):
    """The Gauss-Newton parts H0_b = sum_n J_n^T (d2l/dy2) J_n (sigma'' and residual terms
    dropped): positive semi-definite."""

    mode = _fused.Mode.gnvp


class Residual(BatchedLinearOperator):
    """The residual parts H1 = H - H0 (two kernel calls per product)."""

    def __init__(self, model: Model, theta: torch.Tensor, data: Data):
        self.model, self.data = model, data
        self.hessian = Hessian(model, theta, data)
        self.gauss_newton = GaussNewton(model, theta, data)
        self.single, self._unit_triangle = self.hessian.single, self.hessian._unit_triangle
        self.shape, self.dtype, self.device = (self.hessian.shape, self.hessian.dtype,
                                               self.hessian.device)

    @property
    def on_kink(self) -> torch.Tensor:
        """(B,) bool: the Hessian's ``on_kink``."""
        return self.hessian.on_kink

    def matmat(self, V: torch.Tensor) -> torch.Tensor:
        return self.hessian.matmat(V) - self.gauss_newton.matmat(V)

    def shared_matmat(self, E: torch.Tensor) -> torch.Tensor:
        return self.hessian.shared_matmat(E) - self.gauss_newton.shared_matmat(E)

    def _unit_columns(self, k0: int, K: int) -> torch.Tensor:
        return self.hessian._unit_columns(k0, K) - self.gauss_newton._unit_columns(k0, K)

    def directions_per_call(self) -> int:
        return self.hessian.directions_per_call()

    def network(self, b: int) -> "Residual":
        b = self._check_network(b)
        rows = torch.tensor([b], device=self.hessian.theta.device)
        return Residual(self.model, self.hessian.theta[b:b + 1], self.data.models(rows))
