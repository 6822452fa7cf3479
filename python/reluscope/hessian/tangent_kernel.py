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
from .. import _fused
from .operators import HESSIAN_MAX_BYTES

__all__ = ["jacobian", "ntk", "ntk_vp"]

#: ``ntk`` works on chunks of networks whose Jacobians (or per-layer features) and kernel
#: temporaries take about this many bytes (small enough for the elementwise passes to stay in
#: cache-sized pieces).
NTK_CHUNK_BYTES = 1 << 25


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
    or (B, N, d_in) per network. For an MLP the kernel factorises over layers: the fused kernel
    returns each layer's input a^{l-1} and backward vectors delta^l_o per sample (d y_o / d W^l =
    s_l delta^l_o a^{l-1 T}), and Theta = sum_l (s_l^2 <a, a'> + [bias]) <delta_o, delta'_o'> by
    batched matrix products, O(B N1 N2 d_out^2 sum_l width_l) time instead of O(B N1 N2 d_out^2
    P); tied weights (TMS) contract the full Jacobians. A chunk of networks at a time
    (``NTK_CHUNK_BYTES``). ValueError when the result would exceed ``HESSIAN_MAX_BYTES`` (``ntk_vp``
    multiplies by Theta without forming it)."""
    theta, X1, single = _inputs(model, theta, X1)
    X2 = X1 if X2 is None else _inputs(model, theta, X2, name="X2")[1]
    B, P = theta.shape
    d, N1, N2 = model.d_out, X1.shape[-2], X2.shape[-2]
    _fits(B * N1 * N2 * (1 if trace else d * d), theta, "the kernel")
    factored = _factorises(model)
    width = _core.jac_feature_offsets(model.spec)[-1] if factored else d * P
    per_net = ((N1 + (0 if X2 is X1 else N2)) * width +
               (2 if factored else 1) * N1 * N2 * (1 if trace else d * d)) * theta.element_size()
    chunk = max(1, NTK_CHUNK_BYTES // max(per_net, 1))
    pair = _factored_ntk if factored else _jacobian_ntk
    out = []
    for b0 in range(0, B, chunk):
        rows = slice(b0, min(B, b0 + chunk))
        x1 = X1[rows] if X1.dim() == 3 else X1
        x2 = None if X2 is X1 else (X2[rows] if X2.dim() == 3 else X2)
        out.append(pair(model, theta[rows], x1, x2, trace))
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
    inp = _fused.Inputs(model.spec, theta, X2, V, ones_w, ones_i, int(_core.Loss.linear))
    u = _fused.run(inp, _fused.Mode.grad).grad                              # J'^T V: (B, P)
    out = _run(model, theta, X, u[:, None].contiguous(), _core.JacMode.jvp)[..., 0]
    return out[0] if single else out


#: The fixed cost of one batched product or elementwise pass over the kernel, in multiply-adds
#: per kernel entry (``_factorises``): a product with a short inner dimension runs far below the
#: machine's rate (measured on 2 EPYC cores: a (256 x 2)(2 x 256) product takes as long as one
#: with an inner dimension of ~40).
PASS_COST = 64


def _factorises(model: Model) -> bool:
    """Whether the NTK is taken through the per-layer factors (``_factored_ntk``): every parameter
    belongs to one layer (no tied weights), and its cost per kernel entry, sum_l (in_l + d_out^2
    out_l + 2 PASS_COST d_out^2), is below the Jacobians' d_out^2 P (wide layers; a [2, 64, 1]
    net contracts its Jacobians)."""
    if any(layer.transposed for layer in model.layers):
        return False
    d2 = model.d_out ** 2
    factored = sum(layer.d_in + d2 * layer.d_out + 2 * PASS_COST * d2 for layer in model.layers)
    return factored < d2 * model.num_params


def _factored_ntk(model: Model, theta: torch.Tensor, X1: torch.Tensor,
                  X2: Optional[torch.Tensor], trace: bool) -> torch.Tensor:
    """Theta = sum_l (s_l^2 <a^{l-1}, a'^{l-1}> + [bias]) <delta^l_o, delta'^l_o'> from the
    kernel's per-layer features (s_l = 1 / sqrt(fan_in) in the NTK parameterisation, else 1):
    d y_o / d W^l = s_l delta^l_o a^{l-1 T}, d y_o / d b^l = delta^l_o. O(N1 N2 d_out^2 width)
    per network instead of O(N1 N2 d_out^2 P)."""
    F1 = _run(model, theta, X1, None, _core.JacMode.features)
    F2 = F1 if X2 is None else _run(model, theta, X2, None, _core.JacMode.features)
    b, N1, N2, d = F1.shape[0], F1.shape[1], F2.shape[1], model.d_out
    offsets = _core.jac_feature_offsets(model.spec)
    out = F1.new_zeros((b, N1, N2) if trace else (b, N1, d, N2, d))
    for layer, off in zip(model.layers, offsets):
        n_in, n_out = layer.d_in, layer.d_out
        G = torch.bmm(F1[..., off:off + n_in], F2[..., off:off + n_in].mT)
        if layer.ntk:
            G.div_(n_in)
        if layer.b_off >= 0:
            G.add_(1)
        D1 = F1[..., off + n_in:off + n_in + d * n_out].reshape(b, N1, d, n_out)
        D2 = F2[..., off + n_in:off + n_in + d * n_out].reshape(b, N2, d, n_out)
        if trace:
            E = torch.matmul(D1.transpose(1, 2), D2.permute(0, 2, 3, 1)).sum(1)
            out.addcmul_(G, E)
        else:
            E = torch.bmm(D1.reshape(b, N1 * d, n_out), D2.reshape(b, N2 * d, n_out).mT)
            out.addcmul_(G[:, :, None, :, None], E.reshape(b, N1, d, N2, d))
    return out if trace else out.permute(0, 1, 3, 2, 4)


def _jacobian_ntk(model: Model, theta: torch.Tensor, X1: torch.Tensor,
                  X2: Optional[torch.Tensor], trace: bool) -> torch.Tensor:
    """Theta = J J'^T from the Jacobians (any model, tied weights included)."""
    J1 = _jac(model, theta, X1)
    J2 = J1 if X2 is None else _jac(model, theta, X2)
    b, N1, d, P = J1.shape
    if trace:   # sum_i J1[:, :, i] J2[:, :, i]^T
        return torch.matmul(J1.transpose(1, 2), J2.permute(0, 2, 3, 1)).sum(1)
    K = torch.bmm(J1.reshape(b, N1 * d, P), J2.reshape(b, J2.shape[1] * d, P).mT)
    return K.reshape(b, N1, d, J2.shape[1], d).permute(0, 1, 3, 2, 4)


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
    """One _core.jac call: mode full -> (B, N, d_out, P); jvp -> (B, N, d_out, K); features ->
    (B, N, F)."""
    B, P = theta.shape
    N = X.shape[-2]
    if mode == _core.JacMode.features:
        shape = (B, N, _core.jac_feature_offsets(model.spec)[-1])
    else:
        shape = (B, N, model.d_out, P if mode == _core.JacMode.full else u.shape[-2])
    out = torch.zeros(shape, dtype=theta.dtype, device=theta.device)
    words = _core.jac_workspace(model.spec, B, N, theta.is_cuda, theta.element_size())
    workspace = (torch.empty(words, dtype=theta.dtype, device=theta.device) if words else None)
    _core.jac(model.spec, theta, X, u=u, out=out, mode=mode, workspace=workspace,
              stream=cuda_stream(theta))
    return out
