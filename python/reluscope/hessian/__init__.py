"""Hessian engine: batched loss, gradient, Hessian-vector and Gauss-Newton-vector products, full
Hessians, spectra and training for B networks of one architecture at once (fused C++/CUDA
kernels).

Every call takes its data and loss from ``reluscope.Data`` (mse, cross_entropy, bce_with_logits;
sample weights w, output importance I), whose docstring states the loss convention. The Hessian
splits as H = H0 + H1: H0 = sum_n w_n J_n^T (d^2 l / dy^2) J_n is the Gauss-Newton part
(``gnvp``, ``gauss_newton``, ``GaussNewton``; positive semi-definite), H1 = H - H0 the residual
part (``Residual``). ``loss``, ``value_and_grad``, ``hvp`` and ``gnvp`` are differentiable
(``_autograd``); the rest raises when theta requires grad.

ReLU and leaky ReLU have sigma'' = 0 almost everywhere: ``hvp`` and ``dense_hessian`` give the Hessian of
the piecewise-smooth loss. Where a sample with non-zero weight sits exactly on a kink that moves
with theta the loss is not twice differentiable: the kernel flags it on every pass (``kinks``,
``Hessian(...).on_kink``) and Hessian products there come with a ``KinkWarning`` (they use
relu'(0) = 0, as torch autograd). A population whose kinks cross its support (TMS) has a Hessian
with a term on the kink lines that no dataset carries: ``reluscope.tms_population_hessian``.

Modules: ``products`` (one kernel pass per call), ``operators`` (the three curvatures as batched
linear operators), ``spectrum`` (eigenvalues, index, trace of any operator), ``training`` (fit,
Levenberg-Marquardt), ``critical`` (minimum / saddle / unresolved at an approximate critical point),
``finder`` (critical points of any index: Levenberg-Marquardt on grad L, gradient-flat flags),
``dynamics`` (full-batch gradient descent with per-network step sizes and exact sharpness),
``tangent_kernel`` (Jacobians of the outputs in theta, empirical NTKs and NTK-vector products),
``class_structure`` (Papyan's class / cross-class / within-class parts of the cross-entropy
Gauss-Newton matrix), ``density`` (stochastic Lanczos quadrature spectral densities),
``population`` (the TMS population Hessian).
"""
from ..data import Data
from .._fused import KinkWarning
from .class_structure import ClassDecomposition, class_decomposition
from .critical import CriticalPoints, classify
from .density import SpectralDensity, spectral_density
from .dynamics import GDTrace, gd
from .finder import CriticalPointSearch, critical_points, training_starts
from .tangent_kernel import jacobian, ntk, ntk_vp
from .explicit_operators import DenseOperator, FactorOperator
from .operators import HESSIAN_MAX_BYTES, BatchedLinearOperator, GaussNewton, Hessian, Residual
from .population import tms_population_hessian
from .products import (dense_hessian, gauss_newton, gnvp, hessian, hvp, kinks, loss,
                       value_and_grad)
from .spectrum import (DENSE_MAX_P, EigResult, IndexResult, eigvalsh, extreme_eigs, index,
                       resolution, trace)
from .training import FitHistory, fit, levenberg_marquardt

__all__ = ["BatchedLinearOperator", "ClassDecomposition", "CriticalPointSearch", "CriticalPoints",
           "DENSE_MAX_P", "Data", "DenseOperator", "EigResult", "FactorOperator", "FitHistory",
           "GDTrace", "GaussNewton", "HESSIAN_MAX_BYTES", "Hessian", "IndexResult", "KinkWarning",
           "Residual", "SpectralDensity", "class_decomposition", "classify", "critical_points",
           "dense_hessian", "eigvalsh", "extreme_eigs", "fit", "gauss_newton", "gd", "gnvp", "hessian", "hvp",
           "index", "jacobian", "kinks", "levenberg_marquardt", "loss", "ntk", "ntk_vp",
           "resolution", "spectral_density", "tms_population_hessian", "trace", "training_starts",
           "value_and_grad"]
