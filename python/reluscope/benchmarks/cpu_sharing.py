"""The CPU pool on a shared machine: the same calls with the CPU idle, and with a busy-loop
process keeping one core busy, each with all of the pool's threads and with one thread
(RELUSCOPE_NUM_THREADS=1, in a child process per setting). ours = all threads on the busy CPU,
reference = one thread on the busy CPU: the ratio says whether the pool still beats one thread
when a core is taken (the target is no worse than 1/1.5)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import Iterator

from .harness import Result

_CHILD = r"""
import json, sys, time, statistics, torch, reluscope as rs
from reluscope import hessian
torch.set_num_threads(1)
reps = int(sys.argv[1])
tms, data = rs.TMS(2, 1, bias=False), rs.tms_quadrature(0.3)
theta = torch.rand(48, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
net = rs.MLP([2, 5, 1], "sigmoid")
th = net.init(1000, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
X = torch.randn(1681, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
big = rs.Data(X, torch.sin(X[:, :1]))
def small():
    for _ in range(100):
        hessian.value_and_grad(tms, theta, data)
def large():
    hessian.hvp(net, th, big, th)
out = {}
for name, fn in (("small_calls", small), ("hvp", large)):
    fn()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter(); fn(); ts.append(time.perf_counter() - t0)
    out[name] = statistics.median(ts)
print(json.dumps(out))
"""


def _measure(threads: int | None, reps: int) -> dict:
    env = dict(os.environ)
    env.pop("OMP_NUM_THREADS", None)
    if threads is None:
        env.pop("RELUSCOPE_NUM_THREADS", None)
    else:
        env["RELUSCOPE_NUM_THREADS"] = str(threads)
    r = subprocess.run([sys.executable, "-c", _CHILD, str(reps)], capture_output=True, text=True,
                       env=env, timeout=600)
    if r.returncode != 0:
        raise RuntimeError(f"cpu_sharing child failed: {r.stderr[-2000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def run(device: str, quick: bool) -> Iterator[Result]:
    if device != "cpu":
        return []
    from ..info import config

    reps = 5 if quick else 11
    idle = _measure(None, reps)
    busy_loop = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.5)
        busy = _measure(None, reps)
        busy_one = _measure(1, reps)
    finally:
        busy_loop.kill()
        busy_loop.wait()
    for name, label in (("small_calls", "100 value_and_grad calls, 48 TMS, N=289"),
                        ("hvp", "hvp sigmoid [2,5,1] B=1000 N=1681")):
        yield Result("cpu_sharing", f"{label}, one core busy", device, "float64",
                     {"threads": config()["cpu_threads"]}, busy[name], busy_one[name],
                     {"reference": "the same call with one thread, core busy",
                      "idle_s": idle[name], "slowdown_busy_vs_idle": busy[name] / idle[name],
                      "busy_vs_one_thread": busy[name] / busy_one[name]})
