"""What reluscope does in the child of ``os.fork`` (multiprocessing's default start method on
Linux): torch's intra-op threads are set to 1 there.

Why: torch's CPU ops on more than a few ten thousand elements run in its intra-op pool (GNU
OpenMP) and its LAPACK / BLAS (MKL) in threads of their own, and neither survives fork: in the
child of a process that has used them, the next parallel torch op waits forever. reluscope's own
pool (csrc/common/parallel.h) is rebuilt in the child, but every call also runs torch ops around
its kernels (validation, partial sums, dense Hessians and their eigendecompositions, Lanczos, the
trainers). With one intra-op thread torch runs them in the calling thread, as torch's own
DataLoader workers do; reluscope's kernels stay multi-threaded (their thread count is
``RELUSCOPE_NUM_THREADS``, not torch's). The user's own torch ops in the child are single-threaded
too — where the parent had used torch's pool they would otherwise hang; ``torch.set_num_threads``
in the child sets it back.
"""
import os

import torch


def _single_threaded_torch() -> None:
    torch.set_num_threads(1)


# registered once, when reluscope is imported (its __init__ imports this module)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_single_threaded_torch)
