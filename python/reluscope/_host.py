"""Array work around the kernels that scales with the results (partial sums of a kernel call,
dense (B, P, P) matrices and their eigendecompositions), done on CPU tensors in numpy so that no
reluscope call path enters torch's intra-op thread pool for it.

Why: torch's CPU ops on more than a few ten thousand elements run in its OpenMP pool (and its
LAPACK, MKL, in OpenMP threads), and GNU OpenMP is not fork-safe: in the child of os.fork (the
default start method of multiprocessing on Linux) of a process that has used that pool, the next
parallel torch op waits forever for threads the child does not have. reluscope's own thread pool
(csrc/common/parallel.h) restarts in the child; numpy's elementwise ops run in the calling thread,
and its LAPACK (OpenBLAS) re-creates its threads after fork. CUDA tensors use torch (no CPU pool).

Every function returns torch tensors on the input's device, sharing memory with the numpy result
on the CPU (``torch.from_numpy``: no copy).
"""
from __future__ import annotations

import numpy as np
import torch

_NUMPY = {torch.float32: np.float32, torch.float64: np.float64}


def _cpu(*tensors: torch.Tensor) -> bool:
    """numpy can do the work: CPU tensors that autograd does not track (else torch does)."""
    return all(t.device.type == "cpu" and not (t.requires_grad and torch.is_grad_enabled())
               and not t.is_neg() and not t.is_conj() for t in tensors)


def zeros(shape: tuple, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """torch.zeros(shape) (numpy's zeros: calloc, no fill loop on the CPU)."""
    if torch.device(device).type == "cpu":
        return torch.from_numpy(np.zeros(shape, dtype=_NUMPY[dtype]))
    return torch.zeros(shape, dtype=dtype, device=device)


def eye(n: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """The (n, n) identity."""
    if torch.device(device).type == "cpu":
        return torch.from_numpy(np.eye(n, dtype=_NUMPY[dtype]))
    return torch.eye(n, dtype=dtype, device=device)


def sum_dim1(x: torch.Tensor) -> torch.Tensor:
    """x (B, C, L) summed over C in the order c = 0, 1, ..., C - 1 for every element (B, L)."""
    if _cpu(x):
        return torch.from_numpy(x.numpy().sum(1))
    return x.sum(1)


def cat(xs: list, dim: int) -> torch.Tensor:
    """torch.cat(xs, dim)."""
    if _cpu(*xs):
        return torch.from_numpy(np.concatenate([x.numpy() for x in xs], axis=dim))
    return torch.cat(xs, dim)


def symmetrised(A: torch.Tensor) -> torch.Tensor:
    """(A + A^T) / 2 over the last two dimensions (the same bits as torch's)."""
    if _cpu(A):
        a = A.numpy()
        return torch.from_numpy(0.5 * (a + a.swapaxes(-1, -2)))
    return 0.5 * (A + A.transpose(-1, -2))


def matmul(A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
    """A @ B (batched)."""
    if _cpu(A, B):
        return torch.from_numpy(np.matmul(A.numpy(), B.numpy()))
    return A @ B


def eigvalsh(A: torch.Tensor) -> torch.Tensor:
    """Eigenvalues (..., P), ascending, of symmetric A (..., P, P) (lower triangle read)."""
    if _cpu(A):
        return torch.from_numpy(np.linalg.eigvalsh(A.numpy()))
    return torch.linalg.eigvalsh(A)


def eigh(A: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Eigenvalues (..., P), ascending, and eigenvectors (..., P, P) (columns) of symmetric A."""
    if _cpu(A):
        w, v = np.linalg.eigh(A.numpy())
        return torch.from_numpy(w), torch.from_numpy(v)
    return torch.linalg.eigh(A)
