"""What reluscope does to torch's CPU math at import: each of torch's unary functions that call
oneMKL's vector math library (VML) runs once, on one element of each float dtype, in the
importing thread.

Why: oneMKL picks each VML function's kernel on its first call. When that first call comes from
torch's intra-op threads at once (a CPU tensor of more than 32768 values), one thread's chunk
can run a low-accuracy kernel although torch asks for the high-accuracy one (pytorch/pytorch
#188791, #188792: oneMKL 2024.2, the version torch's x86 wheels link). On this project's CI host
(2 threads, torch 2.13) ``torch.exp`` of 65536 float64 values erred by up to 3.3e-9 relative in
the second thread's half in about one process in 20, ``torch.log`` by 2.3e-10, later calls
exact to an ulp (``bench/vml_first_call.py``). After one call on one element, made before any
parallel one, the choice is made and every later call gets the kernel asked for. reluscope's own
kernels never call torch's math; its Python layer, its references and its users' code do.
"""
import torch

#: The unary functions torch routes to VML on x86 CPUs (aten/src/ATen/cpu/vml.h), each taking
#: one value in its domain for both float dtypes.
VML_FUNCTIONS = (torch.acos, torch.asin, torch.atan, torch.cos, torch.erf, torch.erfc,
                 torch.erfinv, torch.exp, torch.log, torch.log10, torch.log2, torch.sin,
                 torch.sqrt, torch.tan, torch.tanh, torch.trunc)


def warm_vml() -> None:
    """Runs every function of ``VML_FUNCTIONS`` once on a one-element CPU tensor of float32 and
    of float64, so oneMKL has chosen their kernels before any parallel call: ~2 ms the first time
    (oneMKL choosing), 0.05 ms after."""
    for dtype in (torch.float32, torch.float64):
        x = torch.full((1,), 0.5, dtype=dtype, device="cpu")  # whatever the default device
        for fn in VML_FUNCTIONS:
            fn(x)


warm_vml()  # once, when reluscope is imported (its __init__ imports this module)
