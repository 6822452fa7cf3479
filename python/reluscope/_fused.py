"""The one driver of the fused Hessian kernel (csrc/hessian), below every engine that uses it
(``reluscope.hessian``, ``reluscope.forward``'s backward, ``reluscope.slt``): validates inputs,
reads the launch plan from C++ (``_core.hess_plan``), allocates exactly what it says, calls
``_core.hess`` and returns the loss, gradient, products (and input gradients) summed over the
partial sums (data chunks; on CUDA one per warp, so results are the same bits every call) as
tensors of their own (no caller clones), with the kernel's count of samples on a moving kink.
Every Hessian product comes through here, so this is where a Hessian evaluated at a kink raises
its ``KinkWarning``."""
from __future__ import annotations

import os
import sys
import warnings
from typing import NamedTuple, Optional

import torch

from ._ext import _core, cuda_stream
from ._validate import as_float_tensor, check_data, check_finite, same_dtype_device
from .data import Data
from .models.base import Model, check_model

Mode = _core.HessMode


class Inputs(NamedTuple):
    """The inputs of a kernel call, validated (``check_inputs``, or by the torch custom ops'
    callers): the compiled architecture, theta (B, P), the data as the kernel reads it (X, float
    targets T, sample weights w, output importance imp) and the loss code; ``single``: the caller
    passed one model as (P,); ``model``: the Model, where the call came from one. A call at other
    parameters or data is ``inp._replace(theta=...)``."""
    spec: _core.NetSpec
    theta: torch.Tensor
    X: torch.Tensor
    T: torch.Tensor
    w: torch.Tensor
    imp: torch.Tensor
    loss: int
    single: bool = False
    model: Optional[Model] = None


class KinkWarning(RuntimeWarning):
    """A Hessian (``hvp``, ``hessian``, the ``Hessian`` and ``Residual`` operators and the spectra
    of these) was evaluated where a sample with non-zero weight sits on a kink of a relu or
    leaky_relu that moves with theta (its pre-activation is 0 to within the rounding of its
    computation, csrc/model/kink_math.h): the loss is not twice differentiable there, and the
    products are those of the convention sigma'(0) (relu'(0) = 0), not a Hessian. Which models:
    ``hessian.kinks`` or ``Hessian(...).on_kink``. ``warnings.simplefilter("error", KinkWarning)``
    makes it an error."""


class Sums(NamedTuple):
    """What one kernel call returns, per model."""
    loss: torch.Tensor                # (B,)
    kinks: Optional[torch.Tensor]     # (B,) int64: samples (weight != 0) on a moving kink
    grad: Optional[torch.Tensor]      # (B, P), mode grad
    products: Optional[torch.Tensor]  # (B, K, P), modes hvp and gnvp
    dx: Optional[torch.Tensor]        # (B, N, d_in) input gradients, mode grad when asked for


def check_inputs(model: Model, theta, data: Data, *, differentiable: bool = False) -> Inputs:
    """Validate theta ((B, P), or (P,) for one model) against model and data. Only where the call
    is ``differentiable`` in theta may theta require grad; the data never may."""
    check_model(model)
    if not isinstance(data, Data):
        raise TypeError(f"data must be a reluscope.Data, got {type(data).__name__}")
    theta = as_float_tensor(theta, "theta", data.X, differentiable=differentiable)
    single = theta.dim() == 1
    if single:
        theta = theta[None]
    model.check_theta(theta)
    same_dtype_device(theta, "theta", X=data.X)
    B = theta.shape[0]
    T, imp = check_data(model, data, B)
    check_finite(theta, "theta")
    return Inputs(model.spec, theta.contiguous(), data.X, T, data.w, imp, int(data.loss_code),
                  single, model)


def check_directions(theta: torch.Tensor, V, single: bool = False) -> torch.Tensor:
    """Validate directions V against theta (B, P): (B, P) or (B, K, P); for one model
    (``single``) (P,) or (K, P). Returns V (B, P) or (B, K, P)."""
    V = as_float_tensor(V, "V", theta, differentiable=True)
    same_dtype_device(theta, "theta", V=V)
    B, P = theta.shape
    if single:
        if V.dim() not in (1, 2) or V.shape[-1] != P:
            raise ValueError(f"V must be ({P},) or (K, {P}) for one model, got {tuple(V.shape)}")
        return V[None]
    if not (V.dim() in (2, 3) and V.shape[0] == B and V.shape[-1] == P):
        raise ValueError(f"V must be ({B}, {P}) or ({B}, K, {P}), got {tuple(V.shape)}")
    return V


