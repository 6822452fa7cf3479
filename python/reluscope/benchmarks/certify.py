"""certify benchmark: the teacher-student students (MLP([2, w, 1], sigmoid, no bias), w = 4..7,
the seed's 1681-point grid) — one interval pass (``enclose`` at radius 1e-6: loss and Hessian over
the box, gradient at the centre) and a whole certificate (``critical_points``) for B students —
beside the mpmath reference (``reference.certify``) timed on one student and a 41-sample slice of
the grid and scaled by B x 1681 / 41 (its cost is linear in both; said in the JSON).

The students are random draws (the init the study trains from), not trained ones: a certificate
there takes every pass the engine can take (the float Hessian, max_tries Krawczyk radii, the
no-critical-point pass), the upper end of its cost; ``reproduce teacher-student`` reports the time
on the trained students."""
from __future__ import annotations

from typing import Iterator

import torch

from .. import certify
from ..certify._kernel import enclose
from ..experiments import teacher_student as ts
from ..reference import certify as reference
from .harness import Result, median_times

SLICE = 41  # samples of the reference's slice of the grid (its first column)


def run(device: str, quick: bool) -> Iterator[Result]:
    B = 50 if quick else 1000
    data = ts.data_of_teacher(device)
    small = type(data)(data.X[:SLICE].cpu(), data.T[:SLICE].cpu())
    scale = B * data.N / SLICE
    for width in (4, 5, 6, 7):
        net = ts.student(width)
        theta = net.init(B, generator=torch.Generator().manual_seed(width), scheme="normal",
                         dtype=torch.float64).to(device)
        one = theta[:1].cpu()
        radius = torch.full((B,), 1e-6, dtype=torch.float64, device=device)
        sizes = {"B": B, "N": data.N, "P": net.num_params}
        extra = {"reference": f"mpmath (prec 113) on 1 student x {SLICE} samples, scaled "
                              f"x{scale:.0f}", "students": "random init (not trained)"}

        t_ours, t_ref = median_times(
            [lambda: enclose(net, theta, data, radius),
             lambda: reference.enclose(net, one, small, 1e-6)], device,
            repeats=1 if not quick else 2, warmup=0)
        yield Result("certify", f"enclose r=1e-6, width {width}", device, "float64", sizes,
                     t_ours, t_ref * scale,
                     {**extra, "us_per_network_sample": 1e6 * t_ours / (B * data.N)})

        verdicts = {}

        def ours():
            c = certify.critical_points(net, theta, data)
            verdicts.update({certify.Verdict(v).name: int((c.verdict == v).sum())
                             for v in c.verdict.unique().tolist()})

        t_ours, t_ref = median_times(
            [ours, lambda: reference.critical_points(net, one, small)], device, repeats=1,
            warmup=0)
        yield Result("certify", f"critical_points, width {width}", device, "float64", sizes,
                     t_ours, t_ref * scale, {**extra, "verdicts": verdicts})
