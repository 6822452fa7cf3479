"""What this installation of reluscope can do: versions, build variant, compiled backends, devices,
threads."""
from __future__ import annotations

from pathlib import Path

import torch

from ._ext import _core
from ._version import __version__


def distribution() -> str | None:
    """The installed distribution this package came from (``reluscope`` for the CPU build,
    ``reluscope-cu13`` for the CUDA 13 build), or None for a source checkout on the path."""
    from importlib import metadata

    here = Path(__file__).resolve().parent
    for name in metadata.packages_distributions().get("reluscope", []):
        located = Path(metadata.distribution(name).locate_file("reluscope")).resolve()
        if located == here:
            return name
    return None


def kernels_in_use(build: dict, gpus: list[str]) -> str:
    """One line saying which kernels run here, and why the CUDA ones do not when they are idle."""
    if not build["cuda"]:
        return "CPU (this build has no CUDA kernels)"
    if gpus:
        return f"CPU and CUDA ({len(gpus)} GPU{'s' if len(gpus) > 1 else ''})"
    return (f"CPU only: the {build['variant']} build's CUDA kernels are idle because torch sees "
            "no CUDA GPU (torch.cuda.is_available() is False)")


def config() -> dict:
    """Build and runtime configuration as a dict (what ``reluscope info`` prints)."""
    build = dict(_core.build_info())
    gpus = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] \
        if torch.cuda.is_available() else []
    return {
        "reluscope": __version__,
        "distribution": distribution() or "none (a source checkout on the path)",
        "variant": build["variant"],
        "kernels": kernels_in_use(build, gpus),
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
