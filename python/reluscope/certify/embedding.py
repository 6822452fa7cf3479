"""Symmetry-induced critical points of wider networks (``split_neuron``): certify a critical point
of an MLP, split one hidden neuron into two, and prove the image a critical point of the wider
network — with its curvature — where a point certificate cannot apply (the image lies on a line of
critical points, so the wider network's Hessian there is singular).

The embedding (Fukumizu & Amari 2000; Simsek et al. 2021): neuron j of hidden layer l has incoming
weights u (row j of W_l, and b_l[j]) and outgoing weights a (column j of W_{l+1}). The wider network
keeps neuron j with outgoing weights lambda a and appends a copy with the same incoming weights and
outgoing weights (1 - lambda) a. It computes the same function of x for every lambda, so the same
outputs, residuals and back-propagated errors delta_{l+1} at every sample; its gradient in every
shared coordinate equals the narrow network's, in the copies' outgoing weights too, and in copy i's
incoming weights it is (its share of a) times the narrow gradient in u (the error reaching u is
a_i . delta_{l+1}, linear in a_i). Hence: theta* critical for the narrow network => its image
E_lambda(theta*) critical for the wider network, for every real lambda, any loss and activation
where the gradient exists.

What is proved, per network: ``critical_points`` proves a critical point theta* of the narrow
network in the box theta-hat + [-r, r]^P (verdict minimum, saddle or critical_degenerate, r = 0 for
the last). The image E_lambda(theta*) lies in the cube Y = c + [-r', r']^P' around the float64
centre c (c: theta-hat embedded with c_1 = fl(lambda a), c_2 = fl(a - c_1)), with
r' = (1 + |lambda|) r + max_k (|a_k - c_1k - c_2k| + 2^-52 |c_1k|) + 2^-1074, rounded up
(|lambda|, |1 - lambda| <= 1 + |lambda| scale the narrow radius; a - c_1 - c_2 is the exact error of
the subtraction, by TwoSum; 2^-52 |c_1| + 2^-1074 bounds |lambda a - c_1|). One interval pass of the
wider network over Y encloses the Hessian at E_lambda(theta*); the curvature test of
``critical_points`` (congruence and Gershgorin, Courant-Fischer) then proves k >= 1 negative
eigenvalues: a saddle of index >= k. The cube holds a whole segment of critical points (the line
through lambda), so no uniqueness is claimed and a strict minimum cannot be proved there: a network
whose negative curvature is not proved is ``not_certified`` (``curvature_unresolved``). Rounding
assumptions as in ``critical``.
"""
from __future__ import annotations

import math
from typing import NamedTuple, Union

import torch

from .._certificate import Certificate, Reason, Verdict
from ..data import Data
from ..models.mlp import MLP
from . import _interval as iv
from .critical import critical_points, curvature

__all__ = ["SplitCertificate", "split_neuron"]


class SplitCertificate(NamedTuple):
    """``split_neuron``'s result, per network (B,).

    model: the wider MLP (hidden layer ``layer`` one neuron wider, the copy appended last).
    theta: (B, P') float64, the centres of the wider networks' boxes (theta-hat embedded).
    certificate: about the wider network's cube ``theta +- certificate.radius``: ``saddle`` (a
        critical point there, the image of the narrow one, with >= index_lower negative Hessian
        eigenvalues; loss and lambda_min enclosures over the cube), or ``not_certified`` with the
        reason (the narrow network's, when its critical point was not proved).
    narrow: ``critical_points``' certificate of the narrow networks.
    """

    model: MLP
    theta: torch.Tensor
    certificate: Certificate
    narrow: Certificate