def plan(spec: _core.NetSpec, theta: torch.Tensor, N: int, mode: Mode, K: int = 0,
         loss: int = -1, dx: bool = False) -> _core.HessPlan:
    """The C++ launch plan of a call (chunks and partial sums, output layout, workspace; with
    the call's loss code and dx, whether its kink counts are a float64 pass's)."""
    return _core.hess_plan(spec, theta.shape[0], N, K, mode, theta.is_cuda, theta.element_size(),
                           loss=loss, dx=dx)


def run(inp: Inputs, mode: Mode, V: Optional[torch.Tensor] = None, *, dx: bool = False,
        kinks: Optional[bool] = None, rows: Optional[torch.Tensor] = None,
        units: Optional[tuple[int, int]] = None) -> Sums:
    """One kernel call on validated inputs. In modes hvp and gnvp V is (B, K, P), or (K, P)
    shared by all models; dx (mode grad) also returns each sample's input gradient. kinks: count
    the samples on a moving kink (``kink_counts``; default: in mode hvp, which then warns where
    there are any; else ``Sums.kinks`` is None; zeros, with no extra work, for a network without
    a kinked activation). rows (B, N) int64: the samples of network b are
    the rows rows[b] of X and T (a minibatch, read in place by the kernel: no gathered copy), w
    then weighs those N samples; ValueError for a row outside X. units (first, K), in place of
    V: the unit vectors e_p, p = first ... first + K - 1, whose products hold only the entries q
    of the layers above p's, or of p's with q >= p (``param_layers``; the others are 0): the
    columns of a full Hessian, each off-diagonal entry computed once."""
    if not isinstance(inp, Inputs):
        raise TypeError(f"run takes the validated Inputs of a call, got {type(inp).__name__}")
    spec, w, imp, loss = inp.spec, inp.w, inp.imp, inp.loss
    theta, X, T = inp.theta.contiguous(), inp.X.contiguous(), inp.T.contiguous()
    V = None if V is None else V.contiguous()
    B, P = theta.shape
    N = X.shape[-2] if rows is None else rows.shape[-1]
    K = units[1] if units is not None else 0 if V is None else V.shape[-2]
    kinks = mode == Mode.hvp if kinks is None else kinks
    fused = kinks and spec.has_kink       # no kinked activation: no sample is on a kink
    if rows is not None:
        rows = rows.contiguous()
        if fused and theta.dtype != torch.float64:
            raise ValueError("kink counts of a minibatch (rows) are taken in float64 only")
        if rows.is_cuda and rows.numel() and not bool(
                ((rows >= 0) & (rows < X.shape[-2])).all()):   # the CPU binding checks itself
            raise ValueError(f"rows holds a value outside the {X.shape[-2]} rows of the data")
    p = plan(spec, theta, N, mode, K, loss, dx)
    part = torch.zeros(B, p.partials, p.length, dtype=theta.dtype, device=theta.device)
    workspace = (torch.empty(p.workspace, dtype=theta.dtype, device=theta.device)
                 if p.workspace else None)
    dxs = (torch.empty(B, N, spec.d_in, dtype=theta.dtype, device=theta.device) if dx else None)
    _core.hess(spec, theta, X, T, w, imp, v=V, part=part, mode=mode, loss=loss, kinks=fused,
               dx=dxs, workspace=workspace, stream=cuda_stream(theta), rows=rows,
               **({} if units is None else {"unit_first": units[0], "units": units[1]}))
    out = part[:, 0] if p.partials == 1 else part.sum(1)  # torch's sum: a fixed order
    # owned tensors (each its own storage, not views of the partial sums): no caller clones
    grad = out[:, p.grad_offset:p.grad_offset + P].clone() if mode == Mode.grad else None
    products = (out[:, p.products_offset:p.products_offset + K * P].reshape(B, K, P).clone()
                if mode in (Mode.hvp, Mode.gnvp) else None)  # K = 0: an empty (B, 0, P)
    counts = (_confirmed(inp, out[:, p.kinks_offset], p.kinks_float64) if fused else
              kink_counts(inp) if kinks else None)    # a smooth network: zeros, no pass
    if mode == Mode.hvp and counts is not None and bool(counts.any()):
        warn_kinks(counts)
    return Sums(out[:, 0].clone(), counts, grad, products, dxs)


