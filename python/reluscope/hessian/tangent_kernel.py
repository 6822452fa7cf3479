"""Jacobians of B networks' outputs in their parameters and their empirical neural tangent kernels,
from one fused kernel (csrc/hessian/jacobian_math.h).

J[b, n, i, p] = d y_i(x_n; theta_b) / d theta_b[p], and the empirical NTK
Theta_b(x, x')_ij = sum_p J_i(x)_p J_j(x')_p (``ntk``), whose products Theta V = J (J^T V) also run
without forming J or Theta (``ntk_vp``: the gradient kernel with the linear loss for J^T V, the
Jacobian kernel's forward-mode pass for J u). In the NTK parameterisation (``MLP(...,
parameterization="ntk")``) the derivatives are in that parameterisation's theta. Not
differentiable (theta or X requiring grad is an error).
"""
from __future__ import annotations

from typing import Optional

import torch

from .._ext import _core, cuda_stream
from .._validate import as_float_tensor, check_finite, check_ndim, same_dtype_device
from ..models.base import Model, check_model
from . import _kernel
from .operators import HESSIAN_MAX_BYTES

__all__ = ["jacobian", "ntk", "ntk_vp"]

#: ``ntk`` forms the Jacobians of this many bytes at a time (networks in chunks).
NTK_CHUNK_BYTES = 1 << 28


