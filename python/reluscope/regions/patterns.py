"""Activation patterns of B piecewise-linear networks at N samples: packed (``activation_words``)
and the number of distinct ones per network (``count_patterns``, a lower bound on the regions the
samples' domain meets)."""
from __future__ import annotations

import torch

from .._ext import _core, cuda_stream
from .._validate import as_float_tensor, check_finite, check_ndim, is_one_model, same_dtype_device
from ..models import MLP
from ._checks import check_model_theta, in_float64

__all__ = ["activation_words", "count_patterns", "unpack_patterns"]


def activation_words(model: MLP, theta: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
    """Packed activation patterns (B, N, model.spec.pattern_words) int64: bit k is set iff the
    k-th neuron of the hidden layers with a kink (layer order) has pre-activation > 0.

    X is (N, d0) shared or (B, N, d0) per network; ``regions.unpack_patterns`` gives bools. One
    network (theta (P,)): (N, pattern_words)."""
    single = is_one_model(theta)
    theta = check_model_theta(model, theta)
    X = as_float_tensor(X, "X", theta)
    same_dtype_device(theta, "theta", X=X)
    check_ndim(X, "X", (2, 3), "(N, d0) or (B, N, d0)")
    B = theta.shape[0]
    if X.shape[-1] != model.d_in or (X.dim() == 3 and X.shape[0] != B):
        raise ValueError(f"X must be (N, {model.d_in}) or ({B}, N, {model.d_in}), "
                         f"got {tuple(X.shape)}")
    check_finite(X, "X")
    theta, X = in_float64(theta, X)
    N, spec = X.shape[-2], model.spec
    words = torch.empty(B, N, spec.pattern_words, dtype=torch.int64, device=theta.device)
    size = _core.lane_workspace(spec, B * N, theta.is_cuda, theta.element_size())
    ws = torch.empty(size, dtype=theta.dtype, device=theta.device) if size else None
    _core.region_patterns(spec, theta, X, words, workspace=ws, stream=cuda_stream(theta))
    return words[0] if single else words


def unpack_patterns(words: torch.Tensor, n_bits: int) -> torch.Tensor:
    """(..., n_words) int64 packed patterns -> (..., n_bits) bool."""
    shifts = torch.arange(64, device=words.device)
    bits = (words[..., None] >> shifts) & 1
    return bits.reshape(*words.shape[:-1], words.shape[-1] * 64)[..., :n_bits].bool()


def count_patterns(model: MLP, theta: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
    """Number of distinct activation patterns among the N samples, per network -> (B,) int64
    (one network, theta (P,): a 0-d count).

    A lower bound on the number of regions the samples' domain meets. X is (N, d0) shared or
    (B, N, d0). CPU: sort + unique per network in C++; CUDA: the pattern kernel, then
    torch.unique over (network, pattern) rows on the device.
    """
    single = is_one_model(theta)
    words = activation_words(model, theta, X)
    if single:
        words = words[None]
    B, N, W = words.shape
    if not words.is_cuda:
        counts = torch.empty(B, dtype=torch.int64)
        _core.region_unique_rows(words, counts)
    else:
        ids = torch.arange(B, device=words.device).repeat_interleave(N)[:, None]
        rows = torch.unique(torch.cat([ids, words.reshape(B * N, W)], 1), dim=0)
        counts = torch.bincount(rows[:, 0], minlength=B)
    return counts[0] if single else counts
