"""What this installation of reluscope can do: versions, compiled backends, devices, threads."""
from __future__ import annotations

import torch

from ._ext import _core
from ._version import __version__


def config() -> dict:
    """Build and runtime configuration as a dict (what ``reluscope info`` prints)."""
    build = dict(_core.build_info())
    gpus = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] \
        if torch.cuda.is_available() else []
    return {
        "reluscope": __version__,
        "torch": torch.__version__,
        "cpu_backend": "thread pool" + (", OpenMP SIMD" if build["openmp_simd"] else ""),
        "cpu_threads": build["max_threads"],
        "cpu_vector_isa": build["cpu_isa"],
        "cuda_kernels_compiled": build["cuda"],
        "cuda_architectures": build["cuda_archs"] or None,
        "gpu_visible": bool(gpus),
        "gpus": gpus,
        "compiler": build["compiler"],
    }


def show_config() -> None:
    """Print :func:`config` as aligned lines."""
    cfg = config()
    width = max(map(len, cfg))
    for k, v in cfg.items():
        print(f"{k:<{width}}  {v}")