def jacobian(model: Model, theta: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
    """Jacobians of the outputs in the parameters: (B, N, d_out, P), J[b, n, i, p] =
    d y_i(x_n; theta_b) / d theta_b[p] (one network, theta (P,): (N, d_out, P)).

    theta (B, P) or (P,); X (N, d_in) shared or (B, N, d_in) per network. One kernel pass: a
    forward and d_out backward passes per sample, O(B N d_out P) time, the result's memory
    (ValueError above ``HESSIAN_MAX_BYTES``: use ``ntk_vp``)."""
    theta, X, single = _inputs(model, theta, X)
    B, P = theta.shape
    _fits(B * X.shape[-2] * model.d_out * P, theta, "the Jacobian (B, N, d_out, P)")
    out = _jac(model, theta, X)
    return out[0] if single else out


def ntk(model: Model, theta: torch.Tensor, X1: torch.Tensor, X2: Optional[torch.Tensor] = None,
        *, trace: bool = False) -> torch.Tensor:
    """Empirical neural tangent kernels Theta_b(x, x') = J_b(x) J_b(x')^T.

    Returns (B, N1, N2, d_out, d_out), Theta[b, n, m, i, j] = sum_p J[b, n, i, p] J'[b, m, j, p]
    with J on X1 and J' on X2 (X2 = None: X1); ``trace``: (B, N1, N2), the trace over outputs
    sum_i Theta[b, n, m, i, i]. One network (theta (P,)): no B dimension. X1, X2: (N, d_in) shared
    or (B, N, d_in) per network. The Jacobians come from the fused kernel a chunk of networks at a
    time (``NTK_CHUNK_BYTES``), contracted by a batched matrix product: O(B N P d_out (1 + N2
    d_out)) time. ValueError when the result would exceed ``HESSIAN_MAX_BYTES`` (``ntk_vp``
    multiplies by Theta without forming it)."""
    theta, X1, single = _inputs(model, theta, X1)
    X2 = X1 if X2 is None else _inputs(model, theta, X2, name="X2")[1]
    B, P = theta.shape
    d, N1, N2 = model.d_out, X1.shape[-2], X2.shape[-2]
    _fits(B * N1 * N2 * (1 if trace else d * d), theta, "the kernel")
    per_net = (N1 + (0 if X2 is X1 else N2)) * d * P * theta.element_size()
    chunk = max(1, NTK_CHUNK_BYTES // max(per_net, 1))
    out = []
    for b0 in range(0, B, chunk):
        rows = slice(b0, min(B, b0 + chunk))
        x1 = X1[rows] if X1.dim() == 3 else X1
        J1 = _jac(model, theta[rows], x1)
        J2 = J1 if X2 is X1 else _jac(model, theta[rows], X2[rows] if X2.dim() == 3 else X2)
        if trace:   # sum_i J1[:, :, i] J2[:, :, i]^T
            out.append(torch.matmul(J1.transpose(1, 2), J2.permute(0, 2, 3, 1)).sum(1))
        else:
            b = J1.shape[0]
            K = torch.bmm(J1.reshape(b, N1 * d, P), J2.reshape(b, N2 * d, P).mT)
            out.append(K.reshape(b, N1, d, N2, d).permute(0, 1, 3, 2, 4))
    res = torch.cat(out).contiguous()
    return res[0] if single else res


def ntk_vp(model: Model, theta: torch.Tensor, X: torch.Tensor, V: torch.Tensor, *,
           X2: Optional[torch.Tensor] = None) -> torch.Tensor:
    """NTK-vector products (Theta V)[b, n, i] = sum_{m, j} Theta_b(x_n, x'_m)_ij V[b, m, j] without
    forming the kernel or a Jacobian: J^T V by the fused gradient kernel (the linear loss
    sum_m sum_j V_mj y_j(x'_m)), then J u by the Jacobian kernel's forward-mode pass.

    X: (N, d_in) or (B, N, d_in), the rows of Theta; X2 its columns (None: X); V (B, N2, d_out)
    (one network: (N2, d_out)). Returns (B, N, d_out) (one network: (N, d_out)). Two passes over
    the samples, O(B (N + N2) P) time, O(B P) memory beyond the inputs."""
    theta, X, single = _inputs(model, theta, X)
    X2 = X if X2 is None else _inputs(model, theta, X2, name="X2")[1]
    V = as_float_tensor(V, "V", theta)
    same_dtype_device(theta, "theta", V=V)
    B, N2, d = theta.shape[0], X2.shape[-2], model.d_out
    if single:
        V = V[None]
    if tuple(V.shape) != (B, N2, d):
        raise ValueError(f"V must be {(N2, d) if single else (B, N2, d)}, "
                         f"got {tuple(V.shape[1:] if single else V.shape)}")
    check_finite(V, "V")
    ones_w = theta.new_ones(N2)
    ones_i = theta.new_ones(d)
    u = _kernel.run(model.spec, theta, X2, V.contiguous(), ones_w, ones_i,
                    int(_core.Loss.linear), _kernel.Mode.grad).grad         # J'^T V: (B, P)
    out = _run(model, theta, X, u[:, None].contiguous(), _core.JacMode.jvp)[..., 0]
    return out[0] if single else out


def _inputs(model: Model, theta, X, name: str = "X"):
    """(theta (B, P) contiguous, X (N, d_in) or (B, N, d_in) contiguous, whether one network)."""
    check_model(model)
    theta = as_float_tensor(theta, "theta")
    single = theta.dim() == 1
    if single:
        theta = theta[None]
    model.check_theta(theta)
    X = as_float_tensor(X, name, theta)
    same_dtype_device(theta, "theta", **{name: X})
    check_ndim(X, name, (2, 3), "(N, d_in) or (B, N, d_in)")
    B = theta.shape[0]
    if X.shape[-1] != model.d_in or (X.dim() == 3 and X.shape[0] != B):
        raise ValueError(f"{name} must be (N, {model.d_in}) or ({B}, N, {model.d_in}), "
                         f"got {tuple(X.shape)}")
    check_finite(theta, "theta")
    check_finite(X, name)
    return theta.contiguous(), X.contiguous(), single


def _fits(values: int, theta: torch.Tensor, what: str) -> None:
    need = values * theta.element_size()
    if need > HESSIAN_MAX_BYTES:
        raise ValueError(f"{what} needs {need / 2**30:.1f} GiB, over HESSIAN_MAX_BYTES = "
                         f"{HESSIAN_MAX_BYTES / 2**30:.1f} GiB: pass fewer networks or samples, "
                         "or use ntk_vp")


def _jac(model: Model, theta: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
    return _run(model, theta, X, None, _core.JacMode.full)


def _run(model: Model, theta: torch.Tensor, X: torch.Tensor, u: Optional[torch.Tensor],
         mode) -> torch.Tensor:
    """One _core.jac call: mode full -> (B, N, d_out, P); jvp -> (B, N, d_out, K)."""
    B, P = theta.shape
    N = X.shape[-2]
    last = P if mode == _core.JacMode.full else u.shape[-2]
    out = torch.zeros(B, N, model.d_out, last, dtype=theta.dtype, device=theta.device)
    words = _core.jac_workspace(model.spec, B, N, theta.is_cuda, theta.element_size())
    workspace = (torch.empty(words, dtype=theta.dtype, device=theta.device) if words else None)
    _core.jac(model.spec, theta, X, u, out, mode, workspace, cuda_stream(theta))
    return out