def param_layers(spec: _core.NetSpec) -> Optional[list[int]]:
    """Per parameter, the one layer that reads it; None for a network with tied weights (two
    layers read one parameter), where ``run``'s unit directions are refused."""
    layers = _core.hess_param_layers(spec)
    return None if min(layers, default=0) < 0 else layers


def outputs(spec: _core.NetSpec, theta: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
    """The networks' outputs (B, N, d_out): one forward pass (``reluscope.forward``'s kernel)."""
    theta, X = theta.contiguous(), X.contiguous()
    B, N = theta.shape[0], X.shape[-2]
    out = torch.empty(B, N, spec.d_out, dtype=theta.dtype, device=theta.device)
    size = _core.lane_workspace(spec, B * N, theta.is_cuda, theta.element_size())
    workspace = torch.empty(size, dtype=theta.dtype, device=theta.device) if size else None
    _core.forward(spec, theta, X, out, workspace=workspace, stream=cuda_stream(theta))
    return out


def _confirmed(inp: Inputs, flagged: torch.Tensor, float64: bool) -> torch.Tensor:
    """(B,) int64 kink counts from a pass's flag sums (B,): as they are where the plan says the
    pass decided them in float64 (``float64``: a float64 call, or a float32 one on the CPU's
    small-net path, which decides each sample its float32 steps flag again in float64); else,
    in float32, a screen, confirmed by ``kink_counts`` (float64) for the models it flagged only.
    The float32 flags are a superset of float64's: a float64 flag means |z| <= 3 b64 for the
    exact pre-activation (b64 the float64 rounding bound, the flag's threshold being 2 b64), and
    then |z^| <= 3 b64 + b32 <= 2 b32 in float32, since b32 / b64 ~ 2^29 (the same sums, with
    float32's gamma_n and the float32 bounds of the inputs; also for the inputs counted as
    certainly zero). So a model the screen passes has no float64 kink, and a float32 HVP of a
    relu network pays a float64 pass only for models with a sample within float32 rounding of a
    kink."""
    if float64:
        return flagged.round().long()
    counts = torch.zeros(flagged.shape[0], dtype=torch.int64, device=flagged.device)
    idx = (flagged > 0).nonzero()[:, 0]
    if idx.numel():
        per_model = {"theta": inp.theta[idx], "X": inp.X[idx] if inp.X.dim() == 3 else inp.X,
                     "T": inp.T[idx] if inp.T.dim() == 3 else inp.T,
                     "w": inp.w[idx] if inp.w.dim() == 2 else inp.w}
        counts[idx] = kink_counts(inp._replace(**per_model))
    return counts


def kink_counts(inp: Inputs) -> torch.Tensor:
    """(B,) int64: per model, the samples with non-zero weight on a kink that moves with theta
    (csrc/model/kink_math.h), always decided in float64 (float32 inputs are converted, exactly):
    the flag's rounding bound is then ~1e-13 of the pre-activation's scale, so only samples on
    a kink to float64 precision count, whatever the dtype of the products. Networks without a
    kinked activation: zeros, no pass."""
    if not inp.spec.has_kink:
        return torch.zeros(inp.theta.shape[0], dtype=torch.int64, device=inp.theta.device)
    if inp.theta.dtype != torch.float64:
        inp = inp._replace(**{k: getattr(inp, k).double() for k in ("theta", "X", "T", "w", "imp")})
    return run(inp, Mode.loss, kinks=True).kinks


def warn_kinks(kinks: torch.Tensor) -> None:
    """The KinkWarning for the models with kinks > 0 (kinks (B,))."""
    bad = kinks.nonzero()[:, 0].tolist()
    shown = ", ".join(map(str, bad[:8])) + (", ..." if len(bad) > 8 else "")
    warnings.warn(KinkWarning(
        f"Hessian at a kink: {len(bad)} of {len(kinks)} models have samples with non-zero weight "
        f"on a relu/leaky_relu kink that moves with theta (a pre-activation 0 to within its "
        f"rounding; models {shown}); the Hessian does not exist there and these products use "
        "relu'(0) = 0 (hessian.kinks counts the samples; for the TMS population use "
        "reluscope.tms_population_hessian)"),
        stacklevel=_outside_package())


def _outside_package() -> int:
    """The stacklevel of warnings.warn (called from warn_kinks) that names the first caller
    outside reluscope: the warning points at the user's line."""
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    frame, level = sys._getframe(2), 2
    while frame is not None and frame.f_code.co_filename.startswith(package):
        frame, level = frame.f_back, level + 1
    return level
