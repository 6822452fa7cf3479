"""``Data``: a weighted dataset with its loss (inputs, targets, sample weights, output importance),
validated once and shared by the engines that take data (the Hessian engine, training)."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
import torch

from ._ext import _core
from ._validate import (as_float_tensor, as_tensor, check_finite, check_ndim, same_dtype_device,
                        values_visible)

__all__ = ["Data", "LOSSES"]

#: The losses a ``Data`` can carry: the kernels' (``reluscope._core.Loss``) but the internal
#: "linear" (reluscope.forward's backward).
LOSSES: tuple[str, ...] = tuple(v.name for v in _core.Loss if v != _core.Loss.linear)


@dataclass
class Data:
    """A weighted dataset and its loss, validated once.

    Attributes:
        X: inputs, (N, d0) shared by all models or (B, N, d0) per model.
        T: targets, shared (N, d_out) or per model (B, N, d_out), whichever X is; (N,) or
            (B, N) for one output (with per-model X, a 2-D T of X's (B, N) shape is one output
            per model, any other (N, d_out) is shared); for ``loss="cross_entropy"`` integer
            class labels (N,) or (B, N) in [0, d_out) (float labels are an error), or float
            class probabilities (N, d_out) or (B, N, d_out).
        weights: (N,) sample weights w_n >= 0, not all 0, or (B, N) per model (e.g.
            ``tms_population``); default 1/N.
        importance: (d_out,) output importance I >= 0 (class weights for the cross-entropy);
            default 1.
        loss: "mse", "cross_entropy" or "bce_with_logits".
        dtype, device: convert every field (keyword only; numpy arrays and nested lists are
            converted like ``torch.as_tensor`` either way).

    A Data is immutable: its fields are checked, converted and derived once (the kernels' w and
    imp, the one-hot of labels, cached), so assigning a field afterwards is an error; build
    another with ``data.replace(T=new_T)`` (or ``Data(...)``). Tensors already contiguous in
    the right dtype and device are used as they are, not copied: changing them in place
    afterwards bypasses the checks and the one-hot cache.

    The loss of model b is L_b = sum_n w_n l(y(x_n; theta_b), t_n) with, over outputs j,

        mse:             l = sum_j I_j (y_j - t_j)^2          (no factor 1/2)
        cross_entropy:   l = -sum_j I_j t_j log softmax(y)_j  (t one-hot for labels)
        bce_with_logits: l = sum_j I_j (log(1 + e^{y_j}) - t_j y_j)

    With the default weights 1/N: the cross-entropy is ``F.cross_entropy(y, t)`` (mean over
    samples; with class weights I and labels torch divides by sum_n I_{t_n} where this divides
    by N); mse and bce sum over outputs where torch's mean also divides by d_out
    (``d_out * F.mse_loss(y, t)``, ``d_out * F.binary_cross_entropy_with_logits(y, t)``).
    """

    X: torch.Tensor
    T: torch.Tensor
    weights: Optional[torch.Tensor] = None
    importance: Optional[torch.Tensor] = None
    loss: str = "mse"
    dtype: Optional[torch.dtype] = field(default=None, kw_only=True, repr=False)
    device: Optional[torch.device | str] = field(default=None, kw_only=True, repr=False)
    #: (N,) or (B, N) sample weights the kernels read.
    w: torch.Tensor = field(init=False, repr=False)
    #: (d_out,) importance the kernels read (ones by default; None until the outputs are known
    #: for labels without importance).
    imp: Optional[torch.Tensor] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {self.loss!r}")
        X = _float_field(self.X, "X", self.dtype, self.device)
        check_ndim(X, "X", (2, 3), "(N, d0) or (B, N, d0)")
        N = X.shape[-2]
        if N == 0:
            raise ValueError(f"X has no samples: shape {tuple(X.shape)}")
        if self.loss == "cross_entropy" and not _is_float(self.T):
            T = self._labels(as_tensor(self.T, "T", like=X), X)
        elif isinstance(self.T, (torch.Tensor, np.ndarray)) and not _is_float(self.T):
            T = self._labels(as_tensor(self.T, "T"), X)  # refused: labels need cross_entropy
        else:
            T = self._float_targets(_float_field(self.T, "T", self.dtype, self.device, like=X), X)
        weights, importance = (
            None if v is None else _float_field(v, name, self.dtype, self.device, like=X)
            for v, name in ((self.weights, "weights"), (self.importance, "importance")))
        same_dtype_device(X, "X", T=T if T.is_floating_point() else None, weights=weights,
                          importance=importance)
        w = X.new_full((N,), 1.0 / N) if weights is None else weights
        B = (X.shape[0] if X.dim() == 3 else   # models, where X or T is per model
             T.shape[0] if T.dim() == (3 if T.is_floating_point() else 2) else None)
        if w.shape != (N,) and not (w.dim() == 2 and w.shape[1] == N and
                                    (B is None or w.shape[0] == B)):
            raise ValueError(f"weights must be ({N},), or (B, {N}) per model with B as in X "
                             f"{tuple(X.shape)} and T {tuple(T.shape)}, got {tuple(w.shape)}")
        if importance is not None:
            if importance.dim() != 1 or (T.is_floating_point() and
                                         importance.shape[0] != T.shape[-1]):
                raise ValueError(f"importance must be (d_out,) = ({T.shape[-1]},), "
                                 f"got {tuple(importance.shape)}")
            if values_visible(importance) and not bool((importance >= 0).all()):
                raise ValueError("importance must be >= 0")
        for name, t in (("X", X), ("T", T), ("weights", w), ("importance", importance)):
            if t is not None and t.is_floating_point():
                check_finite(t, name)
        if weights is not None and values_visible(w):
            if not bool((w >= 0).all()):
                raise ValueError(f"weights must be >= 0 (a negative weight makes the loss "
                                 f"negative), got min {float(w.min())}")
            if not bool((w > 0).any(-1).all()):
                raise ValueError("weights are all 0" + (" for a model" if w.dim() == 2 else "") +
                                 ": the loss would be 0 for every theta")
        set_field = object.__setattr__
        set_field(self, "X", X.contiguous())
        set_field(self, "T", T.contiguous())
        set_field(self, "weights", weights)
        set_field(self, "importance", importance)
        set_field(self, "w", w.contiguous())
        set_field(self, "imp", importance.contiguous() if importance is not None
                  else X.new_ones(T.shape[-1]) if T.is_floating_point() else None)
        set_field(self, "_targets", {})
        set_field(self, "_frozen", True)

    def __setattr__(self, name: str, value) -> None:
        if getattr(self, "_frozen", False):
            init = {f.name for f in dataclasses.fields(self) if f.init}
            hint = f"data.replace({name}=...)" if name in init else "data.replace(...)"
            raise dataclasses.FrozenInstanceError(
                f"cannot assign Data.{name}: a Data is immutable (its checks, conversions and "
                f"caches are made once); build a new one with {hint} or Data(...)")
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        raise dataclasses.FrozenInstanceError(
            f"cannot delete Data.{name}: a Data is immutable; build a new one with "
            f"data.replace(...) or Data(...)")

    def replace(self, **changes) -> "Data":
        """A new Data with the given fields (X, T, weights, importance, loss, dtype, device)
        changed and the others as in this one, checked like any Data. ``weights=None`` and
        ``importance=None`` restore the defaults."""
        return dataclasses.replace(self, **changes)

    def models(self, rows: torch.Tensor) -> "Data":
        """The data of the networks ``rows`` ((k,) int64) of a batch: the per-model fields (X
        (B, N, d), T (B, N, ...), weights (B, N)) indexed by rows, the shared ones kept."""
        X, T, w = self.X, self.T, self.w
        per_model_T = T.dim() == (3 if T.is_floating_point() else 2)   # T as stored (post-init)
        return Data(X[rows] if X.dim() == 3 else X, T[rows] if per_model_T else T,
                    weights=w[rows] if w.dim() == 2 else w, importance=self.imp, loss=self.loss)

    def _float_targets(self, T: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
        """Float targets as (N, d_out) or (B, N, d_out); errors quote T's shape as passed."""
        shape = tuple(T.shape)
        one_output = T.dim() == 1 or (T.dim() == 2 and X.dim() == 3 and shape == X.shape[:2])
        if one_output and self.loss == "cross_entropy":
            raise TypeError(f"labels must be integers: loss='cross_entropy' takes integer class "
                            f"labels (N,) or (B, N) or float class probabilities (N, d_out) or "
                            f"(B, N, d_out); got {T.dtype} T of shape {shape} (pass T.long())")
        if one_output:
            T = T[..., None]
        if T.dim() not in (2, 3):
            raise ValueError(f"T must be (N,), (N, d_out), (B, N) or (B, N, d_out), got shape "
                             f"{shape}")
        if T.shape[-2] != X.shape[-2] or (T.dim() == X.dim() == 3 and T.shape[0] != X.shape[0]):
            raise ValueError(f"T {shape} does not match X {tuple(X.shape)} (N = {X.shape[-2]} "
                             f"samples{f', B = {X.shape[0]} models' if X.dim() == 3 else ''})")
        return T

    def _labels(self, T: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
        if T.dtype == torch.bool or T.is_complex():
            raise TypeError(f"T must be float targets or integer labels, got {T.dtype}")
        if self.loss != "cross_entropy":
            raise TypeError(f"integer targets are class labels, which only loss='cross_entropy' "
                            f"takes (this Data has loss={self.loss!r}); pass float targets")
        N = X.shape[-2]
        if T.dim() not in (1, 2) or T.shape[-1] != N or (
                T.dim() == 2 and X.dim() == 3 and T.shape[0] != X.shape[0]):
            raise ValueError(f"labels must be (N,) or (B, N) with N = {N} samples like X "
                             f"{tuple(X.shape)}, got {tuple(T.shape)}")
        if T.device != X.device:
            raise ValueError(f"T is on {T.device} but X is on {X.device}")
        if values_visible(T) and T.numel() and int(T.min()) < 0:
            raise ValueError("labels must be >= 0")
        return T.long()

    @property
    def N(self) -> int:
        return self.X.shape[-2]

    @property
    def has_labels(self) -> bool:
        """Whether T holds integer class labels."""
        return not self.T.is_floating_point()

    @property
    def loss_code(self) -> _core.Loss:
        return _core.Loss[self.loss]

    def targets(self, d_out: int) -> torch.Tensor:
        """Float targets (N, d_out) or (B, N, d_out) for a model with d_out outputs: T itself, or
        the labels one-hot (cached)."""
        if not self.has_labels:
            if self.T.shape[-1] != d_out:
                raise ValueError(f"T has {self.T.shape[-1]} outputs but the model gives {d_out}")
            return self.T
        if d_out in self._targets:
            return self._targets[d_out]
        if not values_visible(self.T):  # inside torch.compile: one-hot, neither checked nor cached
            return torch.nn.functional.one_hot(self.T, d_out).to(self.X.dtype)
        if self.T.numel() and int(self.T.max()) >= d_out:
            raise ValueError(f"labels must be < d_out = {d_out}, got {int(self.T.max())}")
        self._targets[d_out] = torch.nn.functional.one_hot(self.T, d_out).to(self.X.dtype)
        return self._targets[d_out]

    def importance_for(self, d_out: int) -> torch.Tensor:
        """The (d_out,) importance the kernels read for a model with d_out outputs."""
        if self.imp is not None:
            if self.imp.shape[0] != d_out:
                raise ValueError(f"importance has {self.imp.shape[0]} entries but the model gives "
                                 f"{d_out} outputs")
            return self.imp
        return self.X.new_ones(d_out)


def _is_float(x) -> bool:
    """Whether x holds floating values (lists: whether any leaf is a float)."""
    if isinstance(x, torch.Tensor):
        return x.is_floating_point()
    if hasattr(x, "dtype"):
        return getattr(x.dtype, "kind", "") == "f"
    if isinstance(x, (list, tuple)):
        return any(_is_float(v) for v in x)
    return isinstance(x, float)


def _float_field(x, name: str, dtype, device, like: Optional[torch.Tensor] = None):
    """A float field: lists and numbers straight to dtype (else like's, else torch's default
    float dtype) on device (else like's); tensors and numpy arrays moved to dtype and device when
    given."""
    if isinstance(x, (torch.Tensor, np.ndarray)):
        t = as_tensor(x, name)
        if device is not None or dtype is not None:
            t = t.to(device=device, dtype=dtype if t.is_floating_point() else None)
        return as_float_tensor(t, name)
    if dtype is None:
        dtype = like.dtype if like is not None else torch.get_default_dtype()
    t = as_tensor(x, name, dtype=dtype)
    return as_float_tensor(t.to(device if device is not None else
                                like.device if like is not None else "cpu"), name)