def split_neuron(model: MLP, theta: torch.Tensor, data: Data, *,
                 neuron: Union[int, torch.Tensor], layer: int = 0, fraction: float = 0.5,
                 max_tries: int = 6) -> SplitCertificate:
    """Prove saddles of a wider MLP at the images of certified critical points of ``model``.

    model: an MLP with at least one hidden layer; theta: (B, P) or (P,), near critical points of
    model's loss on data; neuron: the hidden neuron split, an int or a (B,) int64 tensor (one per
    network), in [0, widths[layer + 1]); layer: the hidden layer (0 = the first); fraction: lambda,
    the share of the outgoing weights kept by the neuron (the copy gets 1 - lambda), any finite
    real. max_tries: as in ``critical_points``. Cost: ``critical_points`` on the narrow networks,
    then one interval pass of the wider networks (O(N P'^2) each).

    Returns a ``SplitCertificate`` (the certificate's fields squeezed for a single theta). Sound:
    ``saddle`` is a proof under the module docstring's assumptions.
    """
    if not isinstance(model, MLP) or len(model.layers) < 2:
        raise TypeError(f"split_neuron needs an MLP with a hidden layer, got {model!r}")
    if isinstance(layer, bool) or not isinstance(layer, int) or not 0 <= layer < len(model.layers) - 1:
        raise ValueError(f"layer must be a hidden layer index in [0, {len(model.layers) - 1}), "
                         f"got {layer!r}")
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) \
            or not math.isfinite(fraction):
        raise ValueError(f"fraction must be a finite real, got {fraction!r}")
    single = isinstance(theta, torch.Tensor) and theta.ndim == 1
    th = theta[None] if single else theta
    if not isinstance(th, torch.Tensor) or th.ndim != 2:
        raise ValueError("theta must be a (B, P) or (P,) tensor")
    B = th.shape[0]
    j = _neurons(neuron, B, model.widths[layer + 1], th.device)
    narrow = critical_points(model, th, data, max_tries=max_tries)
    th = th.to(torch.float64)
    widths = list(model.widths)
    widths[layer + 1] += 1
    wide = MLP(widths, model.activation, model.bias, model.slope)
    centre, radius = _embed(model, wide, th, narrow.radius, layer, j, float(fraction))

    cert = {"verdict": torch.zeros_like(narrow.verdict), "radius": radius.clone(),
            "loss": torch.full_like(narrow.loss, math.nan),
            "lambda_min": torch.full_like(narrow.lambda_min, math.nan),
            "index_lower": torch.zeros_like(narrow.index_lower),
            "reason": narrow.reason.clone()}
    proved = (narrow.verdict == Verdict.minimum) | (narrow.verdict == Verdict.saddle) \
        | (narrow.verdict == Verdict.critical_degenerate)
    cert["reason"][~proved & (cert["reason"] == Reason.none)] = int(Reason.existence_not_proved)
    cert["reason"][proved & ~torch.isfinite(radius)] = int(Reason.nonfinite)
    rows = (proved & torch.isfinite(radius)).nonzero()[:, 0]
    if len(rows):
        from ._kernel import enclose
        sub = data if len(rows) == B else data.models(rows)
        E = enclose(wide, centre[rows], sub, radius[rows])
        v, k, lam = curvature(*iv.from_bounds(E.hess))
        why = torch.full_like(v, int(Reason.curvature_unresolved))
        why[(E.flags & 1) != 0] = int(Reason.kink)
        why[(E.flags & 2) != 0] = int(Reason.nonfinite)
        ok = (v == Verdict.saddle) & (E.flags == 0)
        cert["verdict"][rows[ok]] = int(Verdict.saddle)
        cert["reason"][rows] = torch.where(ok, torch.zeros_like(why), why)
        cert["index_lower"][rows[ok]] = k[ok]
        cert["loss"][rows[ok]] = E.loss[ok]
        cert["lambda_min"][rows[ok]] = lam[ok]
    cert["radius"][cert["verdict"] != Verdict.saddle] = math.nan
    out = Certificate(**cert)
    if single:
        out = Certificate(*(t[0] for t in out))
        narrow = Certificate(*(t[0] for t in narrow))
        centre = centre[0]
    return SplitCertificate(wide, centre, out, narrow)


def _neurons(neuron, B: int, width: int, device) -> torch.Tensor:
    """neuron (int or (B,) int tensor) -> (B,) int64, each in [0, width)."""
    if isinstance(neuron, bool):
        raise TypeError("neuron must be an int or an int64 tensor")
    if isinstance(neuron, int):
        j = torch.full((B,), neuron, dtype=torch.int64, device=device)
    elif isinstance(neuron, torch.Tensor) and not neuron.is_floating_point() \
            and neuron.dtype != torch.bool and neuron.shape in ((B,), ()):
        j = neuron.to(device=device, dtype=torch.int64).expand(B)
    else:
        raise TypeError(f"neuron must be an int or a ({B},) integer tensor")
    if B and not ((j >= 0) & (j < width)).all():
        raise ValueError(f"neuron must lie in [0, {width}), got {j.tolist()}")
    return j


def _embed(narrow: MLP, wide: MLP, theta: torch.Tensor, r: torch.Tensor, layer: int,
           j: torch.Tensor, lam: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(centre (B, P') float64, radius (B,)): the cube of the module docstring (nan where r is)."""
    params = narrow.unflatten(theta)
    rows = torch.arange(theta.shape[0], device=theta.device)
    (W, b), (A, c) = params[layer], params[layer + 1]
    W = torch.cat([W, W[rows, j][:, None]], 1)
    b = None if b is None else torch.cat([b, b[rows, j][:, None]], 1)
    a = A[rows, :, j]                                  # (B, d_{l+2}) outgoing weights
    c1 = lam * a
    c2 = a - c1
    back = c2 - a                                      # TwoSum: a - c1 = c2 + e exactly
    e = (a - (c2 - back)) + (-c1 - back)
    A = A.clone()
    A[rows, :, j] = c1
    A = torch.cat([A, c2[:, :, None]], 2)
    params[layer], params[layer + 1] = (W, b), (A, c)
    centre = wide.flatten(params)
    s = (e.abs() + 2.0 ** -52 * c1.abs()).amax(1) if a.shape[1] else torch.zeros_like(r)
    radius = iv.up((1 + abs(lam)) * r + s, 4)
    finite = torch.isfinite(centre).all(1) & torch.isfinite(e).all(1)
    return centre, torch.where(finite, radius, torch.full_like(radius, math.inf))
