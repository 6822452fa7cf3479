"""Smoke test of an installed reluscope wheel, run from outside the source tree:

    python packaging/smoke_test.py   (after `pip install reluscope-*.whl`)

It checks that the package is imported from site-packages, that its version is the installed
distribution's, that ``reluscope info`` runs (and, for a CUDA build on a machine without a GPU,
says that the CPU kernels run), and makes one call of each engine (forward, hessian,
hypercube, regions, slt) against its pure-torch reference, in float64 on the CPU. Exit status 0
when every check passes.
"""
import subprocess
import sys
import sysconfig
from importlib import metadata
from pathlib import Path

import torch

import reluscope as rs
from reluscope import hessian, hypercube, reference, regions, slt


def check(name: str, ok: bool, detail: str = "") -> None:
    print(f"{'ok  ' if ok else 'FAIL'} {name}{': ' + detail if detail else ''}", flush=True)
    if not ok:
        raise SystemExit(1)


def main() -> None:
    site = Path(sysconfig.get_paths()["purelib"]).resolve()
    where = Path(rs.__file__).resolve()
    check("imported from site-packages", site in where.parents, str(where))
    dist = rs.info.distribution()
    check("installed distribution", dist in ("reluscope", "reluscope-cu13"), str(dist))
    check("version is the distribution's", rs.__version__ == metadata.version(dist), rs.__version__)
    info = subprocess.run([str(Path(sys.executable).parent / "reluscope"), "info"],
                          capture_output=True, text=True, timeout=300)
    check("reluscope info", info.returncode == 0 and "variant" in info.stdout, info.stderr.strip())
    print(info.stdout, end="")
    cfg = rs.config()
    if cfg["variant"] != "cpu" and not torch.cuda.is_available():
        check("a CUDA build without a GPU says it runs the CPU kernels",
              cfg["kernels"].startswith("CPU only:") and f"kernels                {cfg['kernels']}"
              in info.stdout, cfg["kernels"])

    g = torch.Generator().manual_seed(0)
    dd = dict(dtype=torch.float64)
    net = rs.MLP([3, 6, 2], activation="tanh")
    theta = net.init(8, generator=g, **dd)
    X = torch.randn(40, 3, generator=g, **dd)
    y, y_ref = rs.forward(net, theta, X), reference.forward(net, theta, X)
    check("forward", torch.allclose(y, y_ref, rtol=1e-10, atol=1e-12))

    data = rs.Data(X, torch.randn(40, 2, generator=g, **dd))
    V = torch.randn(theta.shape, generator=g, **dd)
    hv, hv_ref = hessian.hvp(net, theta, data, V), reference.hessian.hvp(net, theta, data, V)
    check("hessian.hvp", torch.allclose(hv, hv_ref, rtol=1e-9, atol=1e-10))

    w = torch.randn(5, 10, generator=g, **dd)
    f, f_ref = hypercube.f(w, hypercube.Uniform(10)), reference.hypercube.f(w, hypercube.Uniform(10))
    check("hypercube.f", torch.allclose(f, f_ref, rtol=1e-10, atol=1e-12))

    relu = rs.MLP([2, 8, 8, 1])
    theta_r = relu.init(6, generator=g, **dd)
    a, b = torch.randn(4, 2, generator=g, **dd), torch.randn(4, 2, generator=g, **dd)
    c, c_ref = regions.count_1d(relu, theta_r, a, b), reference.regions.count_1d(relu, theta_r, a, b)
    check("regions.count_1d", torch.equal(c, c_ref), f"{c.sum().item()} pieces in all")

    opts = dict(chains=2, draws=20, step_size=1e-4, n_beta=10.0)
    est = slt.llc(net, theta, data, generator=torch.Generator().manual_seed(1), **opts)
    ref = reference.slt.llc(net, theta, data, generator=torch.Generator().manual_seed(1), **opts)
    check("slt.llc", torch.allclose(est.llc, ref.llc, rtol=1e-6, atol=1e-8))
    print("smoke test passed")


if __name__ == "__main__":
    main()
